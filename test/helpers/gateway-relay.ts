import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * An HTTP relay in front of a vault that a test can switch off: while `up` is false every request's
 * connection is destroyed without an answer, as when the vault's host is gone. Lets a gateway fetch
 * the JWKS through it first, then find the vault unreachable at the burn.
 */
export interface SwitchableRelay {
  url: string;
  up: boolean;
  /** While true, requests are held without an answer (a vault that is up but too slow). */
  hang: boolean;
  /** While set, requests whose path starts with it get 200 with this text instead of the vault's answer. */
  garbage?: { path: string; text: string };
  /** Paths of the requests that reached the vault through the relay (and of those answered with garbage, prefixed "garbage"). */
  relayed: string[];
  close(): Promise<void>;
}

export async function startSwitchableRelay(target: string): Promise<SwitchableRelay> {
  const relay: SwitchableRelay = { url: "", up: true, hang: false, relayed: [], close: async () => undefined };
  const server = http.createServer((req, res) => {
    if (!relay.up) return void req.socket.destroy();
    if (relay.hang) return;
    if (relay.garbage && req.url!.startsWith(relay.garbage.path)) {
      relay.relayed.push(`garbage ${req.method} ${req.url}`);
      res.writeHead(200, { "content-type": "application/json" });
      return void res.end(relay.garbage.text);
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      relay.relayed.push(`${req.method} ${req.url}`);
      try {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string" && k !== "host" && k !== "connection" && k !== "content-length") headers[k] = v;
        const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
        const answer = await fetch(`${target}${req.url}`, { method: req.method, headers, body, redirect: "manual" });
        const text = Buffer.from(await answer.arrayBuffer());
        res.writeHead(answer.status, { "content-type": answer.headers.get("content-type") ?? "application/octet-stream" });
        res.end(text);
      } catch {
        req.socket.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  relay.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  relay.close = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  return relay;
}

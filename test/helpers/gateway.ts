import http from "node:http";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { stringify } from "yaml";
import { gatewayConfigFrom, parseGatewayFile, type GatewayConfig } from "../../src/config/gateway-config.js";
import { startTokenGateway, type RunningTokenGateway } from "../../src/gateway/token/start.js";
import type { TokenVault } from "../../src/gateway/token/token-vault.js";

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface TestUpstream {
  url: string;
  port: number;
  seen: SeenRequest[];
  /** URLs of requests as their headers arrive, before their bodies (seen has them once complete). */
  arrived: string[];
  /** Requests still waiting on /hang. */
  hanging: http.ServerResponse[];
  close(): Promise<void>;
}

/**
 * A real HTTP upstream for gateway tests. It records every request it receives (method, URL,
 * headers, body) and answers:
 * - /hang/...: never (the response stays open until close);
 * - /large/<bytes>: that many bytes, streamed in 64 KiB chunks without a Content-Length;
 * - /status/<code>: an empty answer with that status;
 * - anything else: 200 JSON echoing method, URL and body, with a Set-Cookie and an X-Internal header
 *   the gateway must not pass back, and an ETag it may.
 */
export async function startTestUpstream(): Promise<TestUpstream> {
  const seen: SeenRequest[] = [];
  const arrived: string[] = [];
  const hanging: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    arrived.push(req.url!);
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      const path = req.url!.split("?")[0]!;
      if (path.startsWith("/hang")) return void hanging.push(res);
      const large = /^\/large\/(\d+)$/.exec(path);
      if (large) return void streamBytes(res, Number(large[1]));
      const status = /^\/status\/(\d+)$/.exec(path);
      if (status) {
        res.writeHead(Number(status[1]));
        return void res.end();
      }
      const answer = JSON.stringify({ method: req.method, url: req.url, body });
      res.writeHead(200, { "content-type": "application/json", "set-cookie": "upstream=secret", "x-internal": "do-not-leak", etag: '"v1"' });
      res.end(answer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    arrived,
    hanging,
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function streamBytes(res: http.ServerResponse, total: number) {
  res.writeHead(200, { "content-type": "application/octet-stream" });
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let sent = 0;
  const pump = () => {
    while (sent < total) {
      const part = chunk.subarray(0, Math.min(chunk.length, total - sent));
      sent += part.length;
      if (!res.write(part)) return void res.once("drain", pump);
    }
    res.end();
  };
  pump();
}

/** The routes file as text (YAML), parsed and loaded exactly as `countersign gateway --config` does. */
export function gatewayConfigOf(file: object | string, apiKey: string, env: Record<string, string> = {}): GatewayConfig {
  const text = typeof file === "string" ? file : stringify(file);
  const parsed = parseGatewayFile(text);
  return gatewayConfigFrom(parsed, { [parsed.vault.api_key_env]: apiKey, LOG_LEVEL: "silent", ...env }, { port: 0, host: "127.0.0.1" });
}

/** Starts the gateway on a loopback port with a silent logger (or the one given), reports retried quickly. */
export async function startTestGateway(config: GatewayConfig, opts: { vault?: TokenVault; log?: pino.Logger; reportDelaysMs?: number[] } = {}): Promise<RunningTokenGateway> {
  return startTokenGateway(config, { log: opts.log ?? pino({ level: "silent" }), reportDelaysMs: opts.reportDelaysMs ?? [50, 100, 200], vault: opts.vault });
}

/**
 * The SP's callback endpoint (reference §6), written from ../shared/reference/stepauth-protocol.md ONLY.
 * It MUST NOT import server modules (nothing under src/): it is the SP's side of the wire.
 *
 * The hub POSTs the signed decision envelope; the receiver verifies it (reference §5, through the given
 * verify function) and answers an ExecutionResult `{requestId, status: "success"|"error", error?}`.
 * Every delivery is recorded, verified or not, so a test can assert what the hub sent.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import type { Decision, Verified } from "./sp-client.js";

export interface Delivery { at: number; path: string; contentType: string | undefined; body: string; verified: Verified }
export interface CallbackReceiver {
  url: string;
  deliveries: Delivery[];
  /** The first verified decision for requestId, waiting up to timeoutMs. */
  decisionFor(requestId: string, timeoutMs?: number): Promise<Decision>;
  /** What the receiver answers for a verified decision; default `{requestId, status: "success"}`. */
  answer: (d: Decision) => { status: number; body: unknown };
  close(): Promise<void>;
}

const MAX_BODY = 1 << 20;

function readBody(req: IncomingMessage): Promise<string | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) resolve(null);
      else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", () => resolve(null));
  });
}

export async function startCallbackReceiver(verify: (body: string) => Verified): Promise<CallbackReceiver> {
  const deliveries: Delivery[] = [];
  const receiver: CallbackReceiver = {
    url: "",
    deliveries,
    answer: (d) => ({ status: 200, body: { requestId: d.requestId, status: "success" } }),
    async decisionFor(requestId, timeoutMs = 20_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const hit = deliveries.find((x) => x.verified.ok && x.verified.decision.requestId === requestId);
        if (hit && hit.verified.ok) return hit.verified.decision;
        if (Date.now() > until) {
          const seen = deliveries.map((x) => (x.verified.ok ? `${x.verified.decision.requestId}:${x.verified.decision.decision}` : `unverified(${x.verified.reason})`));
          throw new Error(`no verified decision for ${requestId} within ${timeoutMs} ms; deliveries: ${seen.join(", ") || "none"}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    close: async () => {},
  };
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    if (req.method !== "POST" || body === null) {
      res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ error: "malformed_request", message: "POST a decision envelope" }));
      return;
    }
    const verified = verify(body);
    deliveries.push({ at: Date.now(), path: req.url ?? "", contentType: req.headers["content-type"], body, verified });
    if (!verified.ok) {
      res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ error: "invalid_signature", message: verified.reason }));
      return;
    }
    const { status, body: out } = receiver.answer(verified.decision);
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(out));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/stepauth/callback`;
  receiver.close = () => new Promise((resolve) => server.close(() => resolve()));
  return receiver;
}

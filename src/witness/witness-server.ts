/**
 * The witness's HTTP face (C2SP tlog-witness "HTTP Interface"), on plain node:http: one write route and
 * two probes, so no framework is needed, and the request body is taken as raw bytes whatever its
 * Content-Type (clients of the spec send none in particular).
 *
 *   POST /add-checkpoint   the protocol (add-checkpoint.ts)
 *   GET  /healthz          {"status":"ok","name":…,"vkey":…}: liveness, and the witness's public key
 *   GET  /readyz           200 once listening
 *
 * Limits: bodies over MAX_ADD_CHECKPOINT_BYTES are refused with 413 (by Content-Length before reading,
 * or as soon as the stream passes it); slow clients meet request, header, keep-alive and idle timeouts;
 * connections are capped. Hostile input never reaches a 500: add-checkpoint.ts answers every refusal.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { ADD_CHECKPOINT_PATH, MAX_ADD_CHECKPOINT_BYTES } from "../ledger/core/tlog-witness.js";
import { VERSION } from "../version.js";
import type { Witness, WitnessAnswer } from "./add-checkpoint.js";

export interface WitnessServerLimits {
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  socketIdleTimeoutMs: number;
  maxConnections: number;
  maxBodyBytes: number;
}

export const DEFAULT_WITNESS_LIMITS: WitnessServerLimits = {
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  socketIdleTimeoutMs: 60_000,
  maxConnections: 512,
  maxBodyBytes: MAX_ADD_CHECKPOINT_BYTES,
};

const TEXT = "text/plain; charset=utf-8";

function send(res: http.ServerResponse, status: number, contentType: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(body), "cache-control": "no-store", "x-content-type-options": "nosniff", ...headers });
  res.end(body);
}

/** The body, or undefined once it is known to be over `max` (the caller answers 413). */
function readBody(req: http.IncomingMessage, max: number): Promise<Uint8Array | undefined> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > max) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let over = false;
    req.on("data", (chunk: Buffer) => {
      if (over) return;
      total += chunk.length;
      if (total > max) {
        over = true;
        chunks.length = 0;
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (!over) resolve(new Uint8Array(Buffer.concat(chunks)));
    });
    req.on("error", reject);
  });
}

export interface WitnessServer {
  readonly server: http.Server;
  /** http://host:port, once listening. */
  readonly url: string;
  close(): Promise<void>;
}

export async function startWitnessServer(args: { witness: Witness; host: string; port: number; log: Logger; limits?: Partial<WitnessServerLimits> }): Promise<WitnessServer> {
  const limits = { ...DEFAULT_WITNESS_LIMITS, ...args.limits };
  const { witness, log } = args;

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    // The request target as sent, up to any query: never through new URL(), which throws on targets such as
    // "//[" (an outsider's 500) and reads "//host/add-checkpoint" as a path on another host.
    const target = req.url ?? "";
    const query = target.indexOf("?");
    const pathname = query < 0 ? target : target.slice(0, query);
    if (pathname === "/healthz" || pathname === "/readyz") {
      if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, TEXT, "method not allowed\n", { allow: "GET, HEAD" });
      return send(res, 200, "application/json", JSON.stringify({ status: "ok", version: VERSION, name: witness.name, vkey: witness.vkey }));
    }
    if (pathname !== ADD_CHECKPOINT_PATH) return send(res, 404, TEXT, "not found\n");
    if (req.method !== "POST") return send(res, 405, TEXT, "method not allowed: add-checkpoint is a POST\n", { allow: "POST" });
    const body = await readBody(req, limits.maxBodyBytes);
    if (!body) {
      // Stop reading an oversized upload: answer, then close the connection.
      send(res, 413, TEXT, `request body over ${limits.maxBodyBytes} bytes\n`, { connection: "close" });
      req.socket.end();
      return;
    }
    const answer: WitnessAnswer = await witness.addCheckpoint(body);
    const line = { outcome: answer.outcome, status: answer.status, origin: answer.origin, old_size: answer.oldSize, size: answer.size, evidence: answer.evidence };
    if (answer.outcome === "fork" || answer.outcome === "bad_proof") log.warn(line, "refused a checkpoint the log signed: possible log misbehaviour");
    else log.info(line, "add-checkpoint");
    send(res, answer.status, answer.contentType, answer.body);
  };

  const server = http.createServer(
    {
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs),
      connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 4))),
    },
    (req, res) => {
      handle(req, res).catch((err: unknown) => {
        log.error({ err }, "witness request failed");
        if (!res.headersSent) send(res, 500, TEXT, "internal error\n");
        else res.destroy();
      });
    },
  );
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.maxConnections = limits.maxConnections;
  server.setTimeout(limits.socketIdleTimeoutMs);

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(args.port, args.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    server,
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

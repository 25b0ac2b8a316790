import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A server speaking the AWS JSON 1.1 protocol (POST /, `X-Amz-Target: <Service>.<Operation>`,
 * `application/x-amz-json-1.1` bodies, errors as `{"__type": ..., "message": ...}`), for the
 * protocol-level stand-ins of services that have no emulator on npm (KMS, Secrets Manager).
 *
 * Why a stand-in and not a mock: the real `@aws-sdk/client-*` builds, signs and sends the request
 * and parses the answer, so what is tested is the vault's use of the real client over HTTP.
 * The stand-ins do not check SigV4 signatures (any credentials pass), as emulators don't.
 */
export class AwsJsonError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export type AwsJsonHandler = (input: Record<string, unknown>) => unknown | Promise<unknown>;

export interface AwsJsonServer {
  url: string;
  /** Every call so far, by target (e.g. `TrentService.Sign`). */
  calls: string[];
  /** Added before each answer (a slow or remote service). */
  latencyMs: number;
  /** When set, every call answers this instead (an outage, a throttle): status and error type. */
  failWith?: { status: number; type: string; message?: string };
  /** When true, the socket is destroyed without an answer (a dropped connection). */
  dropConnections: boolean;
  close(): Promise<void>;
}

export async function startAwsJsonServer(handlers: Record<string, AwsJsonHandler>, opts: { port?: number } = {}): Promise<AwsJsonServer> {
  // The knobs are plain fields of the returned object: a test sets them, each request reads them.
  const state: AwsJsonServer = {
    url: "",
    calls: [],
    latencyMs: 0,
    failWith: undefined,
    dropConnections: false,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer(async (req, res) => {
    const target = String(req.headers["x-amz-target"] ?? "");
    state.calls.push(target);
    const body = await readBody(req);
    if (state.dropConnections) {
      req.socket.destroy();
      return;
    }
    if (state.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, state.latencyMs));
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { "content-type": "application/x-amz-json-1.1" });
      res.end(JSON.stringify(payload));
    };
    if (state.failWith) {
      send(state.failWith.status, { __type: state.failWith.type, message: state.failWith.message ?? "stand-in failure" });
      return;
    }
    const handler = handlers[target];
    if (req.method !== "POST" || !handler) {
      send(400, { __type: "UnknownOperationException", message: `unknown target ${target}` });
      return;
    }
    try {
      send(200, await handler(body.length ? (JSON.parse(body.toString("utf8")) as Record<string, unknown>) : {}));
    } catch (err) {
      if (err instanceof AwsJsonError) send(err.status, { __type: err.type, message: err.message });
      else send(500, { __type: "InternalFailure", message: String(err) });
    }
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  state.url = `http://127.0.0.1:${port}`;
  return state;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

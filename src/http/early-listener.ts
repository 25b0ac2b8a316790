import type http from "node:http";
import type { AddressInfo } from "node:net";
import type { ListenerLimits } from "../config/config.js";
import { errorCatalog } from "../errors.js";
import { createLimitedServer } from "./listener-limits.js";
import { clientErrorProblem } from "./problem.js";

export class PortInUseError extends Error {}

/**
 * The vault's listening socket, bound before the vault creates anything: a port that is taken fails
 * the start before a database, a tenant or a printed key exists. Until the app is attached, requests
 * get 503 not_ready (a load balancer keeps waiting) instead of hanging.
 */
export interface EarlyListener {
  server: http.Server;
  url: string;
  /** For Fastify's `serverFactory`: from now on requests go to the app. */
  attach(handler: http.RequestListener): http.Server;
  /** Stops accepting, closes idle keep-alive sockets, and resolves once every connection has ended. */
  close(): Promise<void>;
}

function notReady(_req: http.IncomingMessage, res: http.ServerResponse) {
  const { status, title } = errorCatalog.not_ready;
  const body = JSON.stringify({ type: "urn:countersign:error:not_ready", title, status, detail: "The vault is starting", code: "not_ready" });
  res.writeHead(status, { "content-type": "application/problem+json", "retry-after": "1", connection: "close" }).end(body);
}

export async function listenEarly(host: string, port: number, limits: ListenerLimits): Promise<EarlyListener> {
  let route: http.RequestListener = notReady;
  const server = createLimitedServer(limits, (req, res) => route(req, res));
  // Fastify adds its own clientError handler when attached; until then ours renders timeouts as 408.
  server.on("clientError", clientErrorProblem);
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(err.code === "EADDRINUSE" ? new PortInUseError(`VAULT_PORT: ${host}:${port} is already in use (EADDRINUSE); stop the other process or choose another port`) : err);
    };
    server.once("error", onError);
    server.listen({ host, port }, () => {
      server.off("error", onError);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
  let closed: Promise<void> | undefined;
  return {
    server,
    url: `http://${shown}:${address.port}`,
    attach(handler) {
      server.off("clientError", clientErrorProblem);
      route = handler;
      return server;
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      return closed;
    },
  };
}

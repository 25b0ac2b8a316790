import http from "node:http";
import type { ListenerLimits } from "../config/config.js";

/**
 * Socket-level limits shared by the vault and the judge service. Without them (Node and Fastify
 * default to 0, "no limit"), a client that sends `Content-Length: 1000` and 13 bytes holds its socket
 * forever, and about a thousand such clients exhaust the process's file descriptors for every tenant.
 *
 * - requestTimeout / headersTimeout: Node answers an expired request through `clientError` with
 *   ERR_HTTP_REQUEST_TIMEOUT, which src/http/problem.ts renders as 408 problem+json before closing.
 * - keepAliveTimeout: an idle keep-alive socket is closed after this long.
 * - maxConnections: sockets above the cap are closed on accept, so the open ones stay served.
 * - socket idle timeout: a socket that moves no bytes either way (a client that stopped reading) is closed.
 */
export function createLimitedServer(limits: ListenerLimits, handler: http.RequestListener): http.Server {
  const headersTimeout = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  const server = http.createServer(
    {
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout,
      // Node checks both timeouts on this interval (default 30 s), so a 1 s timeout could take 31 s to
      // fire. A quarter of the shorter one keeps the overshoot small; each check walks the open sockets.
      connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(headersTimeout / 4))),
    },
    handler,
  );
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.maxConnections = limits.maxConnections;
  // requestTimeout covers only receiving a request and keepAliveTimeout only the wait between requests:
  // a client that pipelines requests and never reads the answers stalls our writes with neither running.
  // With no 'timeout' listener, Node destroys a socket idle this long (between requests, keepAliveTimeout
  // still applies).
  server.setTimeout(limits.socketIdleTimeoutMs);
  return server;
}

/** For Fastify's `serverFactory`: every app of ours listens through the same limits. */
export function limitedServerFactory(limits: ListenerLimits) {
  return (handler: http.RequestListener) => createLimitedServer(limits, handler);
}

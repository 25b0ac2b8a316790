import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Logger } from "pino";
import type { GatewayConfig } from "../../config/gateway-config.js";
import { limitedServerFactory } from "../../http/listener-limits.js";
import { clientErrorProblem } from "../../http/problem.js";
import { VERSION } from "../../version.js";
import { bufferedBodies } from "./bodies.js";
import { ExecutionReporter } from "./execution-reporter.js";
import { GatewayMetrics } from "./gateway-metrics.js";
import { headerFilter } from "./headers.js";
import { GatewayError, problemCodeOf, sendGatewayProblem } from "./problems.js";
import { registerUpstream } from "./routes.js";
import type { TokenVault } from "./token-vault.js";
import { checkUpstream } from "./upstream.js";

const READY_CACHE_MS = 1_000;

export interface GatewayDeps {
  vault: TokenVault;
  log: Logger;
  /** Backoff between execution report attempts (tests shorten it). */
  reportDelaysMs?: number[];
}

export interface TokenGateway {
  app: FastifyInstance;
  metrics: GatewayMetrics;
  reporter: ExecutionReporter;
  /** Stops accepting, lets in-flight exchanges finish, then waits (bounded) for their reports. */
  close(): Promise<void>;
}

/** Builds the token gateway's app (it does not listen). Every upstream is checked here: a forbidden one stops the start. */
export async function buildTokenGateway(config: GatewayConfig, deps: GatewayDeps): Promise<TokenGateway> {
  const { file } = config;
  const metrics = new GatewayMetrics();
  const reporter = new ExecutionReporter((jti, report) => deps.vault.report(jti, report), { log: deps.log, metrics, delaysMs: deps.reportDelaysMs });
  const upstreams = await Promise.all(Object.entries(file.upstreams).map(([name, u]) => checkUpstream(name, u)));
  const limits = file.limits;
  const app = Fastify({
    // The vault's socket limits: slow or stalled clients cannot hold sockets open forever.
    serverFactory: limitedServerFactory({
      requestTimeoutMs: limits.request_timeout_ms,
      headersTimeoutMs: limits.headers_timeout_ms,
      keepAliveTimeoutMs: limits.keep_alive_timeout_ms,
      maxConnections: limits.max_connections,
      socketIdleTimeoutMs: limits.socket_idle_timeout_ms,
    }),
    clientErrorHandler: clientErrorProblem,
    loggerInstance: deps.log as FastifyBaseLogger,
    bodyLimit: file.max_body_bytes,
    // A GET route must not answer HEAD on its own: HEAD is a route of its own or refused.
    exposeHeadRoutes: false,
    frameworkErrors: (err, request, reply) => onError(err, request, reply),
  });
  // Bodies are bytes, whatever their type: forwarded exactly as sent, and parsed as JSON only where a
  // route takes arguments from it. Each route's scope says whether they are read first or streamed.
  bufferedBodies(app);
  app.setErrorHandler(onError);
  app.setNotFoundHandler((request, reply) => {
    metrics.requests.inc({ route: "unmatched", outcome: "route_not_found" });
    return sendGatewayProblem(reply, request, "route_not_found", `No gateway route for ${request.method} ${request.url.split("?")[0]}; unlisted paths are refused`);
  });
  // Pipelined requests are handled one after the other. Node hands them to the gateway at once: a
  // later one could otherwise win the burn, and its answer be lost behind the earlier one's while the
  // report says it was delivered. Each request on a connection waits for the one before it to end.
  const previousOn = new WeakMap<object, Promise<void>>();
  app.addHook("onRequest", async (request, reply) => {
    const socket = request.raw.socket;
    const previous = previousOn.get(socket);
    previousOn.set(socket, new Promise<void>((resolve) => reply.raw.once("close", () => resolve())));
    if (previous) await previous;
  });
  app.addHook("onSend", async (request, reply, payload) => {
    const label = (request.routeOptions.config as { gatewayRoute?: string }).gatewayRoute;
    const code = problemCodeOf(reply);
    if (label && code) metrics.requests.inc({ route: label, outcome: code });
    return payload;
  });

  app.get("/healthz", async () => ({ status: "ok", version: VERSION }));
  // One check at a time, its answer reused for a second: /readyz is public and must not let a
  // client turn each of its requests into a JWKS fetch at the vault.
  let readiness: { at: number; why: Promise<string | null> } | undefined;
  const readyCheck = () => {
    if (!readiness || Date.now() - readiness.at > READY_CACHE_MS) readiness = { at: Date.now(), why: deps.vault.unready() };
    return readiness.why;
  };
  app.get("/readyz", async (request, reply) => {
    const why = await readyCheck();
    if (why) return sendGatewayProblem(reply, request, "not_ready", why);
    return { status: "ready", routes: file.routes.length, pass_through: file.pass_through.length, upstreams: Object.keys(file.upstreams) };
  });
  app.get("/metrics", async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  const headers = headerFilter(file.headers);
  for (const upstream of upstreams) await registerUpstream(app, upstream, { file, vault: deps.vault, headers, metrics, reporter });
  await app.ready();
  return {
    app,
    metrics,
    reporter,
    async close() {
      await app.close();
      await reporter.drain(file.vault.timeout_ms * 2);
    },
  };

  function onError(err: FastifyError | GatewayError, request: FastifyRequest, reply: FastifyReply) {
    if (err instanceof GatewayError) {
      // The client gets fixed text for a 5xx; the reason (never a token: SDK messages do not carry one) goes to the log.
      if (err.status >= 500) request.log.warn({ code: err.code, reason: err.cause instanceof Error ? err.cause.message : err.message }, "request refused: the vault failed");
      return sendGatewayProblem(reply, request, err.code, err.message);
    }
    const fastify = err as FastifyError;
    if (fastify.code === "FST_ERR_CTP_BODY_TOO_LARGE" || fastify.statusCode === 413) {
      return sendGatewayProblem(reply, request, "payload_too_large", "The body is larger than this route's limit; nothing was burned or forwarded");
    }
    if (fastify.statusCode !== undefined && fastify.statusCode >= 400 && fastify.statusCode < 500) return sendGatewayProblem(reply, request, "bad_request", fastify.message);
    request.log.error({ err }, "gateway error");
    return sendGatewayProblem(reply, request, "internal_error", "The gateway could not complete this request");
  }

}

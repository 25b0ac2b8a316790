import { performance } from "node:perf_hooks";
import replyFrom from "@fastify/reply-from";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { GatewayFile, GatewayPassThrough, GatewayRoute } from "../../config/gateway-config.js";
import { admit, authenticate } from "./admission.js";
import { bufferedBodies, streamedBodies } from "./bodies.js";
import type { ExecutionReporter } from "./execution-reporter.js";
import { forward, type ForwardTarget } from "./forward.js";
import type { GatewayMetrics } from "./gateway-metrics.js";
import type { HeaderFilter } from "./headers.js";
import { GatewayError } from "./problems.js";
import type { TokenVault } from "./token-vault.js";
import type { CheckedUpstream } from "./upstream.js";

export interface RouteDeps {
  file: GatewayFile;
  vault: TokenVault;
  headers: HeaderFilter;
  metrics: GatewayMetrics;
  reporter: ExecutionReporter;
}

/**
 * One encapsulated scope per upstream, each with its own reply-from and undici agent: the agent's
 * connections use the upstream's checked, pinned lookup, verify TLS certificates (reply-from's
 * default would not), and follow no redirects (undici's request never does; a 3xx goes back to the
 * client as the upstream sent it).
 */
export async function registerUpstream(app: FastifyInstance, upstream: CheckedUpstream, deps: RouteDeps) {
  const config = deps.file.upstreams[upstream.name]!;
  await app.register(async (scope) => {
    await scope.register(replyFrom, {
      base: upstream.url.origin,
      disableRequestLogging: true,
      undici: {
        connections: config.max_connections,
        connectTimeout: config.timeout_ms,
        headersTimeout: config.timeout_ms,
        bodyTimeout: config.timeout_ms,
        // reply-from turns certificate checks off unless told otherwise; `connect` is applied last, so this wins.
        connect: { lookup: upstream.lookup, rejectUnauthorized: true },
      },
    });
    const routes = deps.file.routes.filter((r) => r.upstream === upstream.name);
    // Bodies the binding covers are read before the burn; the others stream through (bodies.ts).
    await scope.register(async (buffered) => {
      bufferedBodies(buffered);
      for (const route of routes.filter((r) => bindsBody(r))) tokenRoute(buffered, route, upstream, deps);
    });
    await scope.register(async (streamed) => {
      streamedBodies(streamed);
      for (const route of routes.filter((r) => !bindsBody(r))) tokenRoute(streamed, route, upstream, deps);
      for (const route of deps.file.pass_through.filter((r) => r.upstream === upstream.name)) passThroughRoute(streamed, route, upstream, deps);
    });
  });
}

const authenticated = new WeakMap<FastifyRequest, Awaited<ReturnType<typeof authenticate>>>();
const arrivals = new WeakMap<FastifyRequest, number>();

function tokenRoute(scope: FastifyInstance, route: GatewayRoute, upstream: CheckedUpstream, deps: RouteDeps) {
  const label = `${route.method} ${route.path}`;
  scope.route({
    method: route.method,
    url: route.path,
    bodyLimit: route.max_body_bytes ?? deps.file.max_body_bytes,
    config: { gatewayRoute: label },
    // Before the body is read (bodies.ts): without a valid token for this tool, nothing is buffered.
    onRequest: async (request) => {
      arrivals.set(request, performance.now());
      if (route.args.body === false && carriesBody(request)) {
        throw new GatewayError("arguments_invalid", "this route binds no body: a body would reach the upstream without approval (the routes file can say `body: unbound`)");
      }
      authenticated.set(request, await authenticate(request, route, deps.vault));
    },
    handler: async (request, reply) => {
      const arrived = arrivals.get(request) ?? performance.now();
      // Worked out before the burn: a path the upstream would refuse must not cost the token.
      const target = targetOf(request, route, upstream, deps.file);
      const claims = await admit(request, route, deps.vault, authenticated.get(request)!);
      deps.metrics.admission.observe({ route: label }, (performance.now() - arrived) / 1000);
      return forward(request, reply, target, deps, { jti: claims.jti, reporter: deps.reporter });
    },
  });
}

const bindsBody = (route: GatewayRoute) => route.args.body !== false && route.args.body !== "unbound";

/** A request with a body: a positive Content-Length, or a chunked one (whose length is not known yet). */
function carriesBody(request: FastifyRequest): boolean {
  const length = request.headers["content-length"];
  return request.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}

function passThroughRoute(scope: FastifyInstance, route: GatewayPassThrough, upstream: CheckedUpstream, deps: RouteDeps) {
  const label = `${route.method} ${route.path}`;
  scope.route({
    method: route.method,
    url: route.path,
    bodyLimit: route.max_body_bytes ?? deps.file.max_body_bytes,
    config: { gatewayRoute: label },
    handler: async (request, reply) => {
      const target = targetOf(request, route, upstream, deps.file);
      return forward(request, reply, target, deps);
    },
  });
}

function targetOf(request: FastifyRequest, route: GatewayRoute | GatewayPassThrough, upstream: CheckedUpstream, file: GatewayFile): ForwardTarget {
  const params = (request.params ?? {}) as Record<string, string>;
  // The upstream path is built from the route's pattern and the decoded parameters (the values the
  // binding covers), never copied from the request line: what the upstream reads is what was hashed,
  // whatever spelling (%65, a%5C.., an absolute-form target) the client used to match the route.
  const pattern = route.upstream_path ?? route.path;
  const path = pattern.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, (_m, name: string) => encodeURIComponent(safeSegment(name, params[name] ?? "")));
  const base = upstream.url.pathname.replace(/\/+$/, "");
  return {
    route: `${route.method} ${route.path}`,
    upstreamName: upstream.name,
    upstreamHost: upstream.url.host,
    path: `${base}${path}`,
    // A token route's query was checked to hold only bound parameters (arguments.ts) and goes up
    // re-encoded from the parsed values; a pass-through's goes as the client sent it.
    query: "tool" in route ? canonicalQuery(request.query as Record<string, string | string[]>) : rawQuery(request.url),
    timeoutMs: route.timeout_ms ?? file.upstreams[upstream.name]!.timeout_ms,
  };
}

/**
 * A path parameter becomes one segment upstream. Values an upstream may split or normalise into other
 * segments ("a/b", "a\\..\\admin", "..") or truncate (NUL, control characters) are refused before the burn.
 */
function safeSegment(name: string, value: string): string {
  if (value === "." || value === ".." || /[/\\\u0000-\u001f\u007f]/.test(value)) {
    throw new GatewayError("bad_request", `path parameter ${name} must not be . or .., or contain /, \\ or control characters`);
  }
  return value;
}

function canonicalQuery(query: Record<string, string | string[]>): string {
  const out = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) for (const v of Array.isArray(value) ? value : [value]) out.append(name, v);
  return out.toString();
}

function rawQuery(url: string): string {
  const at = url.indexOf("?");
  return at < 0 ? "" : url.slice(at + 1);
}

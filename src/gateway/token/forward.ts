import { createHash } from "node:crypto";
import { Transform, pipeline } from "node:stream";
import { performance } from "node:perf_hooks";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { ExecutionOutcome, ExecutionReporter } from "./execution-reporter.js";
import type { GatewayMetrics } from "./gateway-metrics.js";
import type { HeaderFilter } from "./headers.js";
import { sendGatewayProblem, type GatewayCode } from "./problems.js";
import { UpstreamForbiddenError } from "./upstream.js";

export interface ForwardTarget {
  /** The route's label for metrics ("POST /refunds/:order_id"). */
  route: string;
  upstreamName: string;
  upstreamHost: string;
  /** The path on the upstream, and the query string to send with it (without "?"; may be empty). */
  path: string;
  query: string;
  timeoutMs: number;
}

/** For a burned token: where to send the execution report once the exchange is over. */
export interface Burn {
  jti: string;
  reporter: ExecutionReporter;
}

/**
 * Forwards one request, once, through @fastify/reply-from (undici, with the upstream's pinned lookup):
 * no retries (reply-from would retry an idempotent request on a 503 by default), only allow-listed
 * headers, and the response body streamed to the client through a hash. With a burn, the execution
 * report is sent after the response has ended (or failed): the client is never kept waiting for it.
 */
export function forward(request: FastifyRequest, reply: FastifyReply, target: ForwardTarget, deps: { headers: HeaderFilter; metrics: GatewayMetrics }, burn?: Burn) {
  const started = performance.now();
  const durationMs = () => Math.round(performance.now() - started);
  let status: number | null = null;
  let failure: { code: GatewayCode; detail: string; answered?: boolean } | undefined;
  let digest: string | undefined;
  let reported = false;

  const finish = () => {
    if (reported) return;
    reported = true;
    const statusClass = status === null ? "none" : `${Math.floor(status / 100)}xx`;
    deps.metrics.upstream.observe({ upstream: target.upstreamName, status_class: statusClass }, (performance.now() - started) / 1000);
    // A failure answered with a problem is counted by its code when sent (server.ts); the rest here.
    if (!failure?.answered) {
      const outcome = failure ? failure.code : status === null ? "client_closed" : burn ? "forwarded" : "passed_through";
      deps.metrics.requests.inc({ route: target.route, outcome });
    }
    if (!burn) return;
    const report: ExecutionOutcome = failure
      ? { status, outcome: "error", duration_ms: durationMs(), detail: failure.detail }
      : status === null
        ? { status, outcome: "unknown", duration_ms: durationMs(), detail: "the client went away before the upstream answered" }
        : digest === undefined || !reply.raw.writableFinished
          ? { status, outcome: "unknown", duration_ms: durationMs(), detail: "the upstream answered, but its response body was not relayed in full" }
          : { status, outcome: status < 400 ? "succeeded" : "failed", duration_ms: durationMs(), response_sha256: digest };
    burn.reporter.submit(burn.jti, report);
  };
  // 'close' comes last in every case: after the response's last byte, after a failure, and when the
  // client goes away (reply-from then drops the upstream answer without calling onResponse).
  reply.raw.once("close", finish);

  const bodyless = request.method === "GET" || request.method === "HEAD";
  const body = request.body instanceof Buffer && request.body.length > 0 && !bodyless ? request.body : undefined;
  // A streamed body (bodies.ts) is the request itself: reply-from pipes it, and its declared length goes along.
  const streamedLength = request.body === request.raw && !bodyless ? request.headers["content-length"] : undefined;
  return reply.from(target.path, {
    ...(body ? { body, contentType: request.headers["content-type"] ?? "application/octet-stream" } : {}),
    ...(bodyless && request.body !== undefined ? { body: null } : {}),
    timeout: target.timeoutMs,
    // Always ours: reply-from would otherwise append the request's own query string.
    queryString: () => target.query,
    retryDelay: () => null,
    rewriteRequestHeaders: (req) => ({ ...deps.headers.request(req.headers, target.upstreamHost), ...(streamedLength ? { "content-length": streamedLength } : {}) }),
    rewriteHeaders: (headers) => deps.headers.response(headers as Record<string, string | string[] | undefined>),
    onResponse: (_request, reply, res) => {
      status = res.statusCode;
      const hash = createHash("sha256");
      const hashing = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          hash.update(chunk);
          callback(null, chunk);
        },
        flush(callback) {
          digest = hash.digest("hex");
          callback();
        },
      });
      const stream = res.stream as NodeJS.ReadableStream;
      stream.once("error", (err: Error & { code?: string }) => {
        // A client that left tears the pipeline down from its end: that is not the upstream failing.
        if (err.code === "ERR_STREAM_PREMATURE_CLOSE" || reply.raw.destroyed) return;
        failure = {
          code: err.code === "UND_ERR_BODY_TIMEOUT" ? "upstream_timeout" : "upstream_unavailable",
          detail: err.code === "UND_ERR_BODY_TIMEOUT" ? `the upstream's response body stalled for ${target.timeoutMs} ms` : "the upstream broke off its response body",
        };
      });
      // pipeline, not pipe: when the client goes away mid-body, the upstream's body is destroyed too
      // instead of holding its connection until the body timeout.
      pipeline(stream, hashing, () => undefined);
      reply.send(hashing);
    },
    onError: (errorReply, { error }) => {
      failure = { ...classify(error as Error & { code?: string; cause?: unknown }, target), answered: true };
      request.log.warn({ upstream: target.upstreamName, code: failure.code }, failure.detail);
      void sendGatewayProblem(errorReply as unknown as FastifyReply, request, failure.code, failure.detail);
    },
  });
}

function classify(error: Error & { code?: string; cause?: unknown }, target: ForwardTarget): { code: GatewayCode; detail: string } {
  const cause = error.cause as (Error & { code?: string }) | undefined;
  const codes = [error.code, cause?.code];
  if (cause instanceof UpstreamForbiddenError || error instanceof UpstreamForbiddenError) return { code: "upstream_forbidden", detail: `upstream ${target.upstreamName}: its address is not allowed` };
  if (codes.some((c) => c === "FST_REPLY_FROM_GATEWAY_TIMEOUT" || c === "UND_ERR_HEADERS_TIMEOUT" || c === "UND_ERR_CONNECT_TIMEOUT" || c === "FST_REPLY_FROM_TIMEOUT")) {
    return { code: "upstream_timeout", detail: `upstream ${target.upstreamName} did not answer within ${target.timeoutMs} ms` };
  }
  return { code: "upstream_unavailable", detail: `upstream ${target.upstreamName} could not be reached (${cause?.code ?? error.code ?? "error"})` };
}

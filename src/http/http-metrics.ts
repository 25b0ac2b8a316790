import type { FastifyInstance } from "fastify";
import { Histogram } from "prom-client";
import { metricsRegistry } from "../metrics.js";

/**
 * Every answer's route, method, status and latency. The route is the registered pattern
 * (`/clearance-status/:request_id`), never the raw URL, so ids do not multiply the series; a request
 * no route matched counts as `unmatched`.
 */
const httpRequestDuration = new Histogram({
  name: "countersign_http_request_duration_seconds",
  help: "HTTP requests answered by the vault, by method, route pattern and status code, with their latency",
  labelNames: ["method", "route", "status_code"],
  buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  registers: [metricsRegistry],
});

export function recordHttpMetrics(app: FastifyInstance): void {
  app.addHook("onResponse", async (request, reply) => {
    httpRequestDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? "unmatched", status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });
}

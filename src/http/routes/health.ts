import type { FastifyInstance } from "fastify";
import type { AppContext } from "../app-context.js";
import { metricsRegistry } from "../../judge/metrics.js";
import { queueMetrics } from "../../requests/queue-metrics.js";
import { sendProblem } from "../problem.js";

export function healthRoutes(app: FastifyInstance, ctx: AppContext) {
  app.get("/healthz", async () => ({ status: "ok" }));

  // Ready when the control database answers; reports queue depth for operators.
  app.get("/readyz", async (request, reply) => {
    try {
      await ctx.control.query("SELECT 1");
    } catch {
      return sendProblem(reply, request, "not_ready", "Control database is unreachable");
    }
    const queue = ctx.queue.status();
    // Degraded parts are named, not refused: decisions fail closed on their own, and anchoring and
    // notifications catch up later.
    const ledger = ctx.ledgerLoop.status();
    const degraded = [
      ...(queue.degraded ? [`queue: ${queue.degraded}`] : []),
      ...[ctx.signer, ctx.ledgerSigner].flatMap((signer) => {
        const why = signer.degraded?.();
        return why ? [`signing: ${why}`] : [];
      }),
      ...Object.entries(ledger.tenants)
        .filter(([, t]) => t.last_export_error)
        .map(([tenantId]) => `anchoring of tenant ${tenantId} failed (see ledger.tenants)`),
    ];
    return {
      status: "ready",
      ...(degraded.length > 0 ? { degraded } : {}),
      queue_depth: ctx.queue.depth(),
      queue,
      judge: ctx.judgeKind,
      judge_failures: ctx.judge.failures,
      embedding_model: ctx.embeddings.model,
      signing_kid: ctx.signer.kid,
      ledger_kid: ctx.ledgerSigner.kid,
      // Anchoring lags are reported, never a reason to refuse traffic: decisions do not wait for S3.
      ledger,
    };
  });

  // Prometheus text format: judge fail-closed counts by reason, plus process metrics.
  app.get("/metrics", async (_request, reply) => {
    const queue = ctx.queue.status();
    queueMetrics.depth.set({ scope: "local" }, queue.local_depth);
    if (queue.approximate_depth !== undefined) queueMetrics.depth.set({ scope: "shared" }, queue.approximate_depth);
    queueMetrics.inFlight.set(queue.in_flight);
    reply.type(metricsRegistry.contentType);
    return metricsRegistry.metrics();
  });
}

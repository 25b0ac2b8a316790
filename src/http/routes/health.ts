import type { FastifyInstance } from "fastify";
import type { AppContext } from "../app-context.js";
import { metricsRegistry } from "../../judge/metrics.js";
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
    return {
      status: "ready",
      queue_depth: ctx.queue.depth(),
      judge: ctx.judgeKind,
      judge_failures: ctx.judge.failures,
      embedding_model: ctx.embeddings.model,
      signing_kid: ctx.signer.kid,
      ledger_kid: ctx.ledgerSigner.kid,
      // Anchoring lags are reported, never a reason to refuse traffic: decisions do not wait for S3.
      ledger: ctx.ledgerLoop.status(),
    };
  });

  // Prometheus text format: judge fail-closed counts by reason, plus process metrics.
  app.get("/metrics", async (_request, reply) => {
    reply.type(metricsRegistry.contentType);
    return metricsRegistry.metrics();
  });
}

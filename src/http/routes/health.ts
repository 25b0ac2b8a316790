import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { AppContext } from "../app-context.js";
import { metricsRegistry } from "../../judge/metrics.js";
import { queueMetrics } from "../../requests/queue-metrics.js";
import { VERSION } from "../../version.js";
import { healthSchema, readinessSchema } from "../openapi/schemas/health.js";
import { documented } from "../openapi/route-doc.js";
import { sendProblem } from "../problem.js";
import { healthExamples } from "../openapi/examples/health.js";

export function healthRoutes(app: FastifyInstance, ctx: AppContext) {
  app.get(
    "/healthz",
    {
      config: documented({
        summary: "Liveness",
        description: "Answers while the process serves HTTP, with the vault's version.",
        tags: ["service"],
        auth: "none",
        responses: { 200: { description: "The process is up.", schema: healthSchema, example: { status: "ok", version: "0.1.0" } } },
      }),
    },
    async () => ({ status: "ok", version: VERSION }),
  );

  // Ready when the control database answers; reports queue depth for operators.
  app.get(
    "/readyz",
    {
      config: documented({
        summary: "Readiness, queue and ledger status",
        description:
          "`degraded` (present only when something is) lists what does not work right now: the SQS queue, a KMS key whose last " +
          "signature failed (until one succeeds), or a tenant's anchoring; each entry names the part and the error's kind, never the " +
          "service's own message. Neither makes the vault unready: decisions fail closed on their own, and anchoring and " +
          "notifications catch up. `queue` has `kind` (`memory` or `sqs`), `local_depth`, `in_flight`, and with SQS " +
          "`approximate_depth` and `lag_ms`; `ledger` has `interval_ms`, `anchor`, `last_tick_at` and per tenant `tree_size`, " +
          "`unsequenced_events`, `unexported_checkpoints`, `anchor_lag_seconds`, `last_export_error`, and with witnesses " +
          "(`ledger.witnesses`) `witnessing`: the newest checkpoint's status, cosignatures against the quorum and last error.",
        tags: ["service"],
        auth: "none",
        responses: { 200: { description: "Ready.", schema: readinessSchema, example: healthExamples.readiness } },
        errors: ["not_ready"],
      }),
    },
    async (request, reply) => {
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
        ...Object.entries(ledger.tenants)
          .filter(([, t]) => t.witnessing?.status === "unwitnessed")
          .map(([tenantId]) => `witnessing of tenant ${tenantId} is below the quorum (see ledger.tenants)`),
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
    },
  );

  // Prometheus text format: judge fail-closed counts by reason, plus process metrics.
  app.get(
    "/metrics",
    {
      config: documented({
        summary: "Prometheus metrics",
        description: METRICS_DESCRIPTION,
        tags: ["service"],
        auth: "none",
        responses: { 200: { description: "Prometheus text exposition format 0.0.4.", mediaType: "text/plain; version=0.0.4; charset=utf-8", schema: z.string(), example: healthExamples.metrics } },
      }),
    },
    async (_request, reply) => {
      const queue = ctx.queue.status();
      queueMetrics.depth.set({ scope: "local" }, queue.local_depth);
      if (queue.approximate_depth !== undefined) queueMetrics.depth.set({ scope: "shared" }, queue.approximate_depth);
      queueMetrics.inFlight.set(queue.in_flight);
      reply.type(metricsRegistry.contentType);
      return metricsRegistry.metrics();
    },
  );
}

const METRICS_DESCRIPTION =
  "`countersign_http_request_duration_seconds{method,route,status_code}` (a histogram per route pattern, so `_count` counts " +
  "answers), `countersign_decisions_total{status,reason_code}` (committed decisions: the judge's, and the later human, expiry " +
  "and cancel ones), `countersign_clearance_decision_seconds` (arrival to the judge's committed decision), " +
  "`countersign_tokens_issued_total{source}` (`judge`, `review`, `mint`), `countersign_tokens_consumed_total`, the clearance " +
  "queue (`countersign_clearance_queue_depth{scope}`, `_in_flight`, `_lag_seconds`, " +
  "`countersign_clearance_sqs_errors_total{operation}`, `countersign_clearance_sqs_poison_total`), " +
  "`countersign_kms_signatures_total{kid,outcome}`, `countersign_judge_step_seconds{step}` (`conditions`, `retrieval`, `llm`), " +
  "`countersign_judge_fail_closed_total{reason}`, the ledger metrics (see [The ledger](ledger.md#the-tamper-evident-ledger)), " +
  "witness cosigning (`countersign_ledger_witness_cosignatures_total{witness}`, `_refusals_total{witness,reason}`, " +
  "`_unavailable_total{witness}`, `_lag_seconds{tenant}`; see [Witnesses](witness.md#cosigning-a-vaults-checkpoints)), " +
  "group commit (`countersign_decision_batch_size`, a histogram of units per commit, and " +
  "`countersign_decision_batch_fallbacks_total`, batches that fell back to one commit per unit) and Node process metrics. No secrets.";

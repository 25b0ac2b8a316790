import { Counter, Gauge } from "prom-client";
import { metricsRegistry } from "../metrics.js";

export const outboxMetrics = {
  pending: new Gauge({
    name: "countersign_outbox_pending",
    help: "Outbox entries waiting for delivery (or a retry), over every tenant, as last counted by this process",
    labelNames: ["kind"] as const,
    registers: [metricsRegistry],
  }),
  dead: new Counter({
    name: "countersign_outbox_dead_total",
    help: "Outbox entries this process gave up on after the maximum attempts (listed by GET /outbox?status=dead)",
    labelNames: ["kind"] as const,
    registers: [metricsRegistry],
  }),
  delivered: new Counter({
    name: "countersign_outbox_delivered_total",
    help: "Outbox entries delivered by this process",
    labelNames: ["kind"] as const,
    registers: [metricsRegistry],
  }),
  failedAttempts: new Counter({
    name: "countersign_outbox_failed_attempts_total",
    help: "Delivery attempts that failed and were scheduled for a retry or given up",
    labelNames: ["kind"] as const,
    registers: [metricsRegistry],
  }),
};

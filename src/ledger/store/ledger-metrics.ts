import { Counter, Gauge } from "prom-client";
import { metricsRegistry } from "../../metrics.js";

export const ledgerMetrics = {
  sequenced: new Counter({
    name: "countersign_ledger_events_sequenced_total",
    help: "Ledger events given a leaf index by this process",
    registers: [metricsRegistry],
  }),
  checkpoints: new Counter({
    name: "countersign_ledger_checkpoints_total",
    help: "Checkpoints signed by this process",
    registers: [metricsRegistry],
  }),
  exportFailures: new Counter({
    name: "countersign_ledger_anchor_export_failures_total",
    help: "Checkpoint exports to the anchor store that failed (each is retried with backoff)",
    registers: [metricsRegistry],
  }),
  anchorLag: new Gauge({
    name: "countersign_ledger_anchor_lag_seconds",
    help: "Age of the oldest checkpoint not yet exported to the anchor store, per tenant (0 when all are anchored)",
    labelNames: ["tenant"] as const,
    registers: [metricsRegistry],
  }),
  unsequenced: new Gauge({
    name: "countersign_ledger_unsequenced_events",
    help: "Ledger events waiting for the sequencer, per tenant",
    labelNames: ["tenant"] as const,
    registers: [metricsRegistry],
  }),
};

import { Counter, Gauge } from "prom-client";
import { metricsRegistry } from "../../metrics.js";

/** Witness cosigning of checkpoints (src/ledger/witnessing/). `witness` is the witness key's name. */
export const witnessMetrics = {
  cosignatures: new Counter({
    name: "countersign_ledger_witness_cosignatures_total",
    help: "Valid cosignatures received from each witness",
    labelNames: ["witness"] as const,
    registers: [metricsRegistry],
  }),
  refusals: new Counter({
    name: "countersign_ledger_witness_refusals_total",
    help: "Checkpoints a witness refused, by reason (fork, inconsistent, untrusted, unknown_log, bad_request, bad_cosignature, ahead); each raises ledger.witness_refused once per change",
    labelNames: ["witness", "reason"] as const,
    registers: [metricsRegistry],
  }),
  unavailable: new Counter({
    name: "countersign_ledger_witness_unavailable_total",
    help: "Submissions to a witness that got no usable answer (unreachable, timeout, 5xx); retried with backoff",
    labelNames: ["witness"] as const,
    registers: [metricsRegistry],
  }),
  lag: new Gauge({
    name: "countersign_ledger_witness_lag_seconds",
    help: "Age of the newest checkpoint while it is below the witness quorum, per tenant (0 once witnessed)",
    labelNames: ["tenant"] as const,
    registers: [metricsRegistry],
  }),
};

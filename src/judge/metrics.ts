import { Counter, Registry, collectDefaultMetrics } from "prom-client";

/** One registry per process, served at GET /metrics by the vault and by the judge service. */
export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry });

export const judgeMetrics = {
  /** Every time a judge answer was replaced by review: unreachable, timeout, error, invalid output. */
  failClosed: new Counter({
    name: "countersign_judge_fail_closed_total",
    help: "Judge evaluations that failed closed to human review, by reason",
    labelNames: ["reason"] as const,
    registers: [metricsRegistry],
  }),
};

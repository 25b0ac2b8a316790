import { Counter } from "prom-client";
import { metricsRegistry } from "../metrics.js";

export { metricsRegistry };

export const judgeMetrics = {
  /** Every time a judge answer was replaced by review: unreachable, timeout, error, invalid output. */
  failClosed: new Counter({
    name: "countersign_judge_fail_closed_total",
    help: "Judge evaluations that failed closed to human review, by reason",
    labelNames: ["reason"] as const,
    registers: [metricsRegistry],
  }),
};

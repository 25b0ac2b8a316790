import { Counter, Histogram } from "prom-client";
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
  /** How long each step of an evaluation took: conditions (CEL), retrieval (embedding and search), llm. */
  stepSeconds: new Histogram({
    name: "countersign_judge_step_seconds",
    help: "Time spent in each step of the judge's evaluation (conditions, retrieval, llm), failures included",
    labelNames: ["step"] as const,
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [metricsRegistry],
  }),
};

/** Runs one step of an evaluation and records its time, whether it succeeds or throws. */
export async function timedStep<T>(step: "conditions" | "retrieval" | "llm", run: () => Promise<T>): Promise<T> {
  const done = judgeMetrics.stepSeconds.startTimer({ step });
  try {
    return await run();
  } finally {
    done();
  }
}

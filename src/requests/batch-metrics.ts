import { Counter, Histogram } from "prom-client";
import type { GroupCommitObserver } from "../db/group-commit.js";
import { metricsRegistry } from "../metrics.js";

const batchSize = new Histogram({
  name: "countersign_decision_batch_size",
  help: "Units (decisions, burns, review changes) committed together in one group-commit transaction",
  buckets: [1, 2, 4, 8, 16, 32, 64, 128],
  registers: [metricsRegistry],
});

const fallbacks = new Counter({
  name: "countersign_decision_batch_fallbacks_total",
  help: "Group-commit batches rolled back by one failing unit and committed one unit at a time instead",
  registers: [metricsRegistry],
});

/** What group commit reports, for GET /metrics: how full batches are, and how often one falls back. */
export const batchMetrics: GroupCommitObserver = {
  batch(size, fellBack) {
    batchSize.observe(size);
    if (fellBack) fallbacks.inc();
  },
};

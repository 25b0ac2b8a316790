import { Counter, Gauge, Histogram } from "prom-client";
import { metricsRegistry } from "../metrics.js";

/** What the clearance queue reports on GET /metrics: depth, work in flight, lag, and SQS failures. */
export const queueMetrics = {
  depth: new Gauge({
    name: "countersign_clearance_queue_depth",
    help: "Clearance jobs waiting or running: this process's own (scope=local), and the shared SQS queue's approximate count (scope=shared)",
    labelNames: ["scope"],
    registers: [metricsRegistry],
  }),
  inFlight: new Gauge({
    name: "countersign_clearance_queue_in_flight",
    help: "Clearance jobs this process is running now",
    registers: [metricsRegistry],
  }),
  lag: new Histogram({
    name: "countersign_clearance_queue_lag_seconds",
    help: "Time from sending a clearance message to SQS until a vault received it",
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [metricsRegistry],
  }),
  sqsErrors: new Counter({
    name: "countersign_clearance_sqs_errors_total",
    help: "Failed SQS calls by operation; a failed send is judged in the sending process instead",
    labelNames: ["operation"],
    registers: [metricsRegistry],
  }),
  poison: new Counter({
    name: "countersign_clearance_sqs_poison_total",
    help: "Clearance messages delivered more than the receive limit, or unreadable, and so not judged again",
    registers: [metricsRegistry],
  }),
};

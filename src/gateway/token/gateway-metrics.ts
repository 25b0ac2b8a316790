import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/**
 * The gateway's metrics, in a Registry of its own per gateway instance: two gateways in one process
 * (tests, or the MCP gateway next to this one) never share or double-register a series.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  /**
   * Every request once, by route pattern (or "unmatched") and outcome: "forwarded" and "passed_through"
   * (the upstream answered), "client_closed", or the problem code (an upstream failure included).
   */
  readonly requests = new Counter({
    name: "countersign_gateway_requests_total",
    help: "Requests handled by the gateway, by route and outcome (forwarded, passed_through, client_closed, or the problem code).",
    labelNames: ["route", "outcome"] as const,
    registers: [this.registry],
  });
  /** Time the gateway spends before forwarding: verification, binding check and the burn. */
  readonly admission = new Histogram({
    name: "countersign_gateway_admission_seconds",
    help: "Time from the request's arrival to the forward (token verification, binding check, burn).",
    labelNames: ["route"] as const,
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly upstream = new Histogram({
    name: "countersign_gateway_upstream_seconds",
    help: "Upstream time, from the forward to the end of the response body, by upstream and status class.",
    labelNames: ["upstream", "status_class"] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly reports = new Counter({
    name: "countersign_gateway_execution_reports_total",
    help: "Execution reports to the vault, by result (sent, retried, failed).",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}

import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/**
 * The MCP gateway's own registry (served at its /metrics), apart from the vault's: both may run in
 * one process in tests and benches, and neither should show the other's figures.
 */
export function createGatewayMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    /** One per tools/call, by what the gateway did with it. */
    calls: new Counter({
      name: "countersign_mcp_gateway_calls_total",
      help: "tools/call handled by the MCP gateway, by outcome",
      labelNames: ["outcome"] as const,
      registers: [registry],
    }),
    callSeconds: new Histogram({
      name: "countersign_mcp_gateway_call_seconds",
      help: "Duration of tools/call through the MCP gateway (clearance, consume, upstream call, execution report)",
      labelNames: ["outcome"] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    /** Where a call's time goes: the vault's three calls and the upstream's, so added latency can be explained. */
    stepSeconds: new Histogram({
      name: "countersign_mcp_gateway_step_seconds",
      help: "Duration of each step of a gated tools/call: clearance, consume, upstream, report",
      labelNames: ["step"] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    /** Execution reports the vault did not take: the burn then shows as never executed (lost-consume). */
    reportFailures: new Counter({
      name: "countersign_mcp_gateway_execution_report_failures_total",
      help: "Execution reports to the vault that failed",
      registers: [registry],
    }),
  };
}
export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;

/** Runs `fn`, recording its duration under `step` whether it succeeds or fails. */
export async function timedStep<T>(metrics: GatewayMetrics, step: "clearance" | "consume" | "upstream" | "report", fn: () => Promise<T>): Promise<T> {
  const end = metrics.stepSeconds.startTimer({ step });
  try {
    return await fn();
  } finally {
    end();
  }
}

/** What a tools/call came to, for the metrics. */
export type CallOutcome =
  | "forwarded"
  | "forwarded_ungated"
  | "denied"
  | "pending"
  | "replay_refused"
  | "not_cleared"
  | "upstream_error";

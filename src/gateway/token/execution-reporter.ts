import type { Logger } from "pino";
import type { GatewayMetrics } from "./gateway-metrics.js";

/** The body of POST /tokens/{jti}/execution. */
export interface ExecutionOutcome {
  status: number | null;
  outcome: "succeeded" | "failed" | "error" | "unknown";
  duration_ms: number;
  response_sha256?: string;
  detail?: string;
}

/** A report the vault refused for good (4xx): retrying cannot help. */
export class ReportRefusedError extends Error {}

const DEFAULT_DELAYS_MS = [200, 1_000, 5_000];

/**
 * Sends execution reports after the client has its answer, never before and never in its way:
 * `submit` returns at once. A failed send is retried with backoff (the endpoint is idempotent, so a
 * retry after a lost answer is harmless); after the last attempt the loss is logged and counted, and
 * the vault's lost-consume list shows the burn without a report. `drain` waits for what is in flight,
 * for shutdown.
 */
export class ExecutionReporter {
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly send: (jti: string, report: ExecutionOutcome) => Promise<void>,
    private readonly deps: { log: Logger; metrics: GatewayMetrics; delaysMs?: number[] },
  ) {}

  submit(jti: string, report: ExecutionOutcome): void {
    const job = this.attempt(jti, report).finally(() => this.pending.delete(job));
    this.pending.add(job);
  }

  private async attempt(jti: string, report: ExecutionOutcome): Promise<void> {
    const delays = this.deps.delaysMs ?? DEFAULT_DELAYS_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.send(jti, report);
        this.deps.metrics.reports.inc({ result: "sent" });
        return;
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        if (err instanceof ReportRefusedError || attempt >= delays.length) {
          this.deps.metrics.reports.inc({ result: "failed" });
          // The jti identifies the burn for the operator; it is not a secret (the token is).
          this.deps.log.error({ jti, status: report.status, outcome: report.outcome, reason }, "execution report lost; the vault lists the burn as unreported");
          return;
        }
        this.deps.metrics.reports.inc({ result: "retried" });
        await new Promise((resolve) => setTimeout(resolve, delays[attempt]).unref());
      }
    }
  }

  /** Waits up to `timeoutMs` for the reports in flight. */
  async drain(timeoutMs: number): Promise<void> {
    if (this.pending.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([Promise.allSettled([...this.pending]), limit]);
    clearTimeout(timer);
  }

  get inFlight(): number {
    return this.pending.size;
  }
}

/**
 * Execution reports still on their way to the vault. They are sent after the agent has its result (the
 * tool already ran, and the report cannot change that), so a call costs the agent two vault round
 * trips, not three. Closing the gateway waits for them. Past `max` at once (a slow vault), the next
 * report is awaited by its call instead: backpressure rather than an unbounded queue.
 */
export class InFlightReports {
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly max = 1000) {}

  /** Tracks a report; resolves at once, or when the report is done if too many are in flight. */
  async add(report: Promise<void>): Promise<void> {
    this.pending.add(report);
    void report.finally(() => this.pending.delete(report));
    if (this.pending.size > this.max) await report;
  }

  async drain(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }
}

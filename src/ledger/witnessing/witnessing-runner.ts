import type { Logger } from "pino";
import type { Clock } from "../../clock.js";
import type { Sql } from "../../db/sql.js";
import type { CheckpointWitnessing } from "./checkpoint-witnessing.js";
import { tenantWitnessStatus, type TenantWitnessStatus } from "./witness-status.js";

/**
 * Runs witnessing passes for the ledger loop, beside sequencing and export: at most one pass per
 * tenant at a time, started after each sequencing (the loop's tick, or a checkpoint signed on demand),
 * and again when a checkpoint below the quorum is due for its retry, so retries follow their backoff
 * rather than the loop's interval (30 s by default). Witnesses that are slow or down never delay a
 * checkpoint or its anchoring.
 */
export class WitnessingRunner {
  private readonly passes = new Map<string, Promise<void>>();
  private readonly retries = new Map<string, NodeJS.Timeout>();
  private readonly statuses = new Map<string, TenantWitnessStatus>();
  private stopped = false;

  constructor(
    readonly witnessing: CheckpointWitnessing,
    private readonly deps: {
      tenantSql: (tenantId: string) => Promise<Sql>;
      clock: Clock;
      log: Logger;
      /** A checkpoint reached the quorum: export it again, so the anchor carries the cosignatures. */
      onWitnessed: (tenantId: string) => void;
    },
  ) {}

  /** Starts a pass for the tenant unless one is running (it will see the newest checkpoint anyway). */
  kick(tenantId: string): void {
    if (this.stopped || this.passes.has(tenantId)) return;
    const pass = this.pass(tenantId)
      .catch((err) => this.deps.log.error({ err, tenantId }, "witnessing pass failed; retrying next interval"))
      .finally(() => this.passes.delete(tenantId));
    this.passes.set(tenantId, pass);
  }

  /** The tenant's pass in flight, if any (drain waits for it). */
  running(tenantId?: string): Promise<unknown> {
    return tenantId === undefined ? Promise.all(this.passes.values()) : (this.passes.get(tenantId) ?? Promise.resolve());
  }

  status(tenantId: string): TenantWitnessStatus | undefined {
    return this.statuses.get(tenantId);
  }

  /** No new pass or retry; exchanges in flight are cut short (they end as unavailable, retried by the next process). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.retries.values()) clearTimeout(timer);
    this.retries.clear();
    this.witnessing.stop();
    await this.running();
  }

  private async pass(tenantId: string): Promise<void> {
    const sql = await this.deps.tenantSql(tenantId);
    const result = await this.witnessing.run(tenantId, sql);
    if (result.witnessed) this.deps.onWitnessed(tenantId);
    const status = await tenantWitnessStatus(sql, this.witnessing);
    if (status) this.statuses.set(tenantId, status);
    // The next attempt as the database has it (this process's backoff, or another process's claim).
    if (status && status.status !== "witnessed" && status.next_attempt_at !== null) this.retryAt(tenantId, Date.parse(status.next_attempt_at));
  }

  private retryAt(tenantId: string, atMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.retries.get(tenantId));
    const timer = setTimeout(() => {
      this.retries.delete(tenantId);
      this.kick(tenantId);
    }, Math.max(0, atMs - this.deps.clock.nowMs()) + 10);
    timer.unref();
    this.retries.set(tenantId, timer);
  }
}

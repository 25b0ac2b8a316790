import { setMaxListeners } from "node:events";
import type { Logger } from "pino";
import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import { deliver, type AttemptResult, type DeliveryDeps } from "./delivery.js";
import { outboxKinds, type OutboxKind } from "./events.js";
import { outboxMetrics } from "./outbox-metrics.js";
import { claimDue, pendingCounts, recordOutcome, type ClaimedEntry } from "./outbox-store.js";

export interface OutboxWorkerSettings {
  /** VAULT_OUTBOX_MAX_ATTEMPTS: attempts before an entry is dead. */
  maxAttempts: number;
  pollIntervalMs: number;
  /** Rows claimed per statement, delivered concurrently. */
  batchSize: number;
  /** How long a claim keeps other processes off a row; well above the delivery timeout. */
  leaseMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
}

export const defaultOutboxSettings: Omit<OutboxWorkerSettings, "maxAttempts"> = {
  pollIntervalMs: 1000,
  batchSize: 20,
  leaseMs: 60_000,
  backoffBaseMs: 10_000,
  backoffMaxMs: 6 * 3600_000,
};

/**
 * Exponential backoff with "equal jitter": half the delay is fixed, half random, so receivers that
 * failed together are not retried in lockstep. attempts 1, 2, 3... → ~10 s, 20 s, 40 s... up to the cap.
 */
export function backoffMs(attempts: number, s: Pick<OutboxWorkerSettings, "backoffBaseMs" | "backoffMaxMs">, random: () => number): number {
  const delay = Math.min(s.backoffMaxMs, s.backoffBaseMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(delay / 2 + random() * (delay / 2));
}

/**
 * Delivers every tenant's outbox in the background of each vault process (start/stop/drain like the
 * ledger loop; ticks never overlap). Due rows are claimed in short statements with SKIP LOCKED, so
 * processes share the work, and each outcome is recorded after the attempt: delivered, pending with
 * the next attempt time, or dead after the maximum attempts. Stopping aborts attempts in flight and
 * records nothing for them, exactly like a crash: their rows stay pending and are retried when the
 * lease runs out, by this process or another (at least once; receivers dedup on the delivery id).
 */
export class OutboxWorker {
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private stopped = true;
  private abort = new AbortController();

  constructor(
    private readonly deps: {
      tenantIds: () => Promise<string[]>;
      tenantSql: (tenantId: string) => Promise<Sql>;
      clock: Clock;
      log: Logger;
      delivery: DeliveryDeps;
      settings: OutboxWorkerSettings;
      random?: () => number;
    },
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.abort = new AbortController();
    // Every delivery of a batch listens on this one signal (and removes its listener when done); a
    // batch of more than 10 is normal, not a leak, so Node's default listener warning does not apply.
    setMaxListeners(0, this.abort.signal);
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort.abort();
    await this.chain;
    this.deps.delivery.mailer?.close();
  }

  /** One complete pass over every tenant's due entries, after any pass in progress: tests never sleep. */
  drain(): Promise<void> {
    return this.run();
  }

  private run(): Promise<void> {
    const pass = this.chain.then(() => this.tick());
    this.chain = pass.catch(() => {});
    return pass;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.run().finally(() => this.schedule(this.deps.settings.pollIntervalMs));
    }, delayMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    let tenantIds: string[];
    try {
      tenantIds = await this.deps.tenantIds();
    } catch (err) {
      this.deps.log.error({ err }, "outbox worker could not list tenants");
      return;
    }
    const pending: Record<OutboxKind, number> = { webhook: 0, slack: 0, email: 0, callback: 0 };
    for (const tenantId of tenantIds) {
      try {
        const sql = await this.deps.tenantSql(tenantId);
        await this.deliverTenant(tenantId, sql);
        const counts = await pendingCounts(sql);
        for (const kind of outboxKinds) pending[kind] += counts[kind] ?? 0;
      } catch (err) {
        this.deps.log.error({ err, tenantId }, "outbox pass failed; retrying next interval");
      }
    }
    for (const kind of outboxKinds) outboxMetrics.pending.set({ kind }, pending[kind]);
  }

  private async deliverTenant(tenantId: string, sql: Sql): Promise<void> {
    const { batchSize, leaseMs } = this.deps.settings;
    // Batch after batch until nothing is due; a failed entry is rescheduled into the future, so this ends.
    while (!this.abort.signal.aborted) {
      const now = this.deps.clock.now();
      const claimed = await claimDue(sql, now, new Date(now.getTime() + leaseMs), batchSize);
      await Promise.all(claimed.map((entry) => this.attempt(tenantId, sql, entry)));
      if (claimed.length < batchSize) return;
    }
  }

  private async attempt(tenantId: string, sql: Sql, entry: ClaimedEntry): Promise<void> {
    const signal = this.abort.signal;
    let result: AttemptResult;
    try {
      result = await deliver(tenantId, entry, this.deps.delivery, signal);
    } catch (err) {
      // Stopping: leave the row claimed and pending, as a crash would.
      if (signal.aborted) return;
      result = { ok: false, httpStatus: null, error: `delivery failed: ${(err as Error).message}` };
    }
    const at = this.deps.clock.now();
    const where = { tenantId, deliveryId: entry.delivery_id, kind: entry.kind, event: entry.event_type, attempts: entry.attempts };
    if (result.ok) {
      if (await recordOutcome(sql, entry, { status: "delivered", at, httpStatus: result.httpStatus, error: result.error })) {
        outboxMetrics.delivered.inc({ kind: entry.kind });
      }
      return;
    }
    outboxMetrics.failedAttempts.inc({ kind: entry.kind });
    // A deliverer with its own schedule (StepAuth callbacks) decides; else the attempts and the backoff do.
    const own = result.nextAttemptAt;
    const dead = own !== undefined ? own === null : entry.attempts >= this.deps.settings.maxAttempts;
    const nextAttemptAt = dead ? undefined : (own ?? new Date(at.getTime() + backoffMs(entry.attempts, this.deps.settings, this.deps.random ?? Math.random)));
    const applied = await recordOutcome(sql, entry, { status: dead ? "dead" : "pending", at, nextAttemptAt, httpStatus: result.httpStatus, error: result.error });
    if (dead && applied) {
      outboxMetrics.dead.inc({ kind: entry.kind });
      this.deps.log.error({ ...where, error: result.error }, "outbox entry is dead after the maximum attempts");
    } else if (applied) {
      this.deps.log.warn({ ...where, error: result.error, nextAttemptAt }, "outbox delivery failed; will retry");
    }
  }
}

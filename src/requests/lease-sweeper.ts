import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { Sql } from "../db/sql.js";
import type { ClearanceJob, ClearanceQueue } from "./queue.js";
import { claimExpired, releaseLeases, renewLeases, type Lease } from "./store/request-store.js";

/** Rows claimed per statement when taking over; the queue's headroom caps the total per pass. */
const TAKEOVER_BATCH = 200;

/** A lease owner that is new for every process start: a restarted process never inherits a lease. */
export function newLeaseOwner(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
}

/**
 * Keeps this process's leases on its unfinished clearance requests alive, and takes over requests
 * whose process died (their lease lapsed), across every tenant, without a restart.
 *
 * Why one heartbeat for every held request instead of a lease longer than the judge timeout: a job
 * is held not only while it is judged (the judge, LLM included, is bounded by VAULT_JUDGE_TIMEOUT_MS)
 * but also while it waits in this process's queue behind others, and between retries with backoff
 * (up to 30 s). Renewing every held lease each lease/3 seconds covers all three whatever their length,
 * so a live process never loses a job to a peer, and a dead one loses all of them within one lease.
 * If this process stalls past a lease (a blocked event loop, a lost database), a peer may judge the
 * same request too; that costs judge work, never a second decision: deciding is a guarded UPDATE
 * from 'processing' (store/request-store.ts applyDecision), and the first commit wins.
 *
 * It owns the set of held requests (the jobs this process has queued, running or waiting to retry);
 * the clearance service adds and removes them. Taking over respects the queue's high watermark, so
 * one process does not flood itself while new requests would be refused.
 */
export class LeaseSweeper {
  private readonly held = new Map<string, Set<string>>();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly deps: {
      tenantIds: () => Promise<string[]>;
      tenantSql: (tenantId: string) => Promise<Sql>;
      queue: ClearanceQueue;
      log: Logger;
      lease: Lease;
      highWatermark: number;
    },
  ) {}

  get lease(): Lease {
    return this.deps.lease;
  }

  /** This process holds the request until release(): its lease is renewed meanwhile. */
  hold(job: ClearanceJob): void {
    let ids = this.held.get(job.tenantId);
    if (!ids) this.held.set(job.tenantId, (ids = new Set()));
    ids.add(job.requestId);
  }

  release(job: ClearanceJob): void {
    const ids = this.held.get(job.tenantId);
    ids?.delete(job.requestId);
    if (ids?.size === 0) this.held.delete(job.tenantId);
  }

  heldCount(): number {
    let count = 0;
    for (const ids of this.held.values()) count += ids.size;
    return count;
  }

  /** Sweeps every lease/3 seconds (renew, then take over) until stop(). */
  start(): void {
    if (this.timer || this.stopped) return;
    const everyMs = Math.max(20, Math.round((this.deps.lease.seconds * 1000) / 3));
    this.timer = setInterval(() => void this.tick(), everyMs);
    // Never the reason the process stays alive.
    this.timer.unref();
  }

  /** Stops sweeping; waits for a pass in progress. Held leases are kept until releaseAll(). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Gives up every held lease (clean shutdown), so a peer or the next start takes them at once. */
  async releaseAll(): Promise<void> {
    const held = [...this.held.entries()];
    this.held.clear();
    for (const [tenantId, ids] of held) {
      try {
        await releaseLeases(await this.deps.tenantSql(tenantId), [...ids], this.deps.lease.owner);
      } catch (err) {
        // Not fatal: the leases lapse on their own within one lease period.
        this.deps.log.warn({ err, tenantId }, "could not release clearance leases at shutdown; they lapse on their own");
      }
    }
  }

  /** One pass: renew what this process holds, then take over lapsed work while the queue has room. */
  async sweep(): Promise<number> {
    await this.renew();
    return this.takeOver(await this.deps.tenantIds());
  }

  /**
   * Claims lapsed or unheld requests of the given tenants and queues them here, up to the queue's
   * high watermark. Also the start-up recovery: a previous run's leases were released at a clean
   * stop, or lapse within a lease after a crash (then a later pass takes them).
   */
  async takeOver(tenantIds: string[]): Promise<number> {
    const { queue, lease, highWatermark, log } = this.deps;
    let taken = 0;
    tenants: for (const tenantId of tenantIds) {
      // One unreachable tenant database must not stop the others' work from being taken over.
      try {
        const sql = await this.deps.tenantSql(tenantId);
        for (;;) {
          const room = highWatermark - queue.depth();
          if (room <= 0) break tenants;
          const ids = await claimExpired(sql, lease, Math.min(TAKEOVER_BATCH, room));
          for (const requestId of ids) {
            const job = { tenantId, requestId };
            this.hold(job);
            queue.enqueue(job);
          }
          taken += ids.length;
          if (ids.length < Math.min(TAKEOVER_BATCH, room)) break;
        }
      } catch (err) {
        log.error({ err, tenantId }, "could not take over this tenant's unfinished requests; the next sweep tries again");
      }
    }
    if (taken > 0) log.info({ taken }, "took over unfinished clearance requests");
    return taken;
  }

  private async renew(): Promise<void> {
    for (const [tenantId, ids] of [...this.held.entries()]) {
      if (ids.size === 0) continue;
      try {
        await renewLeases(await this.deps.tenantSql(tenantId), [...ids], this.deps.lease);
      } catch (err) {
        this.deps.log.warn({ err, tenantId }, "could not renew clearance leases; a peer may take these requests over");
      }
    }
  }

  private async tick(): Promise<void> {
    // Passes never overlap: a slow database would otherwise stack them up.
    if (this.running || this.stopped) return;
    this.running = this.sweep()
      .then(() => undefined)
      .catch((err) => this.deps.log.error({ err }, "clearance lease sweep failed"))
      .finally(() => (this.running = undefined));
    await this.running;
  }
}

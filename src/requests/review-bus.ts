import { EventEmitter } from "node:events";
import type { Logger } from "pino";
import type { Sql } from "../db/sql.js";

/** Feed ids re-read on every poll: more than the changes a tenant's batches can have in flight. */
const FEED_OVERLAP = 256;

/**
 * Who is watching which tenant's reviews (SSE consoles, long polls): told at once by this process,
 * and by a poll of `review_events` (one per watched tenant, not per watcher) for changes other
 * vault processes made.
 */
export class ReviewBus {
  private readonly emitter = new EventEmitter();
  private readonly pollers = new Map<string, { timer: NodeJS.Timeout; lastId: number; watchers: number }>();

  constructor(
    private readonly tenantSql: (tenantId: string) => Promise<Sql>,
    private readonly log: Logger,
    private readonly pollMs = 1000,
  ) {
    this.emitter.setMaxListeners(0);
  }

  /** Records a change in the tenant database (inside the caller's transaction). */
  static async record(tx: Sql, requestId: string): Promise<void> {
    await tx.query("INSERT INTO review_events (request_id) VALUES ($1)", [requestId]);
  }

  /** Tells this process's watchers after the change committed. */
  changed(tenantId: string, requestId: string): void {
    this.emitter.emit(tenantId, requestId);
  }

  /** Calls `fn(requestId)` on every change in the tenant; returns the unsubscribe function. */
  async watch(tenantId: string, fn: (requestId: string) => void): Promise<() => void> {
    this.emitter.on(tenantId, fn);
    await this.startPolling(tenantId);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.emitter.off(tenantId, fn);
      const poller = this.pollers.get(tenantId);
      if (poller && --poller.watchers === 0) {
        clearInterval(poller.timer);
        this.pollers.delete(tenantId);
      }
    };
  }

  close(): void {
    for (const p of this.pollers.values()) clearInterval(p.timer);
    this.pollers.clear();
    this.emitter.removeAllListeners();
  }

  private async startPolling(tenantId: string): Promise<void> {
    const existing = this.pollers.get(tenantId);
    if (existing) {
      existing.watchers++;
      return;
    }
    // Registered before the first await, so concurrent watchers share one poller.
    const poller = { lastId: -1, watchers: 1, timer: undefined as unknown as NodeJS.Timeout, seen: new Set<number>() };
    this.pollers.set(tenantId, poller);
    const sql = await this.tenantSql(tenantId);
    const [last] = await sql.query<{ id: number | null }>("SELECT max(id) AS id FROM review_events");
    poller.lastId = Number(last?.id ?? 0);
    // Changes before the watch began are not news: only ids above this one are ever emitted.
    const startedAt = poller.lastId;
    let busy = false;
    poller.timer = setInterval(() => {
      if (busy) return;
      busy = true;
      sql
        // Ids are taken when a row is written but become visible at commit, and group-committed
        // batches commit out of id order: a lower id can appear after a higher one was read. So each
        // poll re-reads the last FEED_OVERLAP ids and emits only those not seen yet.
        .query<{ id: number; request_id: string }>("SELECT id, request_id FROM review_events WHERE id > $1 ORDER BY id LIMIT 500", [poller.lastId - FEED_OVERLAP])
        .then((rows) => {
          for (const r of rows) {
            const id = Number(r.id);
            if (id <= startedAt || poller.seen.has(id)) continue;
            poller.seen.add(id);
            poller.lastId = Math.max(poller.lastId, id);
            this.emitter.emit(tenantId, r.request_id);
          }
          for (const id of poller.seen) if (id <= poller.lastId - FEED_OVERLAP) poller.seen.delete(id);
        })
        .catch((err) => this.log.warn({ err, tenantId }, "review feed poll failed"))
        .finally(() => (busy = false));
    }, this.pollMs);
    poller.timer.unref();
    // Unwatched while we were starting: stop again.
    if (poller.watchers === 0) clearInterval(poller.timer);
  }
}

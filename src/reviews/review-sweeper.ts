import type { Logger } from "pino";
import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import type { RequestLifecycle } from "../requests/lifecycle.js";
import { rulesOf } from "../requests/review-rules.js";
import { expiredReviewIds, lockRequest } from "../requests/store/request-store.js";
import { progressOf, votesFor } from "./review-queries.js";

const BATCH = 100;
const FEED_RETENTION_MS = 86_400_000;

/**
 * Every interval, for every tenant: denies pending requests past their expiry (reason_code
 * `review_expired`, a `review.expired` ledger event and a `request.expired` webhook, together), and
 * sends the reminders and escalations their rules ask for, once each. Several vault processes may
 * sweep at once: each change is a conditional UPDATE, so only one of them wins it.
 */
export class ReviewSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly deps: {
      tenantIds: () => Promise<string[]>;
      tenantSql: (tenantId: string) => Promise<Sql>;
      lifecycle: RequestLifecycle;
      clock: Clock;
      log: Logger;
      intervalMs: number;
    },
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.sweep(), this.deps.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One pass now (tests never sleep). */
  async sweep(): Promise<void> {
    if (this.running) return this.running;
    this.running = this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(): Promise<void> {
    for (const tenantId of await this.deps.tenantIds().catch(() => [] as string[])) {
      await this.sweepTenant(tenantId).catch((err) => this.deps.log.error({ err, tenantId }, "review sweep failed; retrying next interval"));
    }
  }

  private async sweepTenant(tenantId: string): Promise<void> {
    const sql = await this.deps.tenantSql(tenantId);
    const now = this.deps.clock.now();
    // Each expiry is its own unit; group commit puts a sweep's expiries in few transactions.
    await Promise.all((await expiredReviewIds(sql, now, BATCH)).map((id) => this.expire(tenantId, sql, id)));
    await this.remind(tenantId, sql, "review.reminder");
    await this.remind(tenantId, sql, "review.escalation");
    // The live feed only needs recent changes: watchers start from its newest row.
    await sql.query("DELETE FROM review_events WHERE created_at < $1", [new Date(now.getTime() - FEED_RETENTION_MS)]);
  }

  private async expire(tenantId: string, sql: Sql, requestId: string): Promise<void> {
    const { lifecycle } = this.deps;
    await lifecycle.commit(sql, requestId, async (tx) => {
      const row = await lockRequest(tx, requestId);
      if (!row || row.status !== "pending_review") return;
      const hours = Math.round((rulesOf(row).expiry_seconds / 3600) * 10) / 10;
      await lifecycle.finish(tx, tenantId, row, "expire", { reason: `No decision within ${hours} h: denied as expired` });
    });
  }

  /** Each pending request is reminded (or escalated) at most once, when its rules' time has come. */
  private async remind(tenantId: string, sql: Sql, kind: "review.reminder" | "review.escalation"): Promise<void> {
    const { lifecycle } = this.deps;
    await sql.transaction((tx) =>
      lifecycle.remindDue(tx, tenantId, kind, BATCH, async (due) => {
        const votes = await votesFor(tx, due.map((r) => r.id));
        return new Map(due.map((r) => [r.id, progressOf(r, votes.get(r.id) ?? [])]));
      }),
    );
  }
}

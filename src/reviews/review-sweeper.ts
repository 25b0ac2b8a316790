import type { Logger } from "pino";
import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import { applyDecision, type ClearanceRow } from "../requests/request-store.js";
import type { DecisionWaiters } from "../requests/waiters.js";
import type { LedgerWriter } from "../ledger/store/ledger-writer.js";
import { ReviewBus } from "../requests/review-bus.js";
import type { NotificationKind, ReviewOutbox } from "./review-outbox.js";
import { progressOf, rulesOf, votesFor } from "./review-queries.js";

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
      ledger: LedgerWriter;
      outbox: () => ReviewOutbox;
      waiters: DecisionWaiters;
      bus: ReviewBus;
      clock: Clock;
      log: Logger;
      intervalMs: number;
      consoleUrl: (requestId: string) => string;
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
    const expired = await sql.query<{ id: string }>(
      "SELECT id FROM clearance_requests WHERE status = 'pending_review' AND expires_at <= $1 ORDER BY expires_at LIMIT $2",
      [now, BATCH],
    );
    for (const { id } of expired) await this.expire(tenantId, sql, id);
    await this.remind(tenantId, sql, "review.reminder", "reminded_at", "reminder_after_seconds");
    await this.remind(tenantId, sql, "review.escalation", "escalated_at", "escalate_after_seconds");
    // The live feed only needs recent changes: watchers start from its newest row.
    await sql.query("DELETE FROM review_events WHERE created_at < $1", [new Date(now.getTime() - FEED_RETENTION_MS)]);
  }

  private async expire(tenantId: string, sql: Sql, requestId: string): Promise<void> {
    const decided = await sql.transaction(async (tx) => {
      const row = (await tx.query<ClearanceRow>("SELECT * FROM clearance_requests WHERE id = $1 FOR UPDATE", [requestId]))[0];
      if (!row || row.status !== "pending_review") return undefined;
      const hours = Math.round((rulesOf(row).expiry_seconds / 3600) * 10) / 10;
      const done = await applyDecision(tx, row.id, ["pending_review"], {
        ...row,
        status: "denied",
        decision_status: "denied",
        reason: `No decision within ${hours} h: denied as expired`,
        reason_code: "review_expired",
      }, this.deps.clock.now());
      if (!done) return undefined;
      await this.deps.ledger.append(tx, this.deps.ledger.prepare(done, "review.expired"));
      await this.deps.outbox().webhookEvent(tx, tenantId, "request.expired", done);
      await ReviewBus.record(tx, done.id);
      return done;
    });
    if (!decided) return;
    this.deps.waiters.notify(requestId);
    this.deps.bus.changed(tenantId, requestId);
  }

  /** Each pending request is reminded (or escalated) at most once, when its rules' time has come. */
  private async remind(tenantId: string, sql: Sql, kind: NotificationKind, column: "reminded_at" | "escalated_at", rule: string): Promise<void> {
    const now = this.deps.clock.now();
    await sql.transaction(async (tx) => {
      const due = await tx.query<ClearanceRow>(
        `UPDATE clearance_requests SET ${column} = $1
          WHERE id IN (SELECT id FROM clearance_requests
                        WHERE status = 'pending_review' AND ${column} IS NULL AND (review_rules->>'${rule}') IS NOT NULL
                          AND decided_at + make_interval(secs => (review_rules->>'${rule}')::float8) <= $1
                        ORDER BY decided_at LIMIT $2 FOR UPDATE SKIP LOCKED)
          RETURNING *`,
        [now, BATCH],
      );
      const votes = await votesFor(tx, due.map((r) => r.id));
      for (const row of due) {
        const progress = progressOf(row, votes.get(row.id) ?? []);
        await this.deps.outbox().notifyReview(tx, tenantId, kind, row, {
          approvals_required: progress.required,
          received: progress.received,
          expires_at: row.expires_at ? new Date(row.expires_at).toISOString() : null,
          console_url: this.deps.consoleUrl(row.id),
        });
      }
    });
  }
}

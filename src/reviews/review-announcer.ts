import type { ClearanceRow } from "../requests/request-store.js";
import type { Sql } from "../db/sql.js";
import { ReviewBus } from "../requests/review-bus.js";
import type { ReviewOutbox, WebhookEventType } from "./review-outbox.js";
import { rulesOf } from "./review-queries.js";

/**
 * What a new decision tells the outside world, written in the decision's own transaction: webhook
 * events, a review request to Slack/email and the live feed when it went to review.
 */
export class ReviewAnnouncer {
  constructor(
    private readonly outbox: () => ReviewOutbox,
    private readonly consoleUrl: (requestId: string) => string,
  ) {}

  /** True when announcing `row` needs a transaction (so the single-statement fast path must not be used). */
  async needsTransaction(tenantId: string, row: Pick<ClearanceRow, "status">): Promise<boolean> {
    return row.status === "pending_review" || (await this.outbox().wantsWebhooks(tenantId));
  }

  async decided(tx: Sql, tenantId: string, row: ClearanceRow, opts: { submitted: boolean }): Promise<void> {
    const outbox = this.outbox();
    if (opts.submitted) await outbox.webhookEvent(tx, tenantId, "request.submitted", row);
    const type: WebhookEventType | undefined =
      row.status === "pending_review" ? "request.pending_review" : row.status === "approved" ? "request.approved" : row.status === "denied" ? "request.denied" : undefined;
    if (type) await outbox.webhookEvent(tx, tenantId, type, row);
    if (row.status === "pending_review") {
      await ReviewBus.record(tx, row.id);
      await outbox.notifyReview(tx, tenantId, "review.requested", row, {
        approvals_required: rulesOf(row).approvals_required,
        received: 0,
        expires_at: row.expires_at ? new Date(row.expires_at).toISOString() : null,
        console_url: this.consoleUrl(row.id),
      });
    }
  }
}

import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import type { ClearanceRow } from "../requests/request-store.js";
import { AppError } from "../errors.js";
import type { Principal } from "../tenancy/api-keys.js";
import { voterOf } from "../tenancy/reviewers.js";
import { listReviews, votesFor, type ReviewFilter } from "./review-queries.js";
import { reviewDetail, reviewSummary, viewerRights } from "./review-views.js";

/** GET /reviews and GET /reviews/{id}: the queue, the history, and one request in full. */
export class ReviewReader {
  constructor(
    private readonly tenantSql: (tenantId: string) => Promise<Sql>,
    private readonly clock: Clock,
  ) {}

  async list(principal: Principal, filter: ReviewFilter) {
    const sql = await this.tenantSql(principal.tenantId);
    const { rows, next_cursor } = await listReviews(sql, filter);
    const votes = await votesFor(sql, rows.map((r) => r.id));
    const now = this.clock.now();
    return { reviews: rows.map((r) => reviewSummary(r, votes.get(r.id) ?? [], now)), next_cursor };
  }

  async summary(tenantId: string, requestId: string) {
    const sql = await this.tenantSql(tenantId);
    const row = await this.row(sql, requestId);
    return reviewSummary(row, (await votesFor(sql, [row.id])).get(row.id) ?? [], this.clock.now());
  }

  async detail(principal: Principal, requestId: string) {
    const sql = await this.tenantSql(principal.tenantId);
    const row = await this.row(sql, requestId, true);
    const votes = (await votesFor(sql, [row.id])).get(row.id) ?? [];
    const [ledger] = await sql.query<{ events: number; sequenced: number; checkpoint_id: number | null }>(
      `SELECT count(*) AS events, count(e.leaf_index) AS sequenced,
              (SELECT min(c.checkpoint_id) FROM ledger_checkpoints c WHERE c.tree_size > max(e.leaf_index)) AS checkpoint_id
         FROM ledger_events e WHERE e.request_id = $1`,
      [row.id],
    );
    // In a checkpoint only when every event of the request is: the newest vote may still be waiting.
    const all = Number(ledger?.events ?? 0) > 0 && Number(ledger?.sequenced) === Number(ledger?.events);
    const checkpointId = !all || ledger?.checkpoint_id === null || ledger?.checkpoint_id === undefined ? null : Number(ledger.checkpoint_id);
    return reviewDetail(row, votes, this.clock.now(), viewerRights(row, votes, voterOf(principal), principal.keyId), {
      events: Number(ledger?.events ?? 0),
      in_checkpoint: checkpointId !== null,
      checkpoint_id: checkpointId,
    }, row.policy_default_decision ?? null);
  }

  /**
   * withPolicy joins the default decision of the policy version that judged the request (the console
   * warns when it approves): part of the same query, and exact even after the policy changed.
   */
  private async row(sql: Sql, requestId: string, withPolicy = false): Promise<ClearanceRow & { policy_default_decision?: string | null }> {
    const query = withPolicy
      ? `SELECT r.*, v.content::jsonb ->> 'default_decision' AS policy_default_decision
           FROM clearance_requests r LEFT JOIN policy_versions v ON v.id = r.policy_version_id WHERE r.id = $1`
      : "SELECT * FROM clearance_requests WHERE id = $1";
    const row = (await sql.query<ClearanceRow & { policy_default_decision?: string | null }>(query, [requestId]))[0];
    if (!row) throw new AppError("request_not_found", `No clearance request ${requestId}`);
    return row;
  }
}

import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import type { ClearanceReply, ClearanceService } from "../clearance/clearance-service.js";
import { applyDecision, getRequest, type ClearanceStatus, type DecisionFields } from "../clearance/request-store.js";
import type { TokenIssuer } from "../clearance/token-issuer.js";
import type { DecisionWaiters } from "../clearance/waiters.js";
import type { LedgerWriter } from "../ledger/ledger-writer.js";
import type { Principal } from "../tenancy/api-keys.js";
import { newId } from "../tenancy/ids.js";

/**
 * A human (reviewer or admin key) approves or denies a pending request; an agent key may only
 * cancel its own tenant's unfinished request. The vote and the decision commit together.
 */
export class ReviewService {
  constructor(
    private readonly deps: {
      tenantSql: (tenantId: string) => Promise<Sql>;
      clearance: ClearanceService;
      issuer: TokenIssuer;
      ledger: LedgerWriter;
      waiters: DecisionWaiters;
      clock: Clock;
    },
  ) {}

  async decide(principal: Principal, requestId: string, approved: boolean, reviewReason: string): Promise<ClearanceReply> {
    if (principal.scope === "agent" && approved) {
      throw new AppError("insufficient_scope", "An agent key may only cancel a request (approved: false), not approve it");
    }
    const cancelling = principal.scope === "agent";
    const sql = await this.deps.tenantSql(principal.tenantId);
    const row = await getRequest(sql, requestId);
    if (!row) throw new AppError("request_not_found", `No clearance request ${requestId}`);
    // Agents may withdraw a request the judge has not finished with; reviewers decide pending ones.
    const from: ClearanceStatus[] = cancelling || !approved ? ["processing", "pending_review"] : ["pending_review"];
    const fields: DecisionFields = {
      status: approved ? "approved" : "denied",
      decision_status: approved ? "approved" : "denied",
      reason: reviewReason || (cancelling ? "Cancelled by agent" : approved ? "Approved by reviewer" : "Denied by reviewer"),
      reason_code: cancelling ? "cancelled_by_agent" : approved ? "review_approved" : "review_denied",
      confidence_bucket: row.confidence_bucket,
      policy_id: row.policy_id,
      policy_version_id: row.policy_version_id,
      policy_content_hash: row.policy_content_hash,
      applied_policies: row.applied_policies,
      matched_condition_ids: row.matched_condition_ids,
      // The judge's evidence stays with the request: a reviewer decides on it, not instead of it.
      minimum_confidence_bucket: row.minimum_confidence_bucket,
      citations: row.citations,
      evidence_chunks: row.evidence_chunks,
      judge_trace: row.judge_trace,
    };
    const now = this.deps.clock.now();
    const decided = await sql.transaction(async (tx) => {
      const updated = await applyDecision(tx, row.id, from, fields, now);
      if (!updated) return undefined;
      await tx.query(
        "INSERT INTO review_decisions (id, request_id, api_key_id, scope, approved, reason, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [newId("rev"), row.id, principal.keyId, principal.scope, approved, reviewReason, now],
      );
      const type = cancelling ? "review.cancelled_by_agent" : approved ? "review.approved" : "review.denied";
      await this.deps.ledger.append(tx, this.deps.ledger.prepare(updated, type));
      if (updated.status === "approved") await this.deps.issuer.issue(tx, updated, principal.tenantId);
      return updated;
    });
    if (!decided) throw new AppError("request_not_pending", `Request ${requestId} is ${row.status}; it can no longer be decided`);
    this.deps.waiters.notify(row.id);
    return this.deps.clearance.reply(principal, sql, decided);
  }
}

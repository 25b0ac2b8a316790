import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import type { ClearanceReply, ClearanceService } from "../requests/clearance-service.js";
import { applyDecision, type ClearanceRow, type ClearanceStatus, type DecisionFields } from "../requests/request-store.js";
import type { TokenIssuer } from "../requests/token-issuer.js";
import type { DecisionWaiters } from "../requests/waiters.js";
import type { LedgerWriter } from "../ledger/store/ledger-writer.js";
import type { Principal, ReviewerIdentity } from "../tenancy/api-keys.js";
import { newId } from "../tenancy/ids.js";
import { voterOf } from "../tenancy/reviewers.js";
import { ReviewBus } from "../requests/review-bus.js";
import type { ReviewOutbox } from "./review-outbox.js";
import { votesFor, rulesOf, type StoredVote } from "./review-queries.js";
import { isEligible, isPrincipal, quorum } from "../requests/review-rules.js";
import { reviewSummary, type ReviewSummary } from "./review-views.js";

/**
 * Votes on pending requests. Separation of duties is checked here, on the server: the key that
 * submitted a request cannot approve it, nor can its human principal. Any deny ends the request;
 * approvals count until the request's rules are met (N distinct reviewers, and each required group's
 * own N). Every vote, the decision it may cause, its ledger event and what it tells the outside
 * world commit together, under a lock on the request, so concurrent votes are counted exactly once.
 */
export class ReviewService {
  constructor(
    private readonly deps: {
      tenantSql: (tenantId: string) => Promise<Sql>;
      clearance: ClearanceService;
      issuer: TokenIssuer;
      ledger: LedgerWriter;
      waiters: DecisionWaiters;
      bus: ReviewBus;
      outbox: () => ReviewOutbox;
      clock: Clock;
    },
  ) {}

  /** The clearance answer for the voter, with the review's progress as `review`. */
  async decide(principal: Principal, requestId: string, approved: boolean, reviewReason: string): Promise<{ httpStatus: ClearanceReply["httpStatus"]; body: ClearanceReply["body"] & { review: ReviewSummary } }> {
    if (principal.scope === "agent" && approved) {
      throw new AppError("insufficient_scope", "An agent key may only cancel a request (approved: false), not approve it");
    }
    const sql = await this.deps.tenantSql(principal.tenantId);
    const outcome = await sql.transaction(async (tx) => {
      const row = (await tx.query<ClearanceRow>("SELECT * FROM clearance_requests WHERE id = $1 FOR UPDATE", [requestId]))[0];
      if (!row) throw new AppError("request_not_found", `No clearance request ${requestId}`);
      const result = principal.scope === "agent" ? await this.cancel(tx, principal, row) : await this.vote(tx, principal, row, approved, reviewReason);
      await ReviewBus.record(tx, row.id);
      return result;
    });
    this.deps.waiters.notify(requestId);
    this.deps.bus.changed(principal.tenantId, requestId);
    const reply = await this.deps.clearance.reply(principal, sql, outcome.row);
    return { httpStatus: reply.httpStatus, body: { ...reply.body, review: reviewSummary(outcome.row, outcome.votes, this.deps.clock.now()) } };
  }

  /** An agent withdraws a request the judge or the reviewers have not finished with. */
  private async cancel(tx: Sql, principal: Principal, row: ClearanceRow) {
    const decided = await this.finish(tx, row, ["processing", "pending_review"], false, "Cancelled by agent", "cancelled_by_agent");
    await this.recordVote(tx, principal, voterOf(principal), row.id, false, "cancelled by agent");
    await this.deps.ledger.append(tx, this.deps.ledger.prepare(decided, "review.cancelled_by_agent"));
    await this.deps.outbox().webhookEvent(tx, principal.tenantId, "request.cancelled", decided);
    return { row: decided, votes: (await votesFor(tx, [row.id])).get(row.id) ?? [] };
  }

  private async vote(tx: Sql, principal: Principal, row: ClearanceRow, approved: boolean, reason: string) {
    const voter = voterOf(principal);
    const open: ClearanceStatus[] = approved ? ["pending_review"] : ["processing", "pending_review"];
    if (!open.includes(row.status)) throw new AppError("request_not_pending", `Request ${row.id} is ${row.status}; it can no longer be decided`);
    const rules = rulesOf(row);
    if (!isEligible(rules, voter)) throw new AppError("reviewer_not_eligible", `${voter.name} is not among the reviewers of this request`);
    if (approved && principal.keyId === row.api_key_id) {
      throw new AppError("self_approval_forbidden", "This key submitted the request; another reviewer must approve it");
    }
    if (approved && isPrincipal(row.human_principal, voter)) {
      throw new AppError("principal_approval_forbidden", `${voter.name} is the human principal of this request; another reviewer must approve it`);
    }
    const earlier = (await votesFor(tx, [row.id])).get(row.id) ?? [];
    if (earlier.some((v) => v.reviewer_id === voter.id)) throw new AppError("already_voted", `${voter.name} has already voted on request ${row.id}`);
    await this.recordVote(tx, principal, voter, row.id, approved, reason);
    const votes: StoredVote[] = [...earlier, { reviewer_id: voter.id, approved, groups: voter.groups, reviewer_name: voter.name, reviewer_email: voter.email, reason, created_at: this.deps.clock.now() }];
    const tenantId = principal.tenantId;
    if (!approved) {
      const decided = await this.finish(tx, row, open, false, reason || `Denied by ${voter.name}`, "review_denied");
      await this.deps.ledger.append(tx, this.deps.ledger.prepare(decided, "review.denied", `Denied by ${voter.name}${reason ? `: ${reason}` : ""}`));
      await this.deps.outbox().webhookEvent(tx, tenantId, "request.denied", decided, { reviewer: voter.name });
      return { row: decided, votes };
    }
    const progress = quorum(rules, votes);
    const progressText = `approval ${progress.received} of ${progress.required}${progress.groups.map((g) => `, ${g.name} ${g.received}/${g.required}`).join("")}`;
    if (!progress.met) {
      // The vote is in the ledger even though the request stays pending.
      await this.deps.ledger.append(tx, this.deps.ledger.prepare(row, "review.vote", `Approved by ${voter.name} (${progressText})${reason ? `: ${reason}` : ""}`));
      return { row, votes };
    }
    const decided = await this.finish(tx, row, open, true, reason || `Approved by ${voter.name}`, "review_approved");
    await this.deps.ledger.append(tx, this.deps.ledger.prepare(decided, "review.approved", `Approved by ${voter.name} (${progressText})${reason ? `: ${reason}` : ""}`));
    await this.deps.issuer.issue(tx, decided, tenantId);
    await this.deps.outbox().webhookEvent(tx, tenantId, "request.approved", decided, { reviewers: votes.filter((v) => v.approved).map((v) => v.reviewer_name) });
    return { row: decided, votes };
  }

  /** The request's final state; the judge's evidence stays with it (a reviewer decides on it, not instead of it). */
  private async finish(tx: Sql, row: ClearanceRow, from: ClearanceStatus[], approved: boolean, reason: string, reasonCode: string): Promise<ClearanceRow> {
    const fields: DecisionFields = {
      status: approved ? "approved" : "denied",
      decision_status: approved ? "approved" : "denied",
      reason,
      reason_code: reasonCode,
      confidence_bucket: row.confidence_bucket,
      policy_id: row.policy_id,
      policy_version_id: row.policy_version_id,
      policy_content_hash: row.policy_content_hash,
      applied_policies: row.applied_policies,
      matched_condition_ids: row.matched_condition_ids,
      minimum_confidence_bucket: row.minimum_confidence_bucket,
      citations: row.citations,
      evidence_chunks: row.evidence_chunks,
      judge_trace: row.judge_trace,
      review_rules: row.review_rules,
      expires_at: row.expires_at,
    };
    const decided = await applyDecision(tx, row.id, from, fields, this.deps.clock.now());
    if (!decided) throw new AppError("request_not_pending", `Request ${row.id} is ${row.status}; it can no longer be decided`);
    return decided;
  }

  private async recordVote(tx: Sql, principal: Principal, voter: ReviewerIdentity, requestId: string, approved: boolean, reason: string): Promise<void> {
    await tx.query(
      `INSERT INTO review_decisions (id, request_id, api_key_id, scope, approved, reason, created_at, reviewer_id, reviewer_name, reviewer_email, groups)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [newId("rev"), requestId, principal.keyId, principal.scope, approved, reason, this.deps.clock.now(), voter.id, voter.name, voter.email, voter.groups],
    );
  }
}

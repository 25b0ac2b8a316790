import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import type { ClearanceReply, ClearanceService } from "../requests/clearance-service.js";
import type { ClearanceRequest, ClearanceStatus } from "../requests/clearance-request.js";
import type { RequestLifecycle } from "../requests/lifecycle.js";
import { isEligible, isPrincipal, quorum, rulesOf } from "../requests/review-rules.js";
import { lockRequest } from "../requests/store/request-store.js";
import type { Principal, ReviewerIdentity } from "../tenancy/api-keys.js";
import { newId } from "../tenancy/ids.js";
import { voterOf } from "../tenancy/reviewers.js";
import { votesFor, type StoredVote } from "./review-queries.js";
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
      clearance: ClearanceService;
      lifecycle: RequestLifecycle;
      clock: Clock;
    },
  ) {}

  /** The clearance answer for the voter, with the review's progress as `review`. `sql` is the principal's tenant database. */
  async decide(sql: Sql, principal: Principal, requestId: string, approved: boolean, reviewReason: string): Promise<{ httpStatus: ClearanceReply["httpStatus"]; body: ClearanceReply["body"] & { review: ReviewSummary } }> {
    if (principal.scope === "agent" && approved) {
      throw new AppError("insufficient_scope", "An agent key may only cancel a request (approved: false), not approve it");
    }
    // Keyed by request: votes on one request run in turn within a batch, and the row lock orders them
    // across batches. A refusal is returned, not thrown: it wrote nothing, so it must not roll back
    // the other units of its batch; it is thrown once the batch committed.
    const outcome = await this.deps.lifecycle.commit(sql, requestId, async (tx) => {
      const row = await lockRequest(tx, requestId);
      if (!row) return { refusal: new AppError("request_not_found", `No clearance request ${requestId}`) };
      if (principal.scope === "agent") return this.cancel(tx, principal, row);
      const earlier = (await votesFor(tx, [row.id])).get(row.id) ?? [];
      const refusal = this.refusal(principal, row, approved, earlier);
      return refusal ? { refusal } : this.vote(tx, principal, row, approved, reviewReason, earlier);
    });
    if ("refusal" in outcome) throw outcome.refusal;
    const reply = await this.deps.clearance.reply(principal, sql, outcome.row);
    return { httpStatus: reply.httpStatus, body: { ...reply.body, review: reviewSummary(outcome.row, outcome.votes, this.deps.clock.now()) } };
  }

  /**
   * An agent withdraws a request the judge or the reviewers have not finished with: only one its
   * own key submitted. Another agent's request, an agent claim (submitted by a service key) or a
   * StepAuth request (by its SP) is not an agent's to end.
   */
  private async cancel(tx: Sql, principal: Principal, row: ClearanceRequest) {
    if (row.api_key_id !== principal.keyId) return { refusal: new AppError("insufficient_scope", "An agent key may cancel only a request it submitted") };
    if (row.status !== "processing" && row.status !== "pending_review") return { refusal: notPending(row) };
    const decided = await this.finished(this.deps.lifecycle.finish(tx, principal.tenantId, row, "cancel", { reason: "Cancelled by agent" }), row);
    await this.recordVote(tx, principal, voterOf(principal), row.id, false, "cancelled by agent");
    return { row: decided, votes: (await votesFor(tx, [row.id])).get(row.id) ?? [] };
  }

  /** Why this vote may not be cast (separation of duties, eligibility, state), checked on the locked row. */
  private refusal(principal: Principal, row: ClearanceRequest, approved: boolean, earlier: StoredVote[]): AppError | undefined {
    const voter = voterOf(principal);
    const open: ClearanceStatus[] = approved ? ["pending_review"] : ["processing", "pending_review"];
    if (!open.includes(row.status)) return notPending(row);
    if (!isEligible(rulesOf(row), voter)) return new AppError("reviewer_not_eligible", `${voter.name} is not among the reviewers of this request`);
    if (approved && principal.keyId === row.api_key_id) {
      return new AppError("self_approval_forbidden", "This key submitted the request; another reviewer must approve it");
    }
    if (approved && isPrincipal(row.human_principal, voter)) {
      return new AppError("principal_approval_forbidden", `${voter.name} is the human principal of this request; another reviewer must approve it`);
    }
    if (earlier.some((v) => v.reviewer_id === voter.id)) return new AppError("already_voted", `${voter.name} has already voted on request ${row.id}`);
    return undefined;
  }

  private async vote(tx: Sql, principal: Principal, row: ClearanceRequest, approved: boolean, reason: string, earlier: StoredVote[]) {
    const voter = voterOf(principal);
    const rules = rulesOf(row);
    await this.recordVote(tx, principal, voter, row.id, approved, reason);
    const votes: StoredVote[] = [...earlier, { reviewer_id: voter.id, approved, groups: voter.groups, reviewer_name: voter.name, reviewer_email: voter.email, reason, created_at: this.deps.clock.now() }];
    const { lifecycle } = this.deps;
    const tenantId = principal.tenantId;
    if (!approved) {
      const decided = await this.finished(
        lifecycle.finish(tx, tenantId, row, "reviewDeny", {
          reason: reason || `Denied by ${voter.name}`,
          ledgerReason: `Denied by ${voter.name}${reason ? `: ${reason}` : ""}`,
          webhookExtra: { reviewer: voter.name },
        }),
        row,
      );
      return { row: decided, votes };
    }
    const progress = quorum(rules, votes);
    const progressText = `approval ${progress.received} of ${progress.required}${progress.groups.map((g) => `, ${g.name} ${g.received}/${g.required}`).join("")}`;
    const ledgerReason = `Approved by ${voter.name} (${progressText})${reason ? `: ${reason}` : ""}`;
    if (!progress.met) {
      // The vote is in the ledger even though the request stays pending.
      await lifecycle.recordApproval(tx, tenantId, row, ledgerReason);
      return { row, votes };
    }
    const decided = await this.finished(
      lifecycle.finish(tx, tenantId, row, "reviewApprove", {
        reason: reason || `Approved by ${voter.name}`,
        ledgerReason,
        webhookExtra: { reviewers: votes.filter((v) => v.approved).map((v) => v.reviewer_name) },
      }),
      row,
    );
    return { row: decided, votes };
  }

  /** The request as the transition left it. The row is locked and its state checked, so the transition applies. */
  private async finished(done: Promise<ClearanceRequest | undefined>, row: ClearanceRequest): Promise<ClearanceRequest> {
    const decided = await done;
    if (!decided) throw notPending(row);
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

function notPending(row: ClearanceRequest): AppError {
  return new AppError("request_not_pending", `Request ${row.id} is ${row.status}; it can no longer be decided`);
}

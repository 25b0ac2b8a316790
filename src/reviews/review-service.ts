import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import type { ClearanceReply, ClearanceService } from "../requests/clearance-service.js";
import type { ClearanceRequest, ClearanceStatus } from "../requests/clearance-request.js";
import type { RequestLifecycle } from "../requests/lifecycle.js";
import { passkeyChunkJson } from "../ledger/core/passkey-chunk.js";
import type { PasskeyService } from "../passkeys/passkey-service.js";
import { tokenApprovals, type PasskeyVote } from "../passkeys/passkey-vote.js";
import type { ReviewVote } from "../requests/request-schema.js";
import { isEligible, isPrincipal, quorum, rulesOf } from "../requests/review-rules.js";
import { getRequest, lockRequest } from "../requests/store/request-store.js";
import type { Principal, ReviewerIdentity } from "../tenancy/api-keys.js";
import { newId } from "../tenancy/ids.js";
import { voterOf } from "../tenancy/reviewers.js";
import { votesFor, type StoredVote } from "./review-queries.js";
import { reviewSummary, type ReviewSummary } from "./review-views.js";
import { approvingPasskeyChunks, commitmentInputs, storedPasskey, votePasskey } from "./vote-passkeys.js";
import type { GrantService } from "../grants/grant-service.js";
import { grantView, type GrantView } from "../grants/grant-views.js";
import { agentSignerOf } from "../requests/grant-approval.js";
import { approvedArgsOf, editedVerdictRefusal, grantApprovers, NO_TERMS, storedTerms, termChunks, termsMismatch, termsRefusal, voteTerms, type VoteTerms } from "./vote-terms.js";

/** What a vote carries beyond approved and review_reason: a passkey assertion, a grant, edited arguments. */
export type VoteExtras = Omit<Partial<ReviewVote>, "approved" | "review_reason">;

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
      passkeys: PasskeyService;
      /** Scoped grants an approval may create (src/grants/). */
      grants: GrantService;
    },
  ) {}

  /** The clearance answer for the voter, with the review's progress as `review`. `sql` is the principal's tenant database. */
  async decide(
    sql: Sql,
    principal: Principal,
    requestId: string,
    approved: boolean,
    reviewReason: string,
    extra: VoteExtras = {},
  ): Promise<{ httpStatus: ClearanceReply["httpStatus"]; body: ClearanceReply["body"] & { review: ReviewSummary; grant?: GrantView } }> {
    if (principal.scope === "agent" && approved) {
      throw new AppError("insufficient_scope", "An agent key may only cancel a request (approved: false), not approve it");
    }
    // Checked before the transaction: a constraint is evaluated in a worker, never under the row lock.
    const terms = await this.termsOf(sql, principal, requestId, approved, extra);
    // Keyed by request: votes on one request run in turn within a batch, and the row lock orders them
    // across batches. A refusal is returned, not thrown: it wrote nothing, so it must not roll back
    // the other units of its batch; it is thrown once the batch committed.
    const outcome = await this.deps.lifecycle.commit(sql, requestId, async (tx) => {
      const row = await lockRequest(tx, requestId);
      if (!row) return { refusal: new AppError("request_not_found", `No clearance request ${requestId}`) };
      if (principal.scope === "agent") return this.cancel(tx, principal, row);
      const earlier = (await votesFor(tx, [row.id])).get(row.id) ?? [];
      const refusal = this.refusal(principal, row, approved, earlier) ?? (approved ? await termsMismatch(tx, row.id, terms) : undefined);
      if (refusal) return { refusal };
      const signed = approved ? await votePasskey(tx, this.deps.passkeys, voterOf(principal), row, extra) : {};
      if ("refusal" in signed) return { refusal: signed.refusal };
      return this.vote(tx, principal, row, approved, reviewReason, earlier, signed.passkey, terms);
    });
    if ("refusal" in outcome) throw outcome.refusal;
    const reply = await this.deps.clearance.reply(principal, sql, outcome.row);
    const now = this.deps.clock.now();
    const grant = "grant" in outcome && outcome.grant ? { grant: grantView(outcome.grant, now) } : {};
    return { httpStatus: reply.httpStatus, body: { ...reply.body, review: reviewSummary(outcome.row, outcome.votes, now), ...grant } };
  }

  /**
   * The grant and edited arguments a vote carries, in their one form, refused when they may not be
   * carried (grant_not_allowed), or when the constraint does not compile or is false on the arguments
   * being approved (invalid_constraint, constraint_excludes_request).
   */
  private async termsOf(sql: Sql, principal: Principal, requestId: string, approved: boolean, extra: VoteExtras): Promise<VoteTerms> {
    if (extra.grant === undefined && extra.edited_tool_args === undefined) return NO_TERMS;
    if (principal.scope === "agent") throw new AppError("grant_not_allowed", "An agent key may only cancel a request; it cannot carry a grant or edited arguments");
    const row = await getRequest(sql, requestId);
    if (!row) throw new AppError("request_not_found", `No clearance request ${requestId}`);
    const terms = voteTerms(row, extra);
    const refusal = termsRefusal(row, approved, terms) ?? (!approved ? new AppError("grant_not_allowed", "Only an approval may carry a grant or edited arguments") : undefined);
    if (refusal) throw refusal;
    // A vote that will be refused anyway (decided, not eligible, own request, voted already) must not
    // get the edit judged first: with an LLM that is a paid call per retry. Checked again under the lock.
    const early = this.refusal(principal, row, approved, (await votesFor(sql, [row.id])).get(row.id) ?? []);
    if (early) throw early;
    if (extra.grant?.constraint !== undefined) await this.deps.grants.checkVoteConstraint(principal.tenantId, extra.grant.constraint, approvedArgsOf(row, terms));
    if (terms.edited) {
      // An edit narrows an action; it may not turn it into one the policy denies, or cannot judge.
      const refusal = editedVerdictRefusal(await this.deps.clearance.judgeEdited(principal.tenantId, row, terms.edited));
      if (refusal) throw refusal;
    }
    return terms;
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

  private async vote(tx: Sql, principal: Principal, row: ClearanceRequest, approved: boolean, reason: string, earlier: StoredVote[], passkey?: PasskeyVote, terms: VoteTerms = NO_TERMS) {
    const voter = voterOf(principal);
    const rules = rulesOf(row);
    await this.recordVote(tx, principal, voter, row.id, approved, reason, passkey, terms);
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
    const widened = `${terms.edited ? ", with edited arguments" : ""}${terms.grant ? `, granting ${terms.grant.scope}${terms.grant.window_minutes ? ` ${terms.grant.window_minutes} min` : ""}` : ""}`;
    const ledgerReason = `Approved by ${voter.name} (${progressText}${widened})${reason ? `: ${reason}` : ""}`;
    if (!progress.met) {
      // The vote is in the ledger even though the request stays pending.
      await lifecycle.recordApproval(tx, tenantId, row, ledgerReason, [...(passkey ? [passkeyChunkJson(passkey.chunk)] : []), ...termChunks(terms)]);
      return { row, votes };
    }
    // Every approving vote's assertion (this one was stored above): the approval's event and token name them all.
    const signed = await approvingPasskeyChunks(tx, row.id);
    const grantId = terms.grant ? this.deps.grants.newGrantId() : undefined;
    const decided = await this.finished(
      lifecycle.finish(tx, tenantId, row, "reviewApprove", {
        reason: reason || `Approved by ${voter.name}`,
        ledgerReason,
        evidence: [...signed.map(passkeyChunkJson), ...termChunks(terms, grantId)],
        approvals: tokenApprovals(signed),
        approvedArgs: terms.edited ? { args: terms.edited, hash: terms.editedHash! } : undefined,
        webhookExtra: { reviewers: votes.filter((v) => v.approved).map((v) => v.reviewer_name) },
      }),
      row,
    );
    if (!grantId || !terms.grant) return { row: decided, votes };
    // The grant commits with the approval that created it, or neither does.
    const source = {
      spec: terms.grant as VoteTerms["grant"] & { scope: "session" | "window" },
      request: { id: row.id, tool_name: row.tool_name, policy_id: decided.policy_id!, agent_id: row.agent_id, session_id: row.session_id, api_key_id: row.api_key_id, agent_signer: agentSignerOf(row.agent_identity) },
      approvers: await grantApprovers(tx, row.id),
    };
    const grant = await this.deps.grants.create(tx, tenantId, grantId, source, voter.id);
    return { row: decided, votes, grant };
  }

  /** The request as the transition left it. The row is locked and its state checked, so the transition applies. */
  private async finished(done: Promise<ClearanceRequest | undefined>, row: ClearanceRequest): Promise<ClearanceRequest> {
    const decided = await done;
    if (!decided) throw notPending(row);
    return decided;
  }

  private async recordVote(
    tx: Sql,
    principal: Principal,
    voter: ReviewerIdentity,
    requestId: string,
    approved: boolean,
    reason: string,
    passkey?: PasskeyVote,
    terms: VoteTerms = NO_TERMS,
  ): Promise<void> {
    await tx.query(
      `INSERT INTO review_decisions (id, request_id, api_key_id, scope, approved, reason, created_at, reviewer_id, reviewer_name, reviewer_email, groups, passkey, grant_spec, edited_tool_args)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
      [newId("rev"), requestId, principal.keyId, principal.scope, approved, reason, this.deps.clock.now(), voter.id, voter.name, voter.email, voter.groups, storedPasskey(passkey), ...storedTerms(terms)],
    );
  }

  /**
   * The WebAuthn request options for approving `requestId` (POST /reviews/{id}/passkey-options): only
   * for a voter who could approve it now, with the challenge the vote will be checked against.
   */
  async passkeyOptions(sql: Sql, principal: Principal, requestId: string, extra: VoteExtras) {
    if (principal.scope === "agent") throw new AppError("insufficient_scope", "An agent key may not approve a request");
    const row = await getRequest(sql, requestId);
    if (!row) throw new AppError("request_not_found", `No clearance request ${requestId}`);
    const refusal = this.refusal(principal, row, true, (await votesFor(sql, [row.id])).get(row.id) ?? []);
    if (refusal) throw refusal;
    return this.deps.passkeys.assertionOptions(sql, principal, commitmentInputs(row, extra));
  }
}

function notPending(row: ClearanceRequest): AppError {
  return new AppError("request_not_pending", `Request ${row.id} is ${row.status}; it can no longer be decided`);
}

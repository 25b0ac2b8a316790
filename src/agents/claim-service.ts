import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import type { LedgerWriter } from "../ledger/store/ledger-writer.js";
import type { Outbox } from "../outbox/outbox.js";
import type { RequestLifecycle } from "../requests/lifecycle.js";
import { isEligible, rulesOf } from "../requests/review-rules.js";
import type { ReviewSettingsCache } from "../requests/review-settings.js";
import { getRequest } from "../requests/store/request-store.js";
import type { ReviewService } from "../reviews/review-service.js";
import type { ReviewSummary } from "../reviews/review-views.js";
import type { Principal } from "../tenancy/api-keys.js";
import { newRequestId } from "../tenancy/ids.js";
import { voterOf } from "../tenancy/reviewers.js";
import { submissionRefusal } from "./claim-limits.js";
import { claimEvent, claimReviewRequest } from "./claim-review.js";
import { activeClaim, claimCounts, getClaim, insertClaim, newClaimId, revokeClaim, type AgentClaim } from "./claim-store.js";
import type { NonceStore } from "./nonce-store.js";
import { getService } from "./protected-services.js";
import type { VerifiedSigner } from "./signed-requests.js";

export interface ClaimSubmission {
  namespace: string;
  public_key: string;
  service: string;
  agent_ip: string;
  nonce: string;
  subject?: string;
  agent_id?: string;
  agent_name?: string;
}

/** POST /v1/claims's answer: 201 for a new claim, 200 for the claim already pending or approved. */
export interface SubmitOutcome {
  httpStatus: 200 | 201;
  body: { claim_id: string; status: AgentClaim["status"]; service: string; message: string };
}

/**
 * Agent claims: submitted by a protected service's key with the agent's signature, reviewed as
 * clearance requests of kind agent_claim (claim-review.ts), revoked by a reviewer.
 */
export class ClaimService {
  constructor(
    private readonly deps: {
      clock: Clock;
      lifecycle: RequestLifecycle;
      reviews: ReviewService;
      reviewSettings: ReviewSettingsCache;
      ledger: LedgerWriter;
      outbox: Outbox;
      nonces: NonceStore;
    },
  ) {}

  /** `signer` is the agent, already verified against the body's namespace and key. */
  async submit(service: Principal, signer: VerifiedSigner, body: ClaimSubmission): Promise<SubmitOutcome> {
    const { sql, tenantId } = signer;
    if (body.service !== service.serviceSlug) {
      throw new AppError("FORBIDDEN", `API key belongs to service "${service.serviceSlug}" but the request is for "${body.service}"`);
    }
    if (!(await getService(sql, body.service))) throw new AppError("FORBIDDEN", `Service ${body.service} is no longer registered`);
    await this.deps.nonces.use(sql, `service:${body.service}`, body.nonce, "NONCE_REPLAY");
    const existing = await activeClaim(sql, body.namespace, body.service, body.public_key);
    if (existing) return this.already(existing);

    const now = this.deps.clock.now();
    const claim: AgentClaim = {
      claim_id: newClaimId(),
      namespace: body.namespace,
      service: body.service,
      public_key: body.public_key,
      status: "pending",
      subject: body.subject ?? signer.subject,
      agent_id: body.agent_id ?? null,
      agent_name: body.agent_name?.trim() || null,
      agent_ip: body.agent_ip,
      request_id: null,
      approved_at: null,
      decided_at: null,
      revoked_at: null,
      reason: null,
      created_at: now,
    };
    const refusal = submissionRefusal(await claimCounts(sql, body.namespace, body.service));
    if (refusal) return this.autoReject(sql, tenantId, { ...claim, status: "rejected", decided_at: now, reason: refusal.reason }, refusal.message);

    claim.request_id = newRequestId();
    const request = claimReviewRequest(claim, service.keyId, await this.deps.reviewSettings.get(tenantId, sql), now);
    // Signed before the batch: nothing slow runs inside the shared transaction.
    const ledger = await this.deps.lifecycle.decidedEvent(tenantId, request);
    const { lifecycle } = this.deps;
    const inserted = await lifecycle.commit(sql, claimKey(claim), async (tx) => {
      if (!(await insertClaim(tx, claim))) return false;
      await lifecycle.insertDecided(tx, tenantId, request, null, ledger);
      await claimEvent(this.deps.outbox, tx, tenantId, "request.submitted", claim);
      return true;
    });
    if (!inserted) return this.already((await activeClaim(sql, body.namespace, body.service, body.public_key))!);
    return { httpStatus: 201, body: { claim_id: claim.claim_id, status: "pending", service: claim.service, message: "Access request submitted. Awaiting review." } };
  }

  /**
   * A reviewer's vote on a pending claim, through the review machinery: quorum and separation of
   * duties apply, so the claim may stay pending after an approval. The vote that would approve it
   * past a limit is refused by the claim's kind handler (claim-review.ts), as on every path.
   */
  async vote(sql: Sql, principal: Principal, claimId: string, approved: boolean, reason: string): Promise<{ claim: AgentClaim; review: ReviewSummary }> {
    const claim = await this.claimOrNotFound(sql, claimId);
    if (claim.status !== "pending" || claim.request_id === null) throw new AppError("CLAIM_NOT_PENDING", `Claim ${claimId} is ${claim.status}`);
    const result = await this.deps.reviews.decide(sql, principal, claim.request_id, approved, reason);
    return { claim: (await getClaim(sql, claimId))!, review: result.body.review };
  }

  /**
   * Revokes an approved claim: the claim, its `agent_claim.revoked` ledger event (on the claim's
   * review request) and the `request.revoked` webhooks commit together. The reviewer must be one
   * the claim's review rules admit.
   */
  async revoke(sql: Sql, principal: Principal, claimId: string, reason: string): Promise<AgentClaim> {
    const claim = await this.claimOrNotFound(sql, claimId);
    if (claim.status !== "approved") throw new AppError("CLAIM_NOT_APPROVED", `Claim ${claimId} is ${claim.status}; only an approved claim can be revoked`);
    const request = claim.request_id ? await getRequest(sql, claim.request_id) : undefined;
    if (!request) throw new AppError("CLAIM_NOT_APPROVED", `Claim ${claimId} has no review request`);
    const voter = voterOf(principal);
    if (!isEligible(rulesOf(request), voter)) throw new AppError("reviewer_not_eligible", `${voter.name} is not among the reviewers of this claim`);
    const text = `Agent claim ${claimId} revoked by ${voter.name}${reason ? `: ${reason}` : ""}`;
    // The event records the access as no longer granted: approved false, whatever the request's own decision was.
    const ledger = await this.deps.ledger.prepare({ ...request, status: "denied", decision_status: "denied" }, "agent_claim.revoked", text, principal.tenantId);
    const revoked = await this.deps.lifecycle.commit(sql, request.id, async (tx) => {
      const row = await revokeClaim(tx, claimId, this.deps.clock.now(), reason || `revoked by ${voter.name}`);
      if (!row) return undefined;
      await this.deps.ledger.append(tx, ledger);
      await claimEvent(this.deps.outbox, tx, principal.tenantId, "request.revoked", row);
      return row;
    });
    if (!revoked) throw new AppError("CLAIM_NOT_APPROVED", `Claim ${claimId} is no longer approved`);
    return revoked;
  }

  private async claimOrNotFound(sql: Sql, claimId: string): Promise<AgentClaim> {
    const claim = await getClaim(sql, claimId);
    if (!claim) throw new AppError("NOT_FOUND", `Claim ${claimId} not found`);
    return claim;
  }

  private already(c: AgentClaim): SubmitOutcome {
    const message = c.status === "approved" ? "Authorization already approved for this key." : "Authorization request already pending for this key.";
    return { httpStatus: 200, body: { claim_id: c.claim_id, status: c.status, service: c.service, message } };
  }

  /** A claim refused at once by a limit: stored rejected (no review), and reported like any rejection. */
  private async autoReject(sql: Sql, tenantId: string, claim: AgentClaim, message: string): Promise<SubmitOutcome> {
    await this.deps.lifecycle.commit(sql, claimKey(claim), async (tx) => {
      await insertClaim(tx, claim);
      await claimEvent(this.deps.outbox, tx, tenantId, "request.rejected", claim);
    });
    return { httpStatus: 201, body: { claim_id: claim.claim_id, status: "rejected", service: claim.service, message } };
  }
}

const claimKey = (c: AgentClaim) => `agent_claim ${c.namespace} ${c.service} ${c.public_key}`;

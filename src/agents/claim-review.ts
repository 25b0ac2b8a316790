import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import type { Outbox } from "../outbox/outbox.js";
import type { SigilumEventType } from "../outbox/events.js";
import type { ClearanceRequest } from "../requests/clearance-request.js";
import type { RequestKindHandler } from "../requests/request-kinds.js";
import type { ReviewSettings } from "../requests/review-settings.js";
import type { NewClearanceRequest } from "../requests/store/request-store.js";
import { canonicalJson, sha256Hex, toolArgsHash } from "../tokens/canonical-json.js";
import { approveWithinLimits } from "./claim-limits.js";
import { claimOfRequest, rejectClaim, type AgentClaim } from "./claim-store.js";

/**
 * A claim is reviewed as a clearance request of kind `agent_claim`: the same review machinery
 * (quorum, separation of duties, expiry, reminders, ledger events, console) decides it. The request
 * goes straight to review under the tenant's review rules; no policy judges it, so no policy can
 * approve an agent's access on its own.
 */
export const AGENT_CLAIM_TOOL = "countersign.agent_claim";

/** The claim as the request's tool_args (and Sigilum's webhook data): what the reviewers approve. */
export function claimData(c: AgentClaim): Record<string, string | null> {
  return {
    claim_id: c.claim_id,
    namespace: c.namespace,
    service: c.service,
    public_key: c.public_key,
    agent_ip: c.agent_ip,
    subject: c.subject,
    agent_id: c.agent_id,
    agent_name: c.agent_name,
  };
}

/**
 * The review request of a new claim, submitted by the service key `apiKeyId`. Its human principal is
 * the claim's subject, so the person an agent acts for cannot approve that agent's access.
 */
export function claimReviewRequest(c: AgentClaim, apiKeyId: string, settings: ReviewSettings, now: Date): NewClearanceRequest {
  const args = claimData(c);
  const rules = settings.rules;
  const who = c.agent_name ? `${c.agent_name} (${c.namespace})` : `An agent of ${c.namespace}`;
  return {
    id: c.request_id!,
    kind: "agent_claim",
    idempotency_key: null,
    body_hash: sha256Hex(canonicalJson(args)),
    api_key_id: apiKeyId,
    tool_name: AGENT_CLAIM_TOOL,
    tool_args: args,
    tool_args_hash: toolArgsHash(args),
    agent_id: c.agent_id ?? c.subject,
    session_id: "",
    human_principal: c.subject,
    parent_jti: null,
    context: {},
    extras: {},
    status: "pending_review",
    decision_status: "approved_pending_review",
    reason: `${who} asks to use service ${c.service} with key ${c.public_key}; a reviewer decides`,
    reason_code: "agent_claim",
    confidence_bucket: "none",
    policy_id: null,
    policy_version_id: null,
    policy_content_hash: null,
    applied_policies: [],
    matched_condition_ids: [],
    minimum_confidence_bucket: settings.minimum_confidence_bucket,
    citations: [],
    evidence_chunks: [],
    judge_trace: { steps: [], agent_claim: c.claim_id },
    review_rules: rules,
    expires_at: new Date(now.getTime() + rules.expiry_seconds * 1000),
    original_request_id: null,
    agent_identity: null,
    created_at: now,
    decided_at: now,
  };
}


/** Why a review ended in a refusal, in the claim's words. */
function rejectionReason(request: ClearanceRequest): string {
  if (request.reason_code === "review_expired") return "expired";
  if (request.reason_code === "cancelled_by_agent") return "cancelled";
  return request.reason || "rejected by a reviewer";
}

/**
 * The lifecycle's hook for kind agent_claim (src/requests/request-kinds.ts): in the transaction in
 * which the claim's review request is approved or denied (a vote, expiry), the claim follows, and
 * the `sigilum` webhook endpoints hear of it. An approval that would pass a limit is refused here,
 * the one place every approving path goes through; and it issues no token (the claim is the grant).
 */
export class ClaimKindHandler implements RequestKindHandler {
  readonly issuesToken = false;

  constructor(
    private readonly outbox: Outbox,
    private readonly clock: Clock,
  ) {}

  async decided(tx: Sql, tenantId: string, request: ClearanceRequest): Promise<void> {
    const at = request.decided_at ? new Date(request.decided_at) : this.clock.now();
    if (request.status === "approved") {
      const pending = await claimOfRequest(tx, request.id);
      if (pending?.status !== "pending") return;
      const claim = await approveWithinLimits(tx, pending, { at, reason: request.reason });
      await claimEvent(this.outbox, tx, tenantId, "request.approved", claim);
      return;
    }
    const claim = await rejectClaim(tx, request.id, { at, reason: rejectionReason(request) });
    if (claim) await claimEvent(this.outbox, tx, tenantId, "request.rejected", claim);
  }
}

/** A Sigilum webhook event about a claim, to the tenant's `sigilum` endpoints (reference §8). */
export function claimEvent(outbox: Outbox, tx: Sql, tenantId: string, event: SigilumEventType, claim: AgentClaim): Promise<void> {
  const data: Record<string, unknown> = claimData(claim);
  if (event === "request.rejected" || event === "request.revoked") data.reason = claim.reason;
  return outbox.sigilumEvent(tx, tenantId, event, claim.request_id, data);
}

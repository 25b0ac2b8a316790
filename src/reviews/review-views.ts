import type { ClearanceRequest } from "../requests/clearance-request.js";
import type { ReviewerIdentity } from "../tenancy/api-keys.js";
import { isEligible, isPrincipal, rulesOf } from "../requests/review-rules.js";
import { progressOf, type RecordedVote, type StoredVote, type VotingKey } from "./review-queries.js";

/** The JSON a reviewer sees: everything needed to decide, without looking anything up. */

/** The same rule as the listing's decided_by filter (requests/store/review-listing.ts): rules or votes mean it went to review. */
function decidedBy(row: ClearanceRequest, votes: StoredVote[]): "review" | "automatic" | null {
  if (row.review_rules !== null || votes.length > 0) return "review";
  return row.status === "approved" || row.status === "denied" ? "automatic" : null;
}

export function reviewSummary(row: ClearanceRequest, votes: StoredVote[], now: Date) {
  const progress = progressOf(row, votes);
  return {
    request_id: row.id,
    status: row.status,
    /** `review`: it went to review; `automatic`: the conditions or the judge decided alone; null while processing. */
    decided_by: decidedBy(row, votes),
    decision_status: row.decision_status,
    reason_code: row.reason_code,
    tool_name: row.tool_name,
    agent_id: row.agent_id,
    human_principal: row.human_principal,
    policy_id: row.policy_id,
    reason: row.reason,
    confidence_bucket: row.confidence_bucket,
    created_at: new Date(row.created_at).toISOString(),
    decided_at: row.decided_at ? new Date(row.decided_at).toISOString() : null,
    expires_at: row.expires_at ? new Date(row.expires_at).toISOString() : null,
    age_seconds: Math.max(0, Math.floor((now.getTime() - new Date(row.created_at).getTime()) / 1000)),
    approvals: { received: progress.received, required: progress.required, groups: progress.groups },
    votes: votes.length,
  };
}

export type ReviewSummary = ReturnType<typeof reviewSummary>;

/** Why this viewer may not approve or deny, or null when they may. Mirrors ReviewService's checks. */
export function viewerRights(row: ClearanceRequest, votes: StoredVote[], viewer: ReviewerIdentity, viewerKeyId: string) {
  const rules = rulesOf(row);
  let whyNot: string | null = null;
  if (row.status !== "pending_review" && row.status !== "processing") whyNot = `the request is ${row.status}`;
  else if (!isEligible(rules, viewer)) whyNot = "you are not among the reviewers of this request";
  else if (votes.some((v) => v.reviewer_id === viewer.id)) whyNot = "you have already voted";
  const approveBlock = whyNot ?? (viewerKeyId === row.api_key_id ? "you submitted this request" : isPrincipal(row.human_principal, viewer) ? "you are its human principal" : null);
  return { reviewer_id: viewer.id, can_approve: approveBlock === null && row.status === "pending_review", can_deny: whyNot === null, why_not: approveBlock };
}

/**
 * Who cast a vote, as people read it: the reviewer's name and email when a reviewer identity stood
 * behind the key (as recorded with the vote), else the key's own label, else "API key <id>". A
 * vote older than identities, cast with a key that belongs to a reviewer, takes that reviewer's.
 */
export function voteView(v: RecordedVote, keys: Map<string, VotingKey>) {
  const key = keys.get(v.api_key_id);
  const person = v.has_identity ? { name: v.reviewer_name, email: v.reviewer_email } : key?.reviewer_name ? { name: key.reviewer_name, email: key.reviewer_email ?? "" } : null;
  return {
    reviewer_id: v.reviewer_id,
    reviewer_name: person?.name || (key?.label ? key.label : `API key ${v.api_key_id}`),
    reviewer_email: person?.email ?? "",
    /** `reviewer`: a person's key or console session; `api_key`: a key with no reviewer identity. */
    voter_kind: person ? ("reviewer" as const) : ("api_key" as const),
    api_key_id: v.api_key_id,
    api_key_label: key?.label || null,
    scope: v.scope,
    approved: v.approved,
    reason: v.reason,
    created_at: new Date(v.created_at).toISOString(),
    /** The passkey that signed this vote (its assertion is in the vote's ledger event), or null. */
    passkey: v.passkey_credential ? { credential_id: v.passkey_credential } : null,
  };
}

export function reviewDetail(
  row: ClearanceRequest,
  votes: RecordedVote[],
  now: Date,
  viewer: ReturnType<typeof viewerRights>,
  ledger: { events: number; in_checkpoint: boolean; checkpoint_id: number | null },
  extra: { policyDefaultDecision: string | null; judgeReason: string | null; keys: Map<string, VotingKey> },
) {
  return {
    ...reviewSummary(row, votes, now),
    /**
     * The judge's reason, as recorded when it decided: `reason` is the request's as it stands, which
     * a reviewer's decision replaces. Null when the judge never decided (a reviewer denied first).
     */
    judge_reason: extra.judgeReason,
    // Of the policy version that judged the request; "approve" makes the console show its warning.
    policy_default_decision: extra.policyDefaultDecision,
    tool_args: row.tool_args,
    context: row.context,
    session_id: row.session_id,
    matched_condition_ids: row.matched_condition_ids,
    citations: row.citations,
    evidence_chunks: row.evidence_chunks,
    rules: rulesOf(row),
    votes_detail: votes.map((v) => voteView(v, extra.keys)),
    viewer,
    ledger,
  };
}

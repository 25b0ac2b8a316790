import type { AppliedPolicy, ConfidenceBucket, EvidenceChunk } from "../judge/judge.js";
import type { AgentIdentity } from "../tenancy/agent-identity.js";
import type { ReviewRules } from "./review-rules.js";

/**
 * A clearance request as every module sees it: what was asked, and the decision as it stands.
 * Field names are the protocol's (snake_case), so answers, webhooks and ledger events map one to
 * one. How the store keeps it (leases, attempt counts, reminder marks) is the store's own
 * (store/request-store.ts) and never leaves it.
 */
export type ClearanceStatus = "processing" | "pending_review" | "approved" | "denied";
export type DecisionStatus = "approved" | "denied" | "approved_pending_review";

export interface ClearanceRequest {
  id: string;
  /**
   * `mint`: a re-issued token for an earlier approval (/mint-token). `stepauth`: a StepAuth
   * AuthorizationRequest (src/stepauth/). `agent_claim`: an agent's claim to a service (src/agents/).
   * Kinds other than clearance and mint may have a RequestKindHandler (request-kinds.ts).
   */
  kind: "clearance" | "mint" | "stepauth" | "agent_claim";
  idempotency_key: string | null;
  body_hash: string;
  api_key_id: string;
  tool_name: string;
  tool_args: Record<string, unknown>;
  tool_args_hash: string;
  agent_id: string;
  session_id: string;
  human_principal: string | null;
  parent_jti: string | null;
  context: Record<string, unknown>;
  extras: Record<string, unknown>;
  status: ClearanceStatus;
  decision_status: DecisionStatus | null;
  reason: string;
  reason_code: string | null;
  confidence_bucket: ConfidenceBucket;
  policy_id: string | null;
  policy_version_id: string | null;
  policy_content_hash: string | null;
  applied_policies: AppliedPolicy[];
  matched_condition_ids: string[];
  /** The tenant threshold in force when this decision was made. */
  minimum_confidence_bucket: ConfidenceBucket;
  citations: EvidenceChunk[];
  evidence_chunks: EvidenceChunk[];
  judge_trace: Record<string, unknown>;
  /** The review rules in force when the request went to review, and when it expires. */
  review_rules: ReviewRules | null;
  expires_at: Date | null;
  original_request_id: string | null;
  /**
   * The Sigilum signer of the request as verified (src/agents/), or null when it was not signed.
   * Optional only for rows built before it existed; stored rows always have it (null or the identity).
   */
  agent_identity?: AgentIdentity | null;
  /**
   * Edit-on-approve (docs/grants.md): the arguments the reviewers approved in place of tool_args, and
   * their hash, which the token binds. Null (or absent on rows built before) when not edited.
   */
  approved_tool_args?: Record<string, unknown> | null;
  approved_tool_args_hash?: string | null;
  /** The grant that approved this request (reason_code grant_approved), else null or absent. */
  grant_id?: string | null;
  created_at: Date;
  decided_at: Date | null;
}

/** What a decision sets on a request: its outcome, what it rests on, and (for a review) its rules. */
export type DecisionFields = Pick<
  ClearanceRequest,
  | "status" | "reason" | "reason_code" | "confidence_bucket" | "policy_id" | "policy_version_id" | "policy_content_hash"
  | "applied_policies" | "matched_condition_ids" | "minimum_confidence_bucket" | "citations" | "evidence_chunks"
  | "judge_trace" | "review_rules" | "expires_at"
> & { decision_status: DecisionStatus; grant_id?: string | null };

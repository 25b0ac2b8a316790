import { canonicalJson, sha256Hex } from "../../tokens/canonical-json.js";
// The vault builds events here: make sure the core hashes with node:crypto (see node-crypto.ts).
import "./node-crypto.js";
import type { ConfidenceBucket, JsonObject, LedgerEvent } from "./event-hash.js";
import { eventUuidFor } from "./event-uuid.js";
import type { LedgerEventType } from "./wire.js";

/**
 * Turns a decided request into the ledger event that commits to it (protocol §4.2). The event's
 * fields are the decision as it stands when the event is written; which step wrote it is the
 * event type, and the `reason` says so in words for events that are not the judge's own.
 */

/** The legacy float the SDK derives from a bucket (§4.2 "Legacy fallback"); we send it explicitly. */
const BUCKET_MIDPOINT: Record<ConfidenceBucket, number> = { extra_high: 0.95, high: 0.85, medium: 0.6, low: 0.2, none: 0 };

/**
 * What the ledger needs of a decided request: the decided fields plus the original intent. The
 * ledger defines it itself (the request module's type satisfies it), so the ledger depends on no
 * module above it.
 */
export interface DecidedRequest {
  id: string;
  agent_id: string;
  session_id: string;
  human_principal: string | null;
  tool_name: string;
  tool_args: Record<string, unknown>;
  tool_args_hash: string;
  context: Record<string, unknown>;
  status: "processing" | "pending_review" | "approved" | "denied";
  decision_status: "approved" | "denied" | "approved_pending_review" | null;
  reason: string;
  confidence_bucket: ConfidenceBucket;
  policy_id: string | null;
  applied_policies: readonly unknown[];
  matched_condition_ids: readonly string[];
  citations: readonly unknown[];
  evidence_chunks: readonly unknown[];
  judge_trace: Record<string, unknown>;
  /** The verified Sigilum signer (src/tenancy/agent-identity.ts's shape); null or absent when unsigned. */
  agent_identity?: { verified: boolean; namespace: string; subject: string; key: string; claim_id: string; services: readonly string[] } | null;
  /** The review rules the request is reviewed under (requests/review-rules.ts); only the passkey rule reaches the ledger. */
  review_rules?: { require_passkey?: boolean; approvals_required?: number } | null;
}

/**
 * The verified signer as an evidence chunk of every event of the request. The ledger event's fields
 * are fixed by the Ledgix wire protocol (§2.7), and evidence_chunks is the list of JSON objects it
 * carries as they are: an SDK verifier hashes them without reading them. Every key is one lowercase
 * word, as in the execution report (requests/execution-event.ts), so the SDK's camelCasing leaves the
 * chunk, and so the event's hash, unchanged. Only a verified identity is recorded.
 */
export function agentIdentityChunk(row: Pick<DecidedRequest, "agent_identity">): JsonObject | null {
  const a = row.agent_identity;
  if (!a?.verified) return null;
  return { type: "agent_identity", verified: true, namespace: a.namespace, subject: a.subject, key: a.key, claim: a.claim_id, services: [...a.services] };
}

/**
 * What shadow-mode policies (src/judge/shadow.ts) would have decided, as an evidence chunk of the
 * judge's decision event: `enforced: false` says none of it was the answer. Keys are one lowercase
 * word, as in agentIdentityChunk, so the SDK's camelCasing leaves the event's hash unchanged. Null
 * when no shadow policy applied: such requests hash exactly as they did before shadow mode existed.
 */
export function shadowChunk(row: Pick<DecidedRequest, "judge_trace">): JsonObject | null {
  const decisions = row.judge_trace?.shadow;
  if (!Array.isArray(decisions) || decisions.length === 0) return null;
  const text = (v: unknown) => (typeof v === "string" ? v : "");
  return {
    type: "shadow",
    enforced: false,
    decisions: decisions.map((d: Record<string, unknown>) => ({
      policy: text(d?.policy_id),
      version: text(d?.policy_version_id),
      decision: text(d?.decision),
      matched: Array.isArray(d?.matched_condition_ids) ? d.matched_condition_ids.filter((m): m is string => typeof m === "string") : [],
      reason: text(d?.reason),
    })),
  };
}

/**
 * The passkey rule a request is reviewed under, as an evidence chunk of its review events: without
 * it, a bundle of an approval that carries no passkey signature cannot say whether one was required,
 * and a "passkey approvals" check would pass by having nothing to check. The pending-review event
 * commits to the rule before any vote, so an approval recorded later without the signatures it
 * needed is caught offline (ledger/verify/bundle-verifier-passkeys.ts). Keys are one lowercase word
 * (see agentIdentityChunk). Null when no passkey is required: such events hash as they always did.
 */
export function passkeyRuleChunk(row: Pick<DecidedRequest, "review_rules">): JsonObject | null {
  const rules = row.review_rules;
  if (rules?.require_passkey !== true) return null;
  return { type: "review_rules", passkey: true, approvals: typeof rules.approvals_required === "number" ? rules.approvals_required : 1 };
}

/** The events of a review: the request sent to it, and the approving votes (a deny needs no passkey). */
const REVIEWED: readonly LedgerEventType[] = ["clearance.pending_review", "review.vote", "review.approved"];

const JUDGED: readonly LedgerEventType[] = ["clearance.approved", "clearance.denied", "clearance.pending_review"];

export function clearanceEventType(status: DecidedRequest["status"]): LedgerEventType {
  if (status === "approved") return "clearance.approved";
  if (status === "denied") return "clearance.denied";
  if (status === "pending_review") return "clearance.pending_review";
  throw new Error(`a request in status ${status} has no decision to record`);
}

export function ledgerEventFor(row: DecidedRequest, type: LedgerEventType, acceptedAt: Date, reason?: string): LedgerEvent {
  const matched = row.matched_condition_ids;
  // The protocol's own derivation (§4.2 "legacy fallback"): approved_pending_review counts as approved,
  // so every verifier that derives the flag from decision_status agrees with the stored one.
  const approved = type === "token.minted" || type === "token.consumed" || type === "token.executed" || row.decision_status === "approved" || row.decision_status === "approved_pending_review";
  const event: LedgerEvent = {
    // Commits to the event type: see event-uuid.ts.
    event_uuid: eventUuidFor(type),
    request_id: row.id,
    agent_id: row.agent_id,
    policy_id: row.policy_id ?? "",
    // The same SHA-256 of the canonical arguments that the A-JWT binds (tool_args_hash).
    intent_hash: row.tool_args_hash,
    tool_name: row.tool_name,
    tool_args: row.tool_args as JsonObject,
    reason: reason ?? row.reason,
    citations: row.citations as unknown as JsonObject[],
    // The shadow chunk belongs to the judge's own event only: later events of the request did not judge.
    evidence_chunks: withChunk(
      withChunk(withChunk(row.evidence_chunks as unknown as JsonObject[], JUDGED.includes(type) ? shadowChunk(row) : null), agentIdentityChunk(row)),
      REVIEWED.includes(type) ? passkeyRuleChunk(row) : null,
    ),
    confidence: BUCKET_MIDPOINT[row.confidence_bucket],
    approved,
    accepted_at: acceptedAt.toISOString(),
    // Version 3 when deterministic conditions matched: the event then commits to which ones and to
    // the inputs and trace of that evaluation.
    canonical_version: matched.length > 0 ? 3 : 2,
    confidence_bucket: row.confidence_bucket,
    decision_status: row.decision_status,
  };
  if (event.canonical_version === 3) {
    event.rule_set_hash = sha256Hex(canonicalJson(row.applied_policies));
    event.matched_rule_ids = [...matched];
    event.eval_inputs_hash = sha256Hex(
      canonicalJson({
        tool_name: row.tool_name,
        tool_args: row.tool_args,
        context: row.context,
        agent_id: row.agent_id,
        session_id: row.session_id,
        human_principal: row.human_principal,
        // Conditions read the verified signer too (`agent`); unsigned requests hash as they always did.
        ...(agentIdentityChunk(row) ? { agent_identity: row.agent_identity } : {}),
      }),
    );
    event.eval_trace_hash = sha256Hex(canonicalJson(row.judge_trace));
    event.classifier_label = null;
    event.classifier_confidence_bucket = null;
  }
  return event;
}

const withChunk = (chunks: JsonObject[], chunk: JsonObject | null): JsonObject[] => (chunk ? [...chunks, chunk] : chunks);

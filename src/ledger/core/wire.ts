import type { CanonicalVersion, ConfidenceBucket, DecisionStatus, JsonObject } from "./event-hash.js";

/**
 * The ledger's JSON shapes, exactly as the wire protocol (§2.7–2.11) and the ledgix-ts SDK expect:
 * snake_case, lowercase hex hashes, base64url payloads and signatures, `null` only where the SDK's
 * schema allows it, and optional fields omitted rather than null.
 */

export const LEDGER_EVENT_TYPES = [
  "clearance.approved",
  "clearance.denied",
  "clearance.pending_review",
  "review.approved",
  "review.denied",
  "review.cancelled_by_agent",
  "token.minted",
  "token.consumed",
  // Appended, never reordered: the index is the type code signed into every event_uuid (event-uuid.ts).
  "review.vote",
  "review.expired",
  "token.executed",
  // A StepAuth decision as signed by the tenant's hub keyset, and the SP's execution result (src/stepauth/).
  "stepauth.decision",
  "stepauth.executed",
  // An approved agent claim revoked by a reviewer (src/agents/); its submission and review are the request's own events.
  "agent_claim.revoked",
  // Code 14: every fact that is not a request's (passkey enrolment, grants, policy modes, replays). One
  // extensible type, its action named inside the event (audit-event.ts), because only codes 14 and 15
  // were left; code 15 stays reserved.
  "vault.audit",
] as const;
export type LedgerEventType = (typeof LEDGER_EVENT_TYPES)[number];

/** §2.7 LedgerEntry. `event_type` and `intent_hash_committed` are ours; the SDK ignores unknown fields. */
export interface LedgerEntryWire {
  seq: number;
  event_uuid: string;
  event_type: LedgerEventType;
  request_id: string;
  agent_id: string;
  policy_id: string;
  /** "" marks a row served redacted (§4.7 step 3a); `intent_hash_committed` then holds the hashed value. */
  intent_hash: string;
  intent_hash_committed?: string;
  tool_name: string;
  tool_args: JsonObject;
  reason: string;
  citations: JsonObject[];
  evidence_chunks: JsonObject[];
  confidence: number;
  approved: boolean;
  confidence_bucket: ConfidenceBucket | null;
  decision_status: DecisionStatus | null;
  accepted_at: string;
  canonical_version: CanonicalVersion;
  event_hash: string;
  leaf_hash: string;
  leaf_index: number | null;
  checkpoint_id: number | null;
  receipt_algorithm: "Ed25519";
  receipt_key_id: string;
  receipt_signature: string;
  receipt_payload: string;
  rule_set_hash: string | null;
  matched_rule_ids: string[] | null;
  eval_inputs_hash: string | null;
  eval_trace_hash: string | null;
  classifier_label: string | null;
  classifier_confidence_bucket: ConfidenceBucket | null;
}

/** §2.8 Checkpoint. `exported_at` is omitted, never null, until the checkpoint is anchored. */
export interface CheckpointWire {
  checkpoint_id: number;
  microblock_id: number;
  tree_size: number;
  root_hash: string;
  checkpoint_hash: string;
  prev_checkpoint_hash: string;
  signature_algorithm: "Ed25519";
  signer_key_id: string;
  checkpoint_signature: string;
  checkpoint_payload: string;
  signed_at: string;
  mmd_seconds: number;
  export_target: string;
  export_uri: string;
  export_status: string;
  exported_at?: string;
}

/** §2.9 */
export interface InclusionProofWire {
  event_uuid: string;
  request_id: string;
  event_hash: string;
  leaf_hash: string;
  leaf_index: number;
  tree_size: number;
  path: string[];
  checkpoint: CheckpointWire;
}

/** §2.10 */
export interface ConsistencyProofWire {
  from_checkpoint: CheckpointWire;
  to_checkpoint: CheckpointWire;
  path: string[];
}

/** §2.11 KeyVersion: `public_jwk` is base64url of the JWK's JSON text; `retired_at` omitted, never null. */
export interface KeyVersionWire {
  key_id: string;
  algorithm: string;
  public_jwk: string;
  active_from: string;
  retired_at?: string;
  attestation_payload: string;
  attestation_signature: string;
  attestation_key_id: string;
  attestation_status: string;
}

/**
 * §2.11 bundle. `consistency` is omitted (never null) when the event's first covering checkpoint is
 * the newest. `c2sp_checkpoint` (ours) is the same tree head as a C2SP signed note, and
 * `c2sp_verifier_key` the key string that verifies it, so standard tlog tooling can check it too.
 */
export interface ProofBundleWire {
  event: LedgerEntryWire;
  inclusion: InclusionProofWire;
  consistency?: ConsistencyProofWire;
  keys: KeyVersionWire[];
  c2sp_checkpoint?: string;
  c2sp_verifier_key?: string;
  /**
   * Ours: the request's other events (approval, votes, burn, execution), each with its inclusion in
   * the same tree head as `inclusion`, in write order; omitted when there are none. The SDK ignores it.
   */
  request_events?: RequestEventProofWire[];
  /**
   * Ours: the `vault.audit` `passkey.enrolled` events whose public keys verify the passkey assertions
   * in the request's events (docs/passkeys.md), each proven in the same tree head as `inclusion`;
   * omitted when no event carries one. The SDK ignores it.
   */
  passkey_enrolments?: RequestEventProofWire[];
}

/** One more event of the bundle's request, proven in the bundle's inclusion checkpoint. */
export interface RequestEventProofWire {
  event: LedgerEntryWire;
  inclusion: InclusionProofWire;
}

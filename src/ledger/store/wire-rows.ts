import { openBody } from "../core/body-cipher.js";
import { asSdkSeesIt, eventHash, receiptPayload, type LedgerEvent } from "../core/event-hash.js";
import type { CheckpointWire, LedgerEntryWire, LedgerEventType } from "../core/wire.js";

/** Stored ledger rows rendered as the protocol's JSON (§2.7, §2.8). */

export interface CheckpointRow {
  checkpoint_id: number;
  tree_size: number;
  root_hash: string;
  checkpoint_hash: string;
  prev_checkpoint_hash: string;
  signer_key_id: string;
  payload: Uint8Array;
  signature: string;
  signed_at: string;
  mmd_seconds: number;
  export_target: string;
  note: string;
  export_status: string;
  export_uri: string;
  exported_at: Date | null;
  /** The note with its witnesses' cosignature lines, once the quorum is met (tenant migration 0013). */
  cosigned_note?: string | null;
}

export const CHECKPOINT_COLUMNS =
  "checkpoint_id, tree_size, root_hash, checkpoint_hash, prev_checkpoint_hash, signer_key_id, payload, signature, signed_at, mmd_seconds, export_target, note, export_status, export_uri, exported_at, cosigned_note";

/** The C2SP note of a checkpoint as served and anchored: cosigned when witnesses have cosigned it. */
export function servedNote(row: Pick<CheckpointRow, "note" | "cosigned_note">): string {
  return row.cosigned_note ?? row.note;
}

export function checkpointWire(row: CheckpointRow): CheckpointWire {
  const wire: CheckpointWire = {
    checkpoint_id: Number(row.checkpoint_id),
    // One checkpoint per sequencing batch: the "microblock" is the batch the checkpoint sealed.
    microblock_id: Number(row.checkpoint_id),
    tree_size: Number(row.tree_size),
    root_hash: row.root_hash,
    checkpoint_hash: row.checkpoint_hash,
    prev_checkpoint_hash: row.prev_checkpoint_hash,
    signature_algorithm: "Ed25519",
    signer_key_id: row.signer_key_id,
    checkpoint_signature: row.signature,
    checkpoint_payload: Buffer.from(row.payload).toString("base64url"),
    signed_at: row.signed_at,
    mmd_seconds: row.mmd_seconds,
    export_target: row.export_target,
    export_uri: row.export_uri,
    export_status: row.export_status,
  };
  // §2.8: exported_at is omitted, never null.
  if (row.exported_at) wire.exported_at = new Date(row.exported_at).toISOString();
  return wire;
}

export interface EventRow {
  seq: number;
  event_uuid: string;
  event_type: LedgerEventType;
  request_id: string;
  accepted_at: string;
  canonical_version: number;
  body: string;
  event_hash: string;
  leaf_hash: string;
  receipt_key_id: string;
  receipt_signature: string;
  leaf_index: number | null;
  checkpoint_id: number | null;
}

export const EVENT_COLUMNS =
  "seq, event_uuid, event_type, request_id, accepted_at, canonical_version, body, event_hash, leaf_hash, receipt_key_id, receipt_signature, leaf_index";

/**
 * The stored event body, decrypted with the first of `openKeys` that authenticates it (the tenant's
 * keys, then the vault's: TenantKeys.sealingKeysFor(tenantId, "ledger").open). Throws
 * LedgerBodyError when it cannot be opened.
 */
export function storedEvent(row: Pick<EventRow, "body" | "event_uuid">, openKeys: Buffer | readonly Buffer[] | undefined): LedgerEvent {
  return JSON.parse(openBody(row.body, row.event_uuid, openKeys)) as LedgerEvent;
}

/**
 * `redact`: "auto" serves a row with intent_hash "" (the protocol's redaction mark, §4.7 step 3a)
 * exactly when the SDK's camelCase key conversion (§4.12 item 1) would make `verifyLedgerProof`
 * recompute a different hash from a correct row; the body stays, and `intent_hash_committed`
 * carries the hashed value so any other verifier still recomputes it. "none" never redacts.
 */
export function entryWire(row: EventRow, event: LedgerEvent, redact: "auto" | "none"): LedgerEntryWire {
  const misread = redact === "auto" && eventHash(asSdkSeesIt(event)) !== row.event_hash;
  const wire: LedgerEntryWire = {
    seq: Number(row.seq),
    event_uuid: row.event_uuid,
    event_type: row.event_type,
    request_id: row.request_id,
    agent_id: event.agent_id,
    policy_id: event.policy_id,
    intent_hash: misread ? "" : event.intent_hash,
    tool_name: event.tool_name,
    tool_args: event.tool_args,
    reason: event.reason,
    citations: event.citations,
    evidence_chunks: event.evidence_chunks,
    confidence: event.confidence,
    approved: event.approved,
    confidence_bucket: event.confidence_bucket ?? null,
    decision_status: event.decision_status ?? null,
    accepted_at: row.accepted_at,
    canonical_version: event.canonical_version,
    event_hash: row.event_hash,
    leaf_hash: row.leaf_hash,
    leaf_index: row.leaf_index === null ? null : Number(row.leaf_index),
    checkpoint_id: row.checkpoint_id === null ? null : Number(row.checkpoint_id),
    receipt_algorithm: "Ed25519",
    receipt_key_id: row.receipt_key_id,
    receipt_signature: row.receipt_signature,
    receipt_payload: Buffer.from(
      receiptPayload({
        leaf_hash: row.leaf_hash,
        event_hash: row.event_hash,
        event_uuid: row.event_uuid,
        request_id: row.request_id,
        accepted_at: row.accepted_at,
        receipt_key_id: row.receipt_key_id,
      }),
    ).toString("base64url"),
    rule_set_hash: event.rule_set_hash ?? null,
    matched_rule_ids: event.matched_rule_ids ?? null,
    eval_inputs_hash: event.eval_inputs_hash ?? null,
    eval_trace_hash: event.eval_trace_hash ?? null,
    classifier_label: event.classifier_label ?? null,
    classifier_confidence_bucket: event.classifier_confidence_bucket ?? null,
  };
  if (misread) wire.intent_hash_committed = event.intent_hash;
  return wire;
}

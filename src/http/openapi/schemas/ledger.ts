import { z } from "zod";
import { base64url, bucket, decisionStatus, hex64, isoTime, jsonObject } from "./common.js";
import { LEDGER_EVENT_TYPES } from "../../../ledger/core/wire.js";

/** The ledger's wire shapes (src/ledger/core/wire.ts; Ledgix wire protocol §2.7–2.11). */
export const checkpointSchema = z.object({
  checkpoint_id: z.int().nonnegative(),
  microblock_id: z.int().nonnegative(),
  tree_size: z.int().nonnegative(),
  root_hash: hex64,
  checkpoint_hash: hex64,
  prev_checkpoint_hash: z.union([hex64, z.literal("")]).describe('"" for the first checkpoint'),
  signature_algorithm: z.literal("Ed25519"),
  signer_key_id: z.string(),
  checkpoint_signature: base64url,
  checkpoint_payload: base64url.describe("The signed CBOR payload (protocol §4.5)."),
  signed_at: isoTime,
  mmd_seconds: z.int(),
  export_target: z.string(),
  export_uri: z.string(),
  export_status: z.string(),
  exported_at: isoTime.optional().describe("Omitted, never null, until the checkpoint is anchored."),
});

const nullableText = z.string().nullable();

export const ledgerEntrySchema = z.object({
  seq: z.int().nonnegative(),
  event_uuid: z.string(),
  event_type: z.enum(LEDGER_EVENT_TYPES),
  request_id: z.string(),
  agent_id: z.string(),
  policy_id: z.string(),
  intent_hash: z.string().describe('"" when served redacted; intent_hash_committed then holds the hashed value.'),
  intent_hash_committed: z.string().optional(),
  tool_name: z.string(),
  tool_args: jsonObject,
  reason: z.string(),
  citations: z.array(jsonObject),
  evidence_chunks: z.array(jsonObject),
  confidence: z.number(),
  approved: z.boolean(),
  confidence_bucket: bucket.nullable(),
  decision_status: decisionStatus.nullable(),
  accepted_at: isoTime,
  canonical_version: z.union([z.literal(1), z.literal(2), z.literal(3)]),
  event_hash: hex64,
  leaf_hash: hex64,
  leaf_index: z.int().nonnegative().nullable().describe("null until the sequencer places the event in the tree"),
  checkpoint_id: z.int().nonnegative().nullable(),
  receipt_algorithm: z.literal("Ed25519"),
  receipt_key_id: z.string(),
  receipt_signature: base64url,
  receipt_payload: base64url,
  rule_set_hash: nullableText,
  matched_rule_ids: z.array(z.string()).nullable(),
  eval_inputs_hash: nullableText,
  eval_trace_hash: nullableText,
  classifier_label: nullableText,
  classifier_confidence_bucket: bucket.nullable(),
});

const proofPath = z.array(hex64);

export const inclusionProofSchema = z.object({
  event_uuid: z.string(),
  request_id: z.string(),
  event_hash: hex64,
  leaf_hash: hex64,
  leaf_index: z.int().nonnegative(),
  tree_size: z.int().nonnegative(),
  path: proofPath.describe("RFC 6962 audit path, leaf to root"),
  checkpoint: checkpointSchema,
});

export const consistencyProofSchema = z.object({ from_checkpoint: checkpointSchema, to_checkpoint: checkpointSchema, path: proofPath });

const keyVersionSchema = z.object({
  key_id: z.string(),
  algorithm: z.string(),
  public_jwk: base64url.describe("base64url of the public JWK's JSON text"),
  active_from: isoTime,
  retired_at: isoTime.optional(),
  attestation_payload: z.string(),
  attestation_signature: z.string(),
  attestation_key_id: z.string(),
  attestation_status: z.string(),
});

export const proofBundleSchema = z.object({
  event: ledgerEntrySchema,
  inclusion: inclusionProofSchema,
  consistency: consistencyProofSchema.optional().describe("Omitted, never null, when the event's first checkpoint is the newest."),
  keys: z.array(keyVersionSchema),
  c2sp_checkpoint: z.string().optional().describe("The same tree head as a C2SP signed note."),
  c2sp_verifier_key: z.string().optional().describe("The C2SP verifier key of that note."),
  request_events: z
    .array(z.object({ event: ledgerEntrySchema, inclusion: inclusionProofSchema }))
    .optional()
    .describe("The request's other events (approval, votes, burn, execution report), each proven in the same checkpoint as `inclusion`, in write order; omitted when there are none."),
  passkey_enrolments: z
    .array(z.object({ event: ledgerEntrySchema, inclusion: inclusionProofSchema }))
    .optional()
    .describe("The vault.audit passkey.enrolled events whose public keys verify the passkey signatures in the events above, each proven in the same checkpoint (docs/passkeys.md); omitted when there are none."),
});

/**
 * The zod schema of a proof bundle as the vault serves it (wire protocol §2.7–2.11, src/ledger/wire.ts),
 * for offline verification of hostile input. Field rules follow the SDK's: "default X" fields may be
 * omitted but not null, "nullable" ones accept null, optional ones must be omitted (§2.0). Stricter
 * than the SDK where the SDK is lax by accident: hashes must be lowercase 64-hex (§4 "uppercase hex
 * fails"), numbers that count things must be safe non-negative integers, proof paths are bounded.
 */
import { z } from "zod";
import { CONFIDENCE_BUCKETS, DECISION_STATUSES, type JsonObject } from "../core/event-hash.js";
import { MAX_NOTE_BYTES } from "../core/signed-note.js";

/** Deeper input is refused before zod sees it: zod recurses, and would overflow the stack. */
export const MAX_BUNDLE_DEPTH = 100;
export const MAX_BUNDLE_NODES = 1_000_000;
/** RFC 6962 paths for trees below 2^64 leaves have at most 64 hashes. */
const MAX_PATH = 64;
const MAX_KEYS = 100;
/** A receipt or checkpoint payload is a few hundred bytes; this bounds decoding work. */
const MAX_BASE64 = 64 * 1024;

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex digits");
const hex64OrEmpty = z.union([hex64, z.literal("")], { error: 'must be 64 lowercase hex digits or ""' });
const base64Text = z.string().max(MAX_BASE64).regex(/^[A-Za-z0-9+/_-]*={0,2}$/, "must be base64url or base64");
const count = z.int().nonnegative(); // zod 4's int() is the safe-integer range
const bucket = z.enum(CONFIDENCE_BUCKETS);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A JSON value as JSON.parse makes it: finite numbers, plain objects. Depth is bounded by the caller. */
function isJsonValue(value: unknown): boolean {
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(isJsonValue);
  return isPlainObject(value) && Object.values(value).every(isJsonValue);
}

// z.custom keeps the caller's object as is: a copying schema (z.record) would assign a "__proto__"
// key instead of keeping it, and then hash a different object than the server did.
const jsonObject = z.custom<JsonObject>((v) => isPlainObject(v) && isJsonValue(v), "must be a JSON object");

const checkpointSchema = z.object({
  checkpoint_id: count,
  microblock_id: count,
  tree_size: count,
  root_hash: hex64OrEmpty,
  checkpoint_hash: hex64,
  prev_checkpoint_hash: hex64OrEmpty.default(""),
  signature_algorithm: z.string().default(""),
  signer_key_id: z.string().default(""),
  checkpoint_signature: base64Text.default(""),
  checkpoint_payload: base64Text.default(""),
  signed_at: z.string(),
  mmd_seconds: count.default(30),
  export_target: z.string().default(""),
});

const eventSchema = z.object({
  seq: count,
  event_uuid: z.string(),
  request_id: z.string(),
  agent_id: z.string(),
  policy_id: z.string(),
  intent_hash: z.string().default(""),
  intent_hash_committed: z.string().optional(),
  event_type: z.string().optional(),
  tool_name: z.string(),
  tool_args: jsonObject.default({}),
  reason: z.string().default(""),
  citations: z.array(jsonObject).default([]),
  evidence_chunks: z.array(jsonObject).default([]),
  confidence: z.number().default(0),
  approved: z.boolean().default(false),
  confidence_bucket: bucket.nullable().optional(),
  decision_status: z.enum(DECISION_STATUSES).nullable().optional(),
  accepted_at: z.string(),
  // Any integer: an unknown version is the event-hash check's failure to report, not a shape error.
  canonical_version: z.int().default(1),
  event_hash: hex64,
  leaf_hash: hex64,
  leaf_index: count.nullable().optional(),
  checkpoint_id: count.nullable().optional(),
  receipt_algorithm: z.string().default(""),
  receipt_key_id: z.string().default(""),
  receipt_signature: base64Text.default(""),
  receipt_payload: base64Text.default(""),
  rule_set_hash: z.string().nullable().optional(),
  matched_rule_ids: z.array(z.string()).nullable().optional(),
  eval_inputs_hash: z.string().nullable().optional(),
  eval_trace_hash: z.string().nullable().optional(),
  classifier_label: z.string().nullable().optional(),
  classifier_confidence_bucket: bucket.nullable().optional(),
});

const keyVersionSchema = z.object({
  key_id: z.string(),
  algorithm: z.string(),
  public_jwk: base64Text.default(""),
  active_from: z.string(),
  retired_at: z.string().optional(),
});

const inclusionSchema = z.object({
  event_uuid: z.string(),
  request_id: z.string(),
  event_hash: hex64,
  leaf_hash: hex64,
  leaf_index: count,
  tree_size: count,
  path: z.array(hex64).max(MAX_PATH).default([]),
  checkpoint: checkpointSchema,
});

/** Most request events a bundle may carry (the vault sends at most 100). */
export const MAX_REQUEST_EVENTS = 100;
/** Most passkey enrolments a bundle may carry (the vault sends at most 100). */
export const MAX_PASSKEY_ENROLMENTS = 100;

export const proofBundleSchema = z.object({
  event: eventSchema,
  inclusion: inclusionSchema,
  // §2.11: omitted, never null (the SDK itself fails on null).
  consistency: z
    .object({
      from_checkpoint: checkpointSchema,
      to_checkpoint: checkpointSchema,
      path: z.array(hex64).max(MAX_PATH).default([]),
    })
    .optional(),
  keys: z.array(keyVersionSchema).max(MAX_KEYS).default([]),
  c2sp_checkpoint: z.string().max(MAX_NOTE_BYTES).optional(),
  c2sp_verifier_key: z.string().max(4096).optional(),
  // Ours: the request's other events, each proven in the same checkpoint as `inclusion`.
  request_events: z.array(z.object({ event: eventSchema, inclusion: inclusionSchema })).max(MAX_REQUEST_EVENTS).optional(),
  // Ours: the passkey.enrolled events whose keys verify the passkey chunks of the events above (docs/passkeys.md).
  passkey_enrolments: z.array(z.object({ event: eventSchema, inclusion: inclusionSchema })).max(MAX_PASSKEY_ENROLMENTS).optional(),
});

export type ParsedBundle = z.infer<typeof proofBundleSchema>;
export type ParsedCheckpoint = z.infer<typeof checkpointSchema>;
export type ParsedEvent = z.infer<typeof eventSchema>;

/**
 * True when `value` nests containers deeper than MAX_BUNDLE_DEPTH or holds more than MAX_BUNDLE_NODES
 * values. Iterative, so hostile depth cannot overflow the stack; the node budget also ends cycles and
 * shared references that a caller-built object (not JSON.parse output) could contain.
 */
function tooDeepOrLarge(value: unknown): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  let visited = 0;
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (++visited > MAX_BUNDLE_NODES) return true;
    if (v === null || typeof v !== "object") continue;
    if (depth >= MAX_BUNDLE_DEPTH) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("").replace(/^\./, "");
  return `${path || "bundle"}: ${issue.message}`;
}

/** The typed bundle, or a message naming the first offending fields. */
export function parseProofBundle(input: unknown): { ok: true; bundle: ParsedBundle } | { ok: false; detail: string } {
  if (tooDeepOrLarge(input)) return { ok: false, detail: `bundle: nested deeper than ${MAX_BUNDLE_DEPTH} levels or over ${MAX_BUNDLE_NODES} values` };
  const result = proofBundleSchema.safeParse(input);
  if (result.success) return { ok: true, bundle: result.data };
  const issues = result.error.issues;
  const shown = issues.slice(0, 3).map(describeIssue).join("; ");
  return { ok: false, detail: issues.length > 3 ? `${shown}; and ${issues.length - 3} more` : shown };
}

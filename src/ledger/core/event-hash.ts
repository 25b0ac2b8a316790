import { toHex, utf8 } from "./bytes.js";
import { sha256 } from "./crypto.js";
import { encodeCbor, JsonSubtree, MAX_CBOR_DEPTH } from "./cbor.js";
import { LedgerError } from "./ledger-error.js";

/**
 * The byte strings a Ledgix SDK recomputes from ledger JSON (wire protocol §4.2, §4.4, §4.5):
 * the event hash, the receipt payload and the checkpoint payload/hash. Pure; no I/O, no keys.
 * Every field is checked before encoding, because a value the SDK's zod schema (§2.7–2.8) would
 * reject or read differently must fail here, not after it has been signed into the ledger.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export const CONFIDENCE_BUCKETS = ["extra_high", "high", "medium", "low", "none"] as const;
export type ConfidenceBucket = (typeof CONFIDENCE_BUCKETS)[number];
export const DECISION_STATUSES = ["approved", "denied", "approved_pending_review"] as const;
export type DecisionStatus = (typeof DECISION_STATUSES)[number];
export type CanonicalVersion = 1 | 2 | 3;

/** The hashed fields of a ledger entry, named as on the wire (§2.7, snake_case). */
export interface LedgerEvent {
  event_uuid: string;
  request_id: string;
  agent_id: string;
  policy_id: string;
  /** "" marks a redacted public row (§4.7 step 3a); the hash itself is computed the same way. */
  intent_hash: string;
  tool_name: string;
  tool_args: JsonObject;
  reason: string;
  citations: JsonObject[];
  evidence_chunks: JsonObject[];
  /** Legacy float, rule (b). Must also be sent explicitly on every row (§4.12 item 3). */
  confidence: number;
  approved: boolean;
  /** Compared byte for byte with the JSON (§4.12 item 5): store the exact string. */
  accepted_at: string;
  canonical_version: CanonicalVersion;
  /** v>=2. null/absent hashes as "" and is sent as null, never "" (§4.12 item 4). */
  confidence_bucket?: ConfidenceBucket | null;
  decision_status?: DecisionStatus | null;
  /** v>=3. null/absent hashes as "" (matched_rule_ids as []). */
  rule_set_hash?: string | null;
  matched_rule_ids?: string[] | null;
  eval_inputs_hash?: string | null;
  eval_trace_hash?: string | null;
  classifier_label?: string | null;
  classifier_confidence_bucket?: ConfidenceBucket | null;
}

const EVENT_PREFIX = utf8("ledgix.audit.event.v1\0"); // §4.2: "v1" for every canonical version
const CHECKPOINT_PREFIX = utf8("ledgix.audit.checkpoint.v1\0"); // §4.5
const HEX32 = /^[0-9a-f]{64}$/; // §4: the SDK compares lowercase hex as strings

/** §4.2 payload bytes (the CBOR map, without the domain prefix), for `event.canonical_version`. */
export function encodeEventForHash(event: LedgerEvent): Uint8Array {
  const v = event.canonical_version;
  if (v !== 1 && v !== 2 && v !== 3) invalid(`canonical_version ${String(v)} is not 1, 2 or 3`);
  if (typeof event.approved !== "boolean") invalid("approved must be a boolean");
  if (typeof event.confidence !== "number") invalid("confidence must be a number");
  // Field order here is irrelevant: the encoder sorts keys into the §4.2 order.
  const payload: Record<string, unknown> = {
    accepted_at: text(event.accepted_at, "accepted_at"),
    agent_id: text(event.agent_id, "agent_id"),
    approved: event.approved,
    canonical_version: v,
    citations: new JsonSubtree(objectList(event.citations, "citations")),
    confidence: event.confidence,
    event_uuid: text(event.event_uuid, "event_uuid"),
    evidence_chunks: new JsonSubtree(objectList(event.evidence_chunks, "evidence_chunks")),
    intent_hash: text(event.intent_hash, "intent_hash"),
    policy_id: text(event.policy_id, "policy_id"),
    reason: text(event.reason, "reason"),
    request_id: text(event.request_id, "request_id"),
    tool_args: new JsonSubtree(jsonObject(event.tool_args, "tool_args")),
    tool_name: text(event.tool_name, "tool_name"),
  };
  // v1 MUST NOT carry the v2/v3 keys and v2 MUST NOT carry the v3 keys (§4.2).
  if (v >= 2) {
    payload.confidence_bucket = enumOrEmpty(event.confidence_bucket, CONFIDENCE_BUCKETS, "confidence_bucket");
    payload.decision_status = enumOrEmpty(event.decision_status, DECISION_STATUSES, "decision_status");
  }
  if (v >= 3) {
    payload.rule_set_hash = textOrEmpty(event.rule_set_hash, "rule_set_hash");
    payload.matched_rule_ids = stringList(event.matched_rule_ids, "matched_rule_ids");
    payload.eval_inputs_hash = textOrEmpty(event.eval_inputs_hash, "eval_inputs_hash");
    payload.eval_trace_hash = textOrEmpty(event.eval_trace_hash, "eval_trace_hash");
    payload.classifier_label = textOrEmpty(event.classifier_label, "classifier_label");
    payload.classifier_confidence_bucket = enumOrEmpty(event.classifier_confidence_bucket, CONFIDENCE_BUCKETS, "classifier_confidence_bucket");
  }
  return encodeCbor(payload);
}

/** §4.2: hex(SHA-256("ledgix.audit.event.v1" || 0x00 || CBOR(payload))). */
export function eventHash(event: LedgerEvent): string {
  return sha256Hex(EVENT_PREFIX, encodeEventForHash(event));
}

/**
 * The event as `verifyLedgerProof` sees it after its response key conversion (§2.0, §4.12 item 1):
 * keys inside tool_args, citations and evidence_chunks are camelCased. Hash this
 * (`eventHash(asSdkSeesIt(e))`) to get the value the SDK recomputes for an unredacted row.
 */
export function asSdkSeesIt(event: LedgerEvent): LedgerEvent {
  return {
    ...event,
    tool_args: sdkCamelKeys(jsonObject(event.tool_args, "tool_args")),
    citations: objectList(event.citations, "citations").map((c) => sdkCamelKeys(c)),
    evidence_chunks: objectList(event.evidence_chunks, "evidence_chunks").map((c) => sdkCamelKeys(c)),
  };
}

/**
 * The SDK's `toCamelCaseKeys` (§2.0 "Responses"): in every key, each `_` followed by a lowercase
 * ASCII letter becomes that letter upper-cased (`order_id` → `orderId`, `_private` → `Private`,
 * `a__b` → `a_B`). It recurses into object values and into objects directly inside arrays, but
 * leaves arrays within arrays untouched, mirroring the request direction. When two keys collapse
 * into one, the later one in property order wins, as with the SDK's plain assignment: the vault
 * must therefore hash the same object (same key order) it serialises.
 */
export function sdkCamelKeys(obj: JsonObject, depth = 1): JsonObject {
  if (depth > MAX_CBOR_DEPTH) throw new LedgerError("too_deep", `nesting deeper than ${MAX_CBOR_DEPTH} levels`);
  // No output key can be "__proto__" (it would still contain "_p"), so plain assignment is safe.
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(obj)) {
    const camel = key.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
    if (Array.isArray(value)) {
      out[camel] = value.map((item) => (isPlainObject(item) ? sdkCamelKeys(item, depth + 1) : item));
    } else if (value !== null && typeof value === "object") {
      // A Date or Map would convert to {} here yet reach the SDK as JSON.stringify made it.
      if (!isPlainObject(value)) throw new LedgerError("unsupported_type", `${key} is not a plain JSON object`);
      out[camel] = sdkCamelKeys(value, depth + 1);
    } else {
      out[camel] = value;
    }
  }
  return out;
}

/** The strings a receipt covers (§4.4), as they appear on the entry. */
export interface ReceiptFields {
  leaf_hash: string;
  event_hash: string;
  event_uuid: string;
  request_id: string;
  accepted_at: string;
  receipt_key_id: string;
}

/** §4.4 receipt payload bytes: sign these (no prefix, no hash) and send them base64url. */
export function receiptPayload(r: ReceiptFields): Uint8Array {
  return encodeCbor({
    type: "event_receipt",
    version: 1,
    leaf_hash: hex32(r.leaf_hash, "leaf_hash"),
    event_hash: hex32(r.event_hash, "event_hash"),
    event_uuid: text(r.event_uuid, "event_uuid"),
    request_id: text(r.request_id, "request_id"),
    accepted_at: text(r.accepted_at, "accepted_at"),
    receipt_key_id: nonEmpty(r.receipt_key_id, "receipt_key_id"),
  });
}

/** The checkpoint fields the payload is rebuilt from (§2.8, §4.5). */
export interface CheckpointFields {
  signer_key_id: string;
  tree_size: number;
  /** "" exactly when tree_size is 0 (§4.12 item 7). */
  root_hash: string;
  /** Compared byte for byte with the JSON: store the exact string. */
  signed_at: string;
  mmd_seconds: number;
  /** "" for none; becomes `export_targets: []`, otherwise `[export_target]`. */
  export_target: string;
  /** "" for the genesis checkpoint, else the previous checkpoint_hash. */
  prev_checkpoint_hash: string;
}

/** §4.5 checkpoint payload bytes: signed as they are, hashed with the checkpoint prefix. */
export function checkpointPayload(c: CheckpointFields): Uint8Array {
  const treeSize = count(c.tree_size, "tree_size");
  const root = text(c.root_hash, "root_hash");
  if (treeSize === 0 ? root !== "" : !HEX32.test(root)) {
    invalid(treeSize === 0 ? 'root_hash must be "" for tree_size 0' : "root_hash must be 64 lowercase hex digits");
  }
  const prev = text(c.prev_checkpoint_hash, "prev_checkpoint_hash");
  if (prev !== "") hex32(prev, "prev_checkpoint_hash");
  const exportTarget = text(c.export_target, "export_target");
  return encodeCbor({
    type: "checkpoint",
    key_id: nonEmpty(c.signer_key_id, "signer_key_id"),
    version: 1,
    root_hash: root,
    signed_at: text(c.signed_at, "signed_at"),
    tree_size: treeSize,
    mmd_seconds: count(c.mmd_seconds, "mmd_seconds"),
    export_targets: exportTarget === "" ? [] : [exportTarget],
    prev_checkpoint_hash: prev,
  });
}

/** §4.5: hex(SHA-256("ledgix.audit.checkpoint.v1" || 0x00 || payload_bytes)). */
export function checkpointHash(payload: Uint8Array): string {
  return sha256Hex(CHECKPOINT_PREFIX, payload);
}

function sha256Hex(prefix: Uint8Array, payload: Uint8Array): string {
  return toHex(sha256(prefix, payload));
}

function invalid(message: string): never {
  throw new LedgerError("invalid_field", message);
}

function text(value: unknown, field: string): string {
  if (typeof value !== "string") invalid(`${field} must be a string`);
  return value;
}

function nonEmpty(value: unknown, field: string): string {
  if (text(value, field) === "") invalid(`${field} must not be empty`);
  return value as string;
}

function hex32(value: unknown, field: string): string {
  if (!HEX32.test(text(value, field))) invalid(`${field} must be 64 lowercase hex digits`);
  return value as string;
}

function textOrEmpty(value: unknown, field: string): string {
  return value === null || value === undefined ? "" : text(value, field);
}

function enumOrEmpty(value: unknown, allowed: readonly string[], field: string): string {
  if (value === null || value === undefined) return "";
  // "" or an unknown value would fail the SDK's zod enum on the wire (§2.7): store null instead.
  if (typeof value !== "string" || !allowed.includes(value)) invalid(`${field} must be one of ${allowed.join(", ")} or null`);
  return value;
}

function stringList(value: unknown, field: string): string[] {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value) || !value.every((s) => typeof s === "string")) invalid(`${field} must be an array of strings or null`);
  return value as string[];
}

function count(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) invalid(`${field} must be a non-negative safe integer`);
  return value === 0 ? 0 : value; // -0 would pass the checks above; normalise it
}

function isPlainObject(value: unknown): value is JsonObject {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

// The SDK's zod schema takes tool_args as a record and citations/evidence_chunks as arrays of
// records (§2.7): arrays or primitives there fail the SDK's parse, so they are refused here.
function jsonObject(value: unknown, field: string): JsonObject {
  if (!isPlainObject(value)) invalid(`${field} must be a JSON object`);
  return value;
}

function objectList(value: unknown, field: string): JsonObject[] {
  if (!Array.isArray(value)) invalid(`${field} must be an array of JSON objects`);
  value.forEach((item, i) => jsonObject(item, `${field}[${i}]`));
  return value as JsonObject[];
}

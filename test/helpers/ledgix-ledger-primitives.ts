import { createHash, createPublicKey, verify as edVerify } from "node:crypto";

/**
 * The byte-level pieces of the Ledgix SDK's ledger verification (wire protocol §2.0, §4.1–4.5, §4.9, §4.10),
 * re-implemented from the protocol document alone, with node:crypto. Deliberately independent of
 * src/ledger/*: a shared bug cannot make both sides agree.
 */

// ---- §4.1 deterministic CBOR ------------------------------------------------------------------

/** Major type + argument in the shortest form (big-endian). */
export function cborHead(major: number, n: number): Buffer {
  const m = major << 5;
  if (n < 24) return Buffer.from([m | n]);
  if (n <= 0xff) return Buffer.from([m | 24, n]);
  if (n <= 0xffff) {
    const b = Buffer.alloc(3);
    b[0] = m | 25;
    b.writeUInt16BE(n, 1);
    return b;
  }
  if (n <= 0xffffffff) {
    const b = Buffer.alloc(5);
    b[0] = m | 26;
    b.writeUInt32BE(n, 1);
    return b;
  }
  const b = Buffer.alloc(9);
  b[0] = m | 27;
  b.writeBigUInt64BE(BigInt(n), 1);
  return b;
}

export const cborText = (s: string): Buffer => {
  const utf8 = Buffer.from(s, "utf8");
  return Buffer.concat([cborHead(3, utf8.length), utf8]);
};

export function cborFloat64(n: number): Buffer {
  const b = Buffer.alloc(9);
  b[0] = 0xfb;
  b.writeDoubleBE(n, 1);
  return b;
}

/** Rule (b): a JS safe integer is a CBOR integer, anything else a float64. */
export function cborNumber(n: number): Buffer {
  if (!Number.isSafeInteger(n)) return cborFloat64(n);
  return n >= 0 ? cborHead(0, n) : cborHead(1, -(n + 1));
}

export const cborBool = (b: boolean): Buffer => Buffer.from([b ? 0xf5 : 0xf4]);
export const cborArray = (items: Buffer[]): Buffer => Buffer.concat([cborHead(4, items.length), ...items]);

/** Map keys: shorter first (UTF-16 code units), then lexicographic by code unit. */
export function cborMap(entries: Record<string, Buffer>): Buffer {
  const keys = Object.keys(entries).sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0));
  return Buffer.concat([cborHead(5, keys.length), ...keys.flatMap((k) => [cborText(k), entries[k]!])]);
}

/** Rule (a): a JSON-derived subtree, where every number is float64. */
export function cborJson(v: unknown): Buffer {
  if (v === null) return Buffer.from([0xf6]);
  if (typeof v === "boolean") return cborBool(v);
  if (typeof v === "number") return cborFloat64(v);
  if (typeof v === "string") return cborText(v);
  if (Array.isArray(v)) return cborArray(v.map(cborJson));
  if (typeof v === "object") return cborMap(Object.fromEntries(Object.entries(v).map(([k, x]) => [k, cborJson(x)])));
  throw new Error(`not a JSON value: ${typeof v}`);
}

// ---- §2.0 response key conversion ----------------------------------------------------------------

export const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** Every `_x` becomes `X`, recursively; objects directly inside arrays too, arrays within arrays not. */
export function toCamelCaseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((item) => (isPlainObject(item) ? toCamelCaseKeys(item) : item));
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) out[key.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase())] = toCamelCaseKeys(v);
  return out;
}

// ---- hashes ---------------------------------------------------------------------------------------

const sha256 = (...parts: Buffer[]): Buffer => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
};
const EVENT_PREFIX = Buffer.concat([Buffer.from("ledgix.audit.event.v1", "ascii"), Buffer.from([0])]);
const CHECKPOINT_PREFIX = Buffer.concat([Buffer.from("ledgix.audit.checkpoint.v1", "ascii"), Buffer.from([0])]);
const MIDPOINTS: Record<string, number> = { extra_high: 0.95, high: 0.85, medium: 0.6, low: 0.2, none: 0 };

/** The hashed fields of an entry in the SDK's (camelCase) shape. */
export interface SdkEventFields {
  eventUuid: string;
  requestId: string;
  agentId: string;
  policyId: string;
  intentHash: string;
  toolName: string;
  toolArgs: Record<string, unknown>;
  reason: string;
  citations: Record<string, unknown>[];
  evidenceChunks: Record<string, unknown>[];
  confidence?: unknown;
  approved?: unknown;
  confidenceBucket?: string | null;
  decisionStatus?: string | null;
  acceptedAt: string;
  canonicalVersion: number;
  ruleSetHash?: string | null;
  matchedRuleIds?: string[] | null;
  evalInputsHash?: string | null;
  evalTraceHash?: string | null;
  classifierLabel?: string | null;
  classifierConfidenceBucket?: string | null;
}

/** §4.2 payload (without the prefix). */
export function eventPayload(e: SdkEventFields): Buffer {
  // Legacy fallback; never reached for zod-parsed entries (zod fills confidence 0 / approved false).
  const confidence = typeof e.confidence === "number" ? e.confidence : (MIDPOINTS[e.confidenceBucket ?? ""] ?? 0);
  const approved = typeof e.approved === "boolean" ? e.approved : e.decisionStatus === "approved" || e.decisionStatus === "approved_pending_review";
  const m: Record<string, Buffer> = {
    accepted_at: cborText(e.acceptedAt),
    agent_id: cborText(e.agentId),
    approved: cborBool(approved),
    canonical_version: cborNumber(e.canonicalVersion),
    citations: cborJson(e.citations),
    confidence: cborNumber(confidence),
    event_uuid: cborText(e.eventUuid),
    evidence_chunks: cborJson(e.evidenceChunks),
    intent_hash: cborText(e.intentHash),
    policy_id: cborText(e.policyId),
    reason: cborText(e.reason),
    request_id: cborText(e.requestId),
    tool_args: cborJson(e.toolArgs),
    tool_name: cborText(e.toolName),
  };
  if (e.canonicalVersion >= 2) {
    m.confidence_bucket = cborText(e.confidenceBucket ?? "");
    m.decision_status = cborText(e.decisionStatus ?? "");
  }
  if (e.canonicalVersion >= 3) {
    m.rule_set_hash = cborText(e.ruleSetHash ?? "");
    m.matched_rule_ids = cborArray((e.matchedRuleIds ?? []).map(cborText));
    m.eval_inputs_hash = cborText(e.evalInputsHash ?? "");
    m.eval_trace_hash = cborText(e.evalTraceHash ?? "");
    m.classifier_label = cborText(e.classifierLabel ?? "");
    m.classifier_confidence_bucket = cborText(e.classifierConfidenceBucket ?? "");
  }
  return cborMap(m);
}

export const eventHashOf = (e: SdkEventFields): string => sha256(EVENT_PREFIX, eventPayload(e)).toString("hex");

// §4.3. Hex decoding is not validated (Buffer stops at the first bad digit), as in the SDK.
export const leafHashOf = (eventHashHex: string): string => sha256(Buffer.from([0]), Buffer.from(eventHashHex, "hex")).toString("hex");
export const nodeHash = (left: string, right: string): string =>
  sha256(Buffer.from([1]), Buffer.from(left, "hex"), Buffer.from(right, "hex")).toString("hex");

/** RFC 6962 MTH over leaf hashes; "" for an empty list (SDK behaviour). */
export function merkleRoot(leaves: string[]): string {
  if (leaves.length === 0) return "";
  if (leaves.length === 1) return leaves[0]!;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(merkleRoot(leaves.slice(0, k)), merkleRoot(leaves.slice(k)));
}

export interface ReceiptFields {
  leafHash: string;
  eventHash: string;
  eventUuid: string;
  requestId: string;
  acceptedAt: string;
  receiptKeyId: string;
}

/** §4.4 */
export function receiptPayloadOf(r: ReceiptFields): Buffer {
  return cborMap({
    type: cborText("event_receipt"),
    version: cborNumber(1),
    leaf_hash: cborText(r.leafHash),
    event_hash: cborText(r.eventHash),
    event_uuid: cborText(r.eventUuid),
    request_id: cborText(r.requestId),
    accepted_at: cborText(r.acceptedAt),
    receipt_key_id: cborText(r.receiptKeyId),
  });
}

export interface CheckpointFields {
  signerKeyId: string;
  rootHash: string;
  signedAt: string;
  treeSize: number;
  mmdSeconds: number;
  exportTarget: string;
  prevCheckpointHash: string;
}

/** §4.5 */
export function checkpointPayloadOf(c: CheckpointFields): Buffer {
  return cborMap({
    type: cborText("checkpoint"),
    key_id: cborText(c.signerKeyId),
    version: cborNumber(1),
    root_hash: cborText(c.rootHash),
    signed_at: cborText(c.signedAt),
    tree_size: cborNumber(c.treeSize),
    mmd_seconds: cborNumber(c.mmdSeconds),
    export_targets: cborArray(c.exportTarget !== "" ? [cborText(c.exportTarget)] : []),
    prev_checkpoint_hash: cborText(c.prevCheckpointHash),
  });
}

export const checkpointHashOf = (payload: Buffer): string => sha256(CHECKPOINT_PREFIX, payload).toString("hex");

/** base64url with or without padding; standard base64 decodes too (Node's decoder takes both). */
export const b64decode = (s: string): Buffer => Buffer.from(s, "base64");

/** Pure Ed25519 over `data` with a public JWK; false when the key or signature is unusable. */
export function ed25519Verify(jwk: Record<string, unknown>, data: Buffer, signatureB64: string): boolean {
  if ("d" in jwk || jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || typeof jwk.x !== "string") return false;
  try {
    const key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: jwk.x }, format: "jwk" });
    return edVerify(null, data, key, b64decode(signatureB64));
  } catch {
    return false;
  }
}

// ---- §4.9 / §4.10 proof checks (RFC 9162 §2.1.3.2 and §2.1.4.2, as the document states them) -----

const odd = (n: number) => n % 2 === 1;
const half = (n: number) => Math.floor(n / 2);

export function inclusionValid(leafHash: string, leafIndex: number, treeSize: number, path: string[], root: string): boolean {
  let fn = leafIndex;
  let sn = treeSize - 1;
  let r = leafHash;
  for (const p of path) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      r = nodeHash(p, r);
      while (fn > 0 && !odd(fn)) [fn, sn] = [half(fn), half(sn)];
    } else {
      r = nodeHash(r, p);
    }
    [fn, sn] = [half(fn), half(sn)];
  }
  return r === root && sn === 0;
}

export function consistencyValid(m: number, n: number, root1: string, root2: string, path: string[]): boolean {
  if (m === n) return root1 === root2;
  if (path.length === 0) return false;
  // The SDK loops forever here (§4.10); the helper refuses instead of hanging the test run.
  if (m === 0) throw new Error("consistency proof from tree size 0 with a non-empty path would hang the SDK");
  const p = (m & (m - 1)) === 0 ? [root1, ...path] : [...path];
  let fn = m - 1;
  let sn = n - 1;
  while (odd(fn)) [fn, sn] = [half(fn), half(sn)];
  let fr = p[0]!;
  let sr = p[0]!;
  for (const c of p.slice(1)) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (fn > 0 && !odd(fn)) [fn, sn] = [half(fn), half(sn)];
    } else {
      sr = nodeHash(sr, c);
    }
    [fn, sn] = [half(fn), half(sn)];
  }
  return fr === root1 && sr === root2 && sn === 0;
}

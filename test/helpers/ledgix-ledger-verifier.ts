import { z } from "zod";
import {
  b64decode,
  checkpointHashOf,
  checkpointPayloadOf,
  consistencyValid,
  ed25519Verify,
  eventHashOf,
  inclusionValid,
  isPlainObject,
  leafHashOf,
  merkleRoot,
  receiptPayloadOf,
  toCamelCaseKeys,
} from "./ledgix-ledger-primitives.js";

export { toCamelCaseKeys };

/**
 * What ledgix-ts 0.4 does with the ledger endpoints, re-implemented from the wire protocol document
 * (§2.0, §2.7–2.11, §4.6–4.8): the response key conversion, the zod schemas, the fetchers and the two
 * verifiers with their exact error messages. Independent of src/ledger/* on purpose.
 */

export class LedgixError extends Error {
  override name = "LedgixError";
}
export class TokenVerificationError extends LedgixError {
  override name = "TokenVerificationError";
}
export class VaultConnectionError extends LedgixError {
  override name = "VaultConnectionError";
}

// ---- §2.7–2.11 zod schemas, in the SDK's camelCase shape ----------------------------------------
const bucket = z.enum(["extra_high", "high", "medium", "low", "none"]);
const decision = z.enum(["approved", "denied", "approved_pending_review"]);
const record = z.record(z.string(), z.unknown());

export const ledgerEntrySchema = z.object({
  seq: z.number(),
  eventUuid: z.string(),
  requestId: z.string(),
  agentId: z.string(),
  policyId: z.string(),
  intentHash: z.string().default(""),
  toolName: z.string(),
  toolArgs: record.default({}),
  reason: z.string().default(""),
  citations: z.array(record).default([]),
  evidenceChunks: z.array(record).default([]),
  confidence: z.number().default(0),
  approved: z.boolean().default(false),
  confidenceBucket: bucket.nullable().optional(),
  decisionStatus: decision.nullable().optional(),
  acceptedAt: z.string(),
  canonicalVersion: z.number().int().default(1),
  eventHash: z.string(),
  leafHash: z.string(),
  leafIndex: z.number().nullable().optional(),
  checkpointId: z.number().nullable().optional(),
  receiptAlgorithm: z.string().default(""),
  receiptKeyId: z.string().default(""),
  receiptSignature: z.string().default(""),
  receiptPayload: z.string().default(""),
  ruleSetHash: z.string().nullable().optional(),
  evalInputsHash: z.string().nullable().optional(),
  evalTraceHash: z.string().nullable().optional(),
  classifierLabel: z.string().nullable().optional(),
  matchedRuleIds: z.array(z.string()).nullable().optional(),
  classifierConfidenceBucket: bucket.nullable().optional(),
});
export const checkpointSchema = z.object({
  checkpointId: z.number(),
  microblockId: z.number(),
  treeSize: z.number().int(),
  rootHash: z.string(),
  checkpointHash: z.string(),
  prevCheckpointHash: z.string().default(""),
  signatureAlgorithm: z.string().default(""),
  signerKeyId: z.string().default(""),
  checkpointSignature: z.string().default(""),
  checkpointPayload: z.string().default(""),
  signedAt: z.string(),
  mmdSeconds: z.number().int().default(30),
  exportTarget: z.string().default(""),
  exportUri: z.string().default(""),
  exportStatus: z.string().default(""),
  exportedAt: z.string().optional(),
});
export const inclusionProofSchema = z.object({
  eventUuid: z.string(),
  requestId: z.string(),
  eventHash: z.string(),
  leafHash: z.string(),
  leafIndex: z.number(),
  treeSize: z.number(),
  path: z.array(z.string()).default([]),
  checkpoint: checkpointSchema,
});
export const consistencyProofSchema = z.object({
  fromCheckpoint: checkpointSchema,
  toCheckpoint: checkpointSchema,
  path: z.array(z.string()).default([]),
});
export const keyVersionSchema = z.object({
  keyId: z.string(),
  algorithm: z.string(),
  publicJwk: z.string().default(""),
  activeFrom: z.string(),
  retiredAt: z.string().optional(),
  attestationPayload: z.string().default(""),
  attestationSignature: z.string().default(""),
  attestationKeyId: z.string().default(""),
  attestationStatus: z.string().default(""),
});
export const proofBundleSchema = z.object({
  event: ledgerEntrySchema,
  inclusion: inclusionProofSchema,
  consistency: consistencyProofSchema.optional(),
  keys: z.array(keyVersionSchema).default([]),
});

export type LedgerEntry = z.infer<typeof ledgerEntrySchema>;
export type Checkpoint = z.infer<typeof checkpointSchema>;
export type InclusionProof = z.infer<typeof inclusionProofSchema>;
export type ConsistencyProof = z.infer<typeof consistencyProofSchema>;
export type ProofBundle = z.infer<typeof proofBundleSchema>;
export type Jwk = Record<string, unknown>;
export interface Jwks {
  keys: Jwk[];
}

/** What the SDK's parse of one response object does: key conversion, then zod (a raw ZodError on failure). */
export const sdkParse = <T extends z.ZodType>(schema: T, wire: unknown): z.infer<T> => schema.parse(toCamelCaseKeys(wire));

// ---- fetchers (§1.2 headers, §1.6 messages). `extra` query parameters are a test-only addition. ----
async function sdkGet(base: string, key: string, path: string, what: string): Promise<unknown> {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (key) headers["X-Vault-API-Key"] = key;
  const res = await fetch(base + path, { headers });
  if (!res.ok) throw new VaultConnectionError(`Failed to fetch ${what}: HTTP ${res.status}`);
  return res.json();
}
const qs = (params: Record<string, string | number | undefined>) =>
  Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`)
    .join("&");
const listOf = (body: unknown, field: string): unknown[] => {
  const list = isPlainObject(body) ? body[field] : undefined;
  return Array.isArray(list) ? list : [];
};

export async function fetchLedger(base: string, key: string, limit = 100, extra: Record<string, string> = {}): Promise<LedgerEntry[]> {
  const body = await sdkGet(base, key, `/ledger?${qs({ limit, ...extra })}`, "ledger");
  return listOf(body, "entries").map((e) => sdkParse(ledgerEntrySchema, e));
}
export async function fetchLedgerCheckpoints(base: string, key: string, limit = 24): Promise<Checkpoint[]> {
  const body = await sdkGet(base, key, `/ledger/checkpoints?${qs({ limit })}`, "ledger checkpoints");
  return listOf(body, "checkpoints").map((c) => sdkParse(checkpointSchema, c));
}
export async function fetchInclusionProof(base: string, key: string, requestId: string): Promise<InclusionProof> {
  return sdkParse(inclusionProofSchema, await sdkGet(base, key, `/ledger/proof/inclusion?${qs({ request_id: requestId })}`, "inclusion proof"));
}
export async function fetchConsistencyProof(base: string, key: string, from: number, to: number): Promise<ConsistencyProof> {
  return sdkParse(consistencyProofSchema, await sdkGet(base, key, `/ledger/proof/consistency?${qs({ from, to })}`, "consistency proof"));
}
export async function fetchLedgerProofBundle(base: string, key: string, requestId: string, extra: Record<string, string> = {}): Promise<ProofBundle> {
  const path = `/ledger/proof/bundle?${qs({ request_id: requestId, ...extra })}`;
  return sdkParse(proofBundleSchema, await sdkGet(base, key, path, "ledger proof bundle"));
}
/** §2.5: stored raw, without key conversion. */
export async function fetchJwks(base: string, key: string): Promise<Jwks> {
  const body = await sdkGet(base, key, "/.well-known/jwks.json", "JWKS");
  return { keys: listOf(body, "keys").filter(isPlainObject) };
}

// ---- §4.6 keys ---------------------------------------------------------------------------------
type KeyLookup = (kid: string) => Jwk;
function lookupFrom(byKid: Map<string, Jwk>): KeyLookup {
  return (kid) => {
    const jwk = byKid.get(kid);
    if (!jwk) throw new TokenVerificationError(`No JWKS key found for kid ${kid}`);
    return jwk;
  };
}
function jwksLookup(jwks: Jwks | undefined): KeyLookup {
  if (!jwks || jwks.keys.length === 0) throw new TokenVerificationError("No JWKS available from Vault");
  return lookupFrom(new Map(jwks.keys.filter((k) => typeof k.kid === "string").map((k) => [k.kid as string, k])));
}
/** `jwks` is the client's cached JWKS (undefined: never fetched; the SDK would fetch it now). */
function bundleLookup(bundle: ProofBundle, jwks: Jwks | undefined): KeyLookup {
  const embedded = bundle.keys.filter((k) => k.publicJwk !== "");
  if (embedded.length > 0) {
    const byKid = new Map<string, Jwk>();
    for (const k of embedded) {
      const jwk = JSON.parse(b64decode(k.publicJwk).toString("utf8")) as Jwk;
      byKid.set(typeof jwk.kid === "string" ? jwk.kid : k.keyId, jwk);
    }
    return lookupFrom(byKid);
  }
  if (!jwks && bundle.keys.length > 0) throw new TokenVerificationError("No verification keys available for ledger proof bundle");
  return jwksLookup(jwks);
}

const sameBytes = (payloadB64: string, rebuilt: Buffer) => b64decode(payloadB64).equals(rebuilt);
const fail = (message: string): never => {
  throw new TokenVerificationError(message);
};

export interface LedgerVerificationResult {
  intact: boolean;
  verifiedEntries: number;
  verifiedCheckpoints: number;
  verifiedManifests: number;
  latestLeafHash: string | null;
  latestCheckpointHash: string | null;
  latestManifestHash: string | null;
  coverageNote?: string;
  error?: string; // in the SDK's result schema, never filled
}

/** §4.7, step by step. Throws TokenVerificationError at the first failure; never returns intact:false. */
export function verifyLedgerProof(entries: LedgerEntry[], checkpoints: Checkpoint[], jwks: Jwks | undefined): LedgerVerificationResult {
  const keyFor = jwksLookup(jwks);
  const bySeq = [...entries].sort((a, b) => a.seq - b.seq);
  const sequenced = entries.filter((e) => e.leafIndex !== null && e.leafIndex !== undefined).sort((a, b) => a.leafIndex! - b.leafIndex!);
  const notes: string[] = [];
  let redacted = 0;
  for (const e of bySeq) {
    if (typeof e.intentHash === "string" && e.intentHash !== "") {
      if (eventHashOf(e) !== e.eventHash) fail(`Ledger event hash mismatch at seq ${e.seq}`);
    } else {
      redacted += 1;
    }
    if (leafHashOf(e.eventHash) !== e.leafHash) fail(`Ledger leaf hash mismatch at seq ${e.seq}`);
    if (e.receiptAlgorithm !== "Ed25519") fail(`Unsupported ledger receipt algorithm ${e.receiptAlgorithm}`);
    const receipt = receiptPayloadOf(e);
    if (!sameBytes(e.receiptPayload, receipt)) fail(`Ledger receipt payload mismatch at seq ${e.seq}`);
    if (!ed25519Verify(keyFor(e.receiptKeyId), receipt, e.receiptSignature)) fail(`Ledger receipt signature invalid at seq ${e.seq}`);
  }
  if (redacted > 0) {
    notes.push(
      `Event-body hash recomputation was skipped for ${redacted} redacted public ledger ${redacted === 1 ? "entry" : "entries"}; receipt and checkpoint proofs still verified.`,
    );
  }
  const cps = [...checkpoints].sort((a, b) => a.checkpointId - b.checkpointId);
  let expectedPrev = "";
  for (const c of cps) {
    const id = c.checkpointId;
    if (c.prevCheckpointHash !== expectedPrev) fail(`Ledger checkpoint chain broken at checkpoint ${id}`);
    if (c.signatureAlgorithm !== "Ed25519") fail(`Unsupported checkpoint signature algorithm ${c.signatureAlgorithm}`);
    const payload = checkpointPayloadOf(c);
    if (!sameBytes(c.checkpointPayload, payload)) fail(`Ledger checkpoint payload mismatch at checkpoint ${id}`);
    if (checkpointHashOf(payload) !== c.checkpointHash) fail(`Ledger checkpoint hash mismatch at checkpoint ${id}`);
    if (!ed25519Verify(keyFor(c.signerKeyId), payload, c.checkpointSignature)) fail(`Ledger checkpoint signature invalid at checkpoint ${id}`);
    expectedPrev = c.checkpointHash;
  }
  const latest = cps.at(-1);
  if (latest) {
    if (sequenced.length === latest.treeSize) {
      if (merkleRoot(sequenced.map((e) => e.leafHash)) !== latest.rootHash) fail("Latest checkpoint root does not match sequenced leaf hashes");
    } else {
      notes.push(`Provided ${sequenced.length} sequenced entries for tree size ${latest.treeSize}; full root verification requires the complete covered set.`);
    }
  }
  const latestCheckpointHash = latest?.checkpointHash ?? null;
  const result: LedgerVerificationResult = {
    intact: true,
    verifiedEntries: entries.length,
    verifiedCheckpoints: cps.length,
    verifiedManifests: cps.length,
    latestLeafHash: bySeq.at(-1)?.leafHash ?? null,
    latestCheckpointHash,
    latestManifestHash: latestCheckpointHash,
  };
  if (notes.length > 0) result.coverageNote = notes.join(" ");
  return result;
}

/** §4.8, step by step (the bundle is parsed with zod again first, as the SDK does). */
export function verifyLedgerProofBundle(input: ProofBundle, jwks: Jwks | undefined): LedgerVerificationResult {
  const bundle = proofBundleSchema.parse(input);
  const keyFor = bundleLookup(bundle, jwks);
  const { event, inclusion, consistency } = bundle;
  const receipt = receiptPayloadOf(event);
  if (!sameBytes(event.receiptPayload, receipt)) fail("Ledger receipt payload mismatch in proof bundle");
  if (!ed25519Verify(keyFor(event.receiptKeyId), receipt, event.receiptSignature)) fail("Ledger receipt signature invalid in proof bundle");
  const cp = inclusion.checkpoint;
  const payload = checkpointPayloadOf(cp);
  if (!sameBytes(cp.checkpointPayload, payload)) fail("Ledger checkpoint payload mismatch in proof bundle");
  if (!ed25519Verify(keyFor(cp.signerKeyId), payload, cp.checkpointSignature)) fail("Ledger checkpoint signature invalid in proof bundle");
  if (!inclusionValid(event.leafHash, inclusion.leafIndex, inclusion.treeSize, inclusion.path, cp.rootHash)) fail("Ledger inclusion proof is invalid");
  if (consistency) {
    const { fromCheckpoint: from, toCheckpoint: to } = consistency;
    if (!consistencyValid(from.treeSize, to.treeSize, from.rootHash, to.rootHash, consistency.path)) fail("Ledger consistency proof is invalid");
  }
  const latestCheckpointHash = consistency ? consistency.toCheckpoint.checkpointHash : cp.checkpointHash;
  return {
    intact: true,
    verifiedEntries: 1,
    verifiedCheckpoints: consistency ? 2 : 1,
    verifiedManifests: consistency ? 2 : 1,
    latestLeafHash: event.leafHash,
    latestCheckpointHash,
    latestManifestHash: latestCheckpointHash,
  };
}

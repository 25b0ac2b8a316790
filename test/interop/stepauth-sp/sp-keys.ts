/**
 * StepAuth SP-side keys and envelopes, written from ../shared/reference/stepauth-protocol.md (§1) ONLY.
 *
 * This folder is an independent SP: it MUST NOT import server modules (nothing under src/, not even
 * src/protocols or the SDK), so that the tests check the vault against the document and not against
 * its own reading of it. Ed25519 comes from node:crypto, ML-DSA-65 from @noble/post-quantum.
 */
import { createPublicKey, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from "node:crypto";
import { ml_dsa65 } from "@noble/post-quantum/ml-dsa.js";

export type Alg = "ed25519" | "ml-dsa-65";
/** The keyset wire form of reference §1 (metadata and registration). */
export interface WireKeyset { keysetId: string; keys: { idx: number; alg: Alg; pub: string }[] }
export interface Envelope { payload: string; signature: { keysetId: string; signatures: string[] } }

/** An SP's signing identity and what the tenant registers for it out of band (reference §2). */
export interface SpSigner {
  keysetId: string;
  /** One signature per keyset component, in idx order, each over exactly P (reference §1). */
  sign(p: Uint8Array): string[];
  /** The registration value: the hybrid wire keyset, or a seed-era `{keyId, publicKey}`. */
  registration: unknown;
}

/** The 12-byte DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the raw key follows. */
const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
export const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64");

/** Standard padded base64 in its one canonical spelling, or null (the document says "standard padded"). */
export function strictB64(s: unknown): Buffer | null {
  if (typeof s !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) return null;
  const bytes = Buffer.from(s, "base64");
  return bytes.toString("base64") === s ? bytes : null;
}

function ed25519Raw(publicKey: KeyObject): Buffer {
  return publicKey.export({ format: "der", type: "spki" }).subarray(ED25519_SPKI_PREFIX.length);
}

function ed25519Pair() {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  return { publicKey, privateKey, raw: ed25519Raw(publicKey) };
}

/** The SDK's hybrid keyset: [ed25519 idx 0, ml-dsa-65 idx 1]. */
export function hybridSigner(keysetId = `ks_${randomBytes(8).toString("hex")}`): SpSigner & { keyset: WireKeyset } {
  const ed = ed25519Pair();
  const pq = ml_dsa65.keygen();
  const keyset: WireKeyset = {
    keysetId,
    keys: [
      { idx: 0, alg: "ed25519", pub: b64(ed.raw) },
      { idx: 1, alg: "ml-dsa-65", pub: b64(pq.publicKey) },
    ],
  };
  return {
    keysetId,
    keyset,
    registration: keyset,
    // The TS SDK signs ML-DSA deterministically (extraEntropy: false); both forms verify the same way.
    sign: (p) => [b64(sign(null, p, ed.privateKey)), b64(ml_dsa65.sign(p, pq.secretKey, { extraEntropy: false }))],
  };
}

/** A seed-era SP: one Ed25519 key with a `keyId`, registered as base64 SPKI DER ("MCowBQYDK2VwAyEA…"). */
export function seedEraSigner(keyId = `key_${randomBytes(6).toString("hex")}`): SpSigner {
  const ed = ed25519Pair();
  const spki = ed.publicKey.export({ format: "der", type: "spki" });
  return { keysetId: keyId, registration: { keyId, publicKey: b64(spki) }, sign: (p) => [b64(sign(null, p, ed.privateKey))] };
}

/** Signs P into the JSON envelope text of reference §1 (P itself is carried verbatim in base64). */
export function envelopeText(p: Uint8Array, signer: SpSigner): string {
  const envelope: Envelope = { payload: b64(p), signature: { keysetId: signer.keysetId, signatures: signer.sign(p) } };
  return JSON.stringify(envelope);
}

function verifyOne(alg: Alg, pub: Buffer, sig: Buffer, p: Buffer): boolean {
  try {
    if (alg === "ed25519") {
      if (pub.length !== 32 || sig.length !== 64) return false;
      return verify(null, p, createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, pub]), format: "der", type: "spki" }), sig);
    }
    return ml_dsa65.verify(sig, p, pub);
  } catch {
    return false;
  }
}

/**
 * All-of verification (reference §1): find signature.keysetId among the signer's keysets; the keyset must
 * be exactly [ed25519, ml-dsa-65] in idx order; one signature per key; every one must verify. Returns the
 * payload bytes as sent (never re-serialised) or why it failed, for the test's message.
 */
export function verifyEnvelope(body: string, keysets: readonly WireKeyset[]): { ok: true; payload: Buffer } | { ok: false; reason: string } {
  let env: Envelope;
  try {
    env = JSON.parse(body);
  } catch {
    return { ok: false, reason: "the envelope is not JSON" };
  }
  const payload = strictB64(env?.payload);
  if (!payload) return { ok: false, reason: "payload is not standard padded base64" };
  const sigs = env.signature?.signatures;
  if (typeof env.signature?.keysetId !== "string" || !Array.isArray(sigs)) return { ok: false, reason: "signature member malformed" };
  const keyset = keysets.find((k) => k.keysetId === env.signature.keysetId);
  if (!keyset) return { ok: false, reason: `keyset ${env.signature.keysetId} is not published` };
  const shape = keyset.keys.map((k) => `${k.idx}:${k.alg}`).join(",");
  if (shape !== "0:ed25519,1:ml-dsa-65") return { ok: false, reason: `keyset shape ${shape} is not [ed25519, ml-dsa-65]` };
  if (sigs.length !== keyset.keys.length) return { ok: false, reason: "signature count differs from the keyset" };
  for (const key of keyset.keys) {
    const pub = strictB64(key.pub);
    const sig = strictB64(sigs[key.idx]);
    if (!pub || !sig || !verifyOne(key.alg, pub, sig, payload)) return { ok: false, reason: `the ${key.alg} signature does not verify` };
  }
  return { ok: true, payload };
}

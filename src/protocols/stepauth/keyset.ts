import { ed25519 } from "@noble/curves/ed25519.js";
import { isSmallOrderKey } from "../ed25519.js";
import { randomBytes } from "@noble/hashes/utils.js";
import { ml_dsa65 } from "@noble/post-quantum/ml-dsa.js";
import { fromBase64Strict, toBase64, toHex } from "../encoding.js";
import { isValidKeysetId, KEY_LENGTHS, type PrivateKeyset, type PublicKeyset } from "./keyset-types.js";
import { asObject } from "./strict-json.js";

/**
 * StepAuth keysets (reference §1). A v1 keyset is the hybrid pair [ed25519 idx 0, ml-dsa-65 idx 1],
 * verified all-of, so it is no weaker than its stronger half. A seed-era SP registered one Ed25519
 * key; it is carried as a one-component keyset [ed25519] and verified the same way.
 */
export { hasKeysetShape, isValidKeysetId, KEY_LENGTHS, type KeyAlg, type PrivateKeyset, type PublicKeyset } from "./keyset-types.js";

export function generateHybridKeyset(keysetId: string = `ks_${toHex(randomBytes(8))}`): PrivateKeyset {
  if (!isValidKeysetId(keysetId)) throw new RangeError("keysetId must be 1-256 printable ASCII characters");
  const seed = ed25519.utils.randomSecretKey();
  const pq = ml_dsa65.keygen(randomBytes(32));
  return {
    keysetId,
    keys: [
      { alg: "ed25519", secretKey: seed, publicKey: ed25519.getPublicKey(seed) },
      { alg: "ml-dsa-65", secretKey: pq.secretKey, publicKey: pq.publicKey },
    ],
  };
}

export function publicKeysetOf(k: PrivateKeyset): PublicKeyset {
  return { keysetId: k.keysetId, keys: k.keys.map((key, idx) => ({ idx, alg: key.alg, pub: toBase64(key.publicKey) })) };
}

// DER SubjectPublicKeyInfo header of an Ed25519 key (RFC 8410): the seed era's "MCowBQYDK2VwAyEA..." form.
const ED25519_SPKI_PREFIX = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

type Parsed = { ok: true; keyset: PublicKeyset } | { ok: false; reason: string };

/**
 * A keyset offered at registration: the hybrid wire keyset (exactly [ed25519 idx 0, ml-dsa-65 idx 1],
 * canonical base64, right lengths, a valid Ed25519 point), or a seed-era `{keyId, publicKey}` whose
 * key is SPKI DER or raw 32 bytes in base64. Never throws.
 */
export function parsePublicKeyset(value: unknown): Parsed {
  const o = asObject(value);
  if (!o) return { ok: false, reason: "a keyset is a JSON object" };
  if (o.keys === undefined && (o.keyId !== undefined || o.publicKey !== undefined)) return parseSeedEraKey(o);
  if (!isValidKeysetId(o.keysetId)) return { ok: false, reason: "keysetId must be 1-256 printable ASCII characters" };
  if (!Array.isArray(o.keys) || o.keys.length !== 2) return { ok: false, reason: "keys must be exactly [ed25519, ml-dsa-65]" };
  const keys: PublicKeyset["keys"] = [];
  for (const [idx, alg] of (["ed25519", "ml-dsa-65"] as const).entries()) {
    const key = asObject(o.keys[idx]);
    if (!key || key.idx !== idx || key.alg !== alg) return { ok: false, reason: `keys[${idx}] must be {"idx":${idx},"alg":"${alg}"}: the order is [ed25519, ml-dsa-65]` };
    const raw = typeof key.pub === "string" ? fromBase64Strict(key.pub) : null;
    if (!raw || raw.length !== KEY_LENGTHS[alg].publicKey) return { ok: false, reason: `keys[${idx}].pub must be standard base64 of ${KEY_LENGTHS[alg].publicKey} bytes` };
    if (alg === "ed25519" && !isEd25519Point(raw)) return { ok: false, reason: "keys[0].pub is not an Ed25519 public key" };
    keys.push({ idx, alg, pub: toBase64(raw) });
  }
  return { ok: true, keyset: { keysetId: o.keysetId, keys } };
}

function parseSeedEraKey(o: Record<string, unknown>): Parsed {
  if (!isValidKeysetId(o.keyId)) return { ok: false, reason: "keyId must be 1-256 printable ASCII characters" };
  const der = typeof o.publicKey === "string" ? fromBase64Strict(o.publicKey) : null;
  let raw: Uint8Array | null = null;
  if (der?.length === 32) raw = der;
  else if (der?.length === 44 && ED25519_SPKI_PREFIX.every((b, i) => der[i] === b)) raw = der.subarray(12);
  if (!raw) return { ok: false, reason: "publicKey must be base64 of an Ed25519 SPKI DER key (MCowBQYDK2VwAyEA...) or of the raw 32 bytes" };
  if (!isEd25519Point(raw)) return { ok: false, reason: "publicKey is not an Ed25519 public key" };
  return { ok: true, keyset: { keysetId: o.keyId, keys: [{ idx: 0, alg: "ed25519", pub: toBase64(raw) }] } };
}

/** A point on the curve, and not one of small order (anyone can sign for those: src/protocols/ed25519.ts). */
function isEd25519Point(raw: Uint8Array): boolean {
  if (isSmallOrderKey(raw)) return false;
  try {
    ed25519.Point.fromBytes(raw);
    return true;
  } catch {
    return false;
  }
}

export { parsePrivateKeyset, serializePrivateKeyset } from "./private-keyset.js";

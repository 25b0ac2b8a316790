import { ed25519 } from "@noble/curves/ed25519.js";
import { shake256 } from "@noble/hashes/sha3.js";
import { fromBase64Strict, toBase64 } from "../encoding.js";
import { hasKeysetShape, isValidKeysetId, KEY_LENGTHS, type KeyAlg, type PrivateKeyset } from "./keyset-types.js";
import { asObject, parseStrictJson } from "./strict-json.js";

/**
 * A private keyset as text, for sealing at rest. The form is the official SDKs' SigningKeyset JSON
 * (`{keysetId, keys: [{idx, alg, pub, priv}]}`, base64, Ed25519 `priv` = seed || public key), so a
 * keyset made by the Go or TypeScript SDK can be loaded here and the other way round.
 */
export function serializePrivateKeyset(k: PrivateKeyset): string {
  return JSON.stringify({
    keysetId: k.keysetId,
    keys: k.keys.map((key, idx) => ({
      idx,
      alg: key.alg,
      pub: toBase64(key.publicKey),
      priv: toBase64(key.alg === "ed25519" ? concat(key.secretKey, key.publicKey) : key.secretKey),
    })),
  });
}

/**
 * The keyset in `s`, or null. Each public key must belong to its private key: a sealed keyset that
 * was tampered with or mixed up must not sign under a public key that cannot verify it.
 */
export function parsePrivateKeyset(s: string): PrivateKeyset | null {
  if (typeof s !== "string") return null;
  const parsed = parseStrictJson(s);
  const o = parsed.ok ? asObject(parsed.value) : null;
  if (!o || !isValidKeysetId(o.keysetId) || !Array.isArray(o.keys)) return null;
  const entries = o.keys.map(asObject);
  if (entries.some((e) => e === null) || !hasKeysetShape(entries as Record<string, unknown>[])) return null;
  const keys: PrivateKeyset["keys"] = [];
  for (const entry of entries as Record<string, unknown>[]) {
    const alg = entry.alg as KeyAlg;
    const pub = typeof entry.pub === "string" ? fromBase64Strict(entry.pub) : null;
    const priv = typeof entry.priv === "string" ? fromBase64Strict(entry.priv) : null;
    const key = pub && priv ? (alg === "ed25519" ? ed25519Key(pub, priv) : mlDsaKey(pub, priv)) : null;
    if (!key) return null;
    keys.push(key);
  }
  return { keysetId: o.keysetId, keys };
}

function ed25519Key(pub: Uint8Array, priv: Uint8Array): PrivateKeyset["keys"][number] | null {
  if (pub.length !== KEY_LENGTHS.ed25519.publicKey || (priv.length !== 32 && priv.length !== 64)) return null;
  const seed = priv.slice(0, 32);
  if (priv.length === 64 && !equal(priv.subarray(32), pub)) return null;
  return equal(ed25519.getPublicKey(seed), pub) ? { alg: "ed25519", secretKey: seed, publicKey: pub } : null;
}

/**
 * FIPS 204 lays the secret key out as rho || K || tr || ..., with rho the public key's first 32
 * bytes and tr = SHAKE256(public key, 64 bytes): checking both binds the pair without a signature.
 */
function mlDsaKey(pub: Uint8Array, priv: Uint8Array): PrivateKeyset["keys"][number] | null {
  const lengths = KEY_LENGTHS["ml-dsa-65"];
  if (pub.length !== lengths.publicKey || priv.length !== lengths.secretKey) return null;
  if (!equal(priv.subarray(0, 32), pub.subarray(0, 32))) return null;
  if (!equal(priv.subarray(64, 128), shake256(pub, { dkLen: 64 }))) return null;
  return { alg: "ml-dsa-65", secretKey: priv, publicKey: pub };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

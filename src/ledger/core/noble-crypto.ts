/**
 * The ledger core's primitives in plain JavaScript, for runtimes without node:crypto (the SDK's
 * offline bundle verifier in an edge runtime). From @noble/hashes and @noble/curves: audited,
 * dependency-free implementations, rather than our own.
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";

/** SHA-256 of the concatenation of `parts`. */
export function sha256Pure(...parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return sha256(parts[0]!);
  const h = sha256.create();
  for (const p of parts) h.update(p);
  return h.digest();
}

/**
 * RFC 8032 verification (zip215 off: the strict rules OpenSSL, and so node:crypto, applies: a
 * non-canonical S or point encoding is refused). False, never a throw, for any bad key or signature.
 */
export function ed25519VerifyPure(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

import { ed25519 } from "@noble/curves/ed25519.js";
import { toBase64Url } from "./encoding.js";

/**
 * Ed25519 verification for the seed protocols, synchronous and never throwing.
 *
 * Verification is on the vault's hot path (every StepAuth envelope, two per Sigilum-signed request:
 * the certificate proof and the request signature), and plain-JavaScript Ed25519 costs about 2 ms a
 * verify where node:crypto takes 0.3 ms. This folder must still run in edge runtimes (the SDK reaches
 * it, and test/architecture/layers.test.ts forbids node: imports and the `process` global), so Node's
 * module is taken from the runtime when it offers one (process.getBuiltinModule, Node >= 20.16), as
 * the ledger core does (src/ledger/core/crypto.ts), and @noble/curves runs elsewhere.
 *
 * Both refuse a non-canonical S (RFC 8032 §5.1.7); noble runs with zip215 off, RFC 8032's strict rule
 * that Go's crypto/ed25519 applies. Neither refuses a small-order public key, and with one of those
 * (the identity point, say) R = identity and S = 0 verify for EVERY message: anyone could sign as that
 * key, so a certificate, claim or keyset naming one would be forgeable by all. Such keys are refused
 * here, before either implementation runs (libsodium does the same).
 */

interface NodeEd25519 {
  createPublicKey(input: { key: { kty: string; crv: string; x: string }; format: "jwk" }): unknown;
  verify(algorithm: null, data: Uint8Array, key: unknown, signature: Uint8Array): boolean;
}

function nodeCrypto(): NodeEd25519 | undefined {
  const runtime = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    return runtime?.getBuiltinModule?.("node:crypto") as NodeEd25519 | undefined;
  } catch {
    return undefined;
  }
}

const node = nodeCrypto();

/**
 * The encodings of the points of small order (libsodium's blocklist): 0 and 1, the two points of
 * order 8 (their negatives differ only in the sign bit, which the comparison ignores), p-1, and the
 * non-canonical encodings p and p+1 of 0 and 1.
 */
const SMALL_ORDER_KEYS: readonly Uint8Array[] = [
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0100000000000000000000000000000000000000000000000000000000000000",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
].map((hex) => Uint8Array.from(hex.match(/../g)!, (b) => parseInt(b, 16)));

/** True for a public key of small order, whatever its sign bit: a key no one holds alone. */
export function isSmallOrderKey(publicKey: Uint8Array): boolean {
  if (publicKey.length !== 32) return false;
  return SMALL_ORDER_KEYS.some((bad) => {
    let diff = (publicKey[31]! & 0x7f) ^ bad[31]!;
    for (let i = 0; i < 31; i++) diff |= publicKey[i]! ^ bad[i]!;
    return diff === 0;
  });
}

/** True only for a 64-byte signature by the raw 32-byte public key over `message`; never for a small-order key. */
export function ed25519Verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== 64 || publicKey.length !== 32 || isSmallOrderKey(publicKey)) return false;
  try {
    if (node) {
      const key = node.createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: toBase64Url(publicKey) }, format: "jwk" });
      return node.verify(null, message, key, signature);
    }
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

/** Which implementation runs here: for tests and the bench. */
export const ed25519Implementation: "node" | "pure" = node ? "node" : "pure";

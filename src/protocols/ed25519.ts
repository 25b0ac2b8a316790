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
 * that Go's crypto/ed25519 applies. They can differ only on crafted small-order keys, which only the
 * key's own holder could sign with.
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

/** True only for a 64-byte signature by the raw 32-byte public key over `message`. */
export function ed25519Verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== 64 || publicKey.length !== 32) return false;
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

/**
 * The ledger core's two primitives, synchronous: SHA-256 and Ed25519 verification.
 *
 * The core runs in two places: the vault (where the sequencer hashes every leaf and node, so speed
 * matters) and the SDK's offline bundle verifier (which must run in edge runtimes: no node: imports
 * anywhere it reaches; test/architecture/layers.test.ts checks that). So nothing here imports
 * node:crypto. Node's own module is taken from the runtime when it offers one
 * (process.getBuiltinModule, Node >= 20.16 and 22.3): the vault gets native hashing (crypto.hash in
 * one call where available) and verification as before; elsewhere the plain-JavaScript versions of
 * noble-crypto.ts (@noble/hashes, @noble/curves) run, which test/unit/sdk-ledger-crypto.test.ts checks against node:crypto.
 */
import { ed25519VerifyPure, sha256Pure } from "./noble-crypto.js";

export interface NodeCryptoSubset {
  hash?: (algorithm: string, data: Uint8Array, encoding: "buffer") => Uint8Array;
  createHash(algorithm: string): { update(data: Uint8Array): unknown; digest(): Uint8Array };
  createPublicKey(input: { key: { kty: string; crv: string; x: string }; format: "jwk" }): unknown;
  verify(algorithm: null, data: Uint8Array, key: unknown, signature: Uint8Array): boolean;
}

export interface LedgerCrypto {
  /** "node" or "pure": which implementation runs (for tests and diagnostics). */
  readonly name: "node" | "pure";
  sha256(...parts: Uint8Array[]): Uint8Array;
  /** Raw 32-byte Ed25519 public key; false (never a throw) for any key or signature that does not verify. */
  ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}

export const pureLedgerCrypto: LedgerCrypto = { name: "pure", sha256: sha256Pure, ed25519Verify: ed25519VerifyPure };

function nodeModule(): NodeCryptoSubset | undefined {
  const runtime = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    return runtime?.getBuiltinModule?.("node:crypto") as NodeCryptoSubset | undefined;
  } catch {
    return undefined;
  }
}

const asBytes = (b: Uint8Array) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** node:crypto as a LedgerCrypto: `node` given (node-crypto.ts), or taken from the runtime if it offers it. */
export function nodeLedgerCrypto(node: NodeCryptoSubset | undefined = nodeModule()): LedgerCrypto | undefined {
  if (!node) return undefined;
  const oneShot = node.hash;
  return {
    name: "node",
    sha256(...parts) {
      // crypto.hash (Node >= 20.12) hashes in one call, about a third faster than a Hash object.
      if (oneShot && parts.length === 1) return asBytes(oneShot("sha256", parts[0]!, "buffer"));
      const h = node.createHash("sha256");
      for (const p of parts) h.update(p);
      return asBytes(h.digest());
    },
    ed25519Verify(publicKey, message, signature) {
      if (publicKey.length !== 32 || signature.length !== 64) return false;
      try {
        const key = node.createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: base64url(publicKey) }, format: "jwk" });
        return node.verify(null, message, key, signature);
      } catch {
        return false;
      }
    },
  };
}

let active: LedgerCrypto = nodeLedgerCrypto() ?? pureLedgerCrypto;

/**
 * Makes `impl` the implementation in use. Called once by node-crypto.ts, which the vault's ledger
 * writer imports: on a runtime without process.getBuiltinModule the vault still hashes natively. The SDK's path never reaches that file.
 */
export function installLedgerCrypto(impl: LedgerCrypto): void {
  active = impl;
}

/** The implementation in use. */
export function ledgerCrypto(): LedgerCrypto {
  return active;
}

/** SHA-256 of the concatenation of `parts`. */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  return active.sha256(...parts);
}

export function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  return active.ed25519Verify(publicKey, message, signature);
}

/**
 * Runs `fn` (synchronous) with another implementation, then restores the one before: lets a test
 * exercise the plain-JavaScript path the SDK takes in an edge runtime, inside Node.
 */
export function withLedgerCrypto<T>(impl: LedgerCrypto, fn: () => T): T {
  const before = active;
  active = impl;
  try {
    return fn();
  } finally {
    active = before;
  }
}

import { createPrivateKey, createPublicKey, generateKeyPairSync, hkdfSync, sign, type KeyObject } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

export interface PublicJwk {
  kty: "OKP";
  crv: "Ed25519";
  x: string;
  kid: string;
  use: "sig";
  alg: "EdDSA";
}

/**
 * The signing port: the local key today, a KMS key later. Pure Ed25519 (RFC 8032), never prehashed.
 * Asynchronous, as a remote key must be; the local key signs on libuv's thread pool, so the
 * decision path's two signatures per approval do not hold the event loop.
 */
export interface Signer {
  readonly kid: string;
  readonly publicJwk: PublicJwk;
  sign(data: Uint8Array): Promise<Uint8Array>;
  /** Releases a remote key's connections (KMS); a local key holds none. */
  close?(): void;
  /** Why a remote key cannot sign right now (its last call failed), for /readyz; a local key has no such state. */
  degraded?(): string | undefined;
}

/**
 * A signature that could not be made (a key service down, slow, refusing, or answering a signature
 * that does not verify). Never answered with a local or missing signature: callers fail closed
 * (a decision goes to review; mint and consume answer 503 signer_unavailable).
 */
export class SignerUnavailableError extends Error {
  constructor(
    message: string,
    readonly kid: string,
  ) {
    super(message);
  }
}

// DER prefix of a PKCS#8 Ed25519 private key; the 32-byte seed follows (RFC 8410 §7).
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

export class LocalSigner implements Signer {
  readonly publicJwk: PublicJwk;
  constructor(
    readonly kid: string,
    private readonly key: KeyObject,
  ) {
    const jwk = createPublicKey(key).export({ format: "jwk" });
    this.publicJwk = { kty: "OKP", crv: "Ed25519", x: String(jwk.x), kid, use: "sig", alg: "EdDSA" };
  }
  sign(data: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve, reject) => sign(null, data, this.key, (err, signature) => (err ? reject(err) : resolve(signature))));
  }

  /** The same signature on the calling thread: for fixtures and one-off tools that sign one thing. */
  signSync(data: Uint8Array): Uint8Array {
    return sign(null, data, this.key);
  }

  /**
   * A separate Ed25519 key derived from this one (HKDF-SHA256 over the seed, RFC 5869), so that
   * every vault process configured with the same key derives the same ledger key with no more
   * configuration, while ledger signatures and tokens never share a key.
   */
  derive(kid: string, label: string): LocalSigner {
    const seed = Buffer.from(String(this.key.export({ format: "jwk" }).d), "base64url");
    const derived = Buffer.from(hkdfSync("sha256", seed, Buffer.alloc(0), `countersign ${label}`, 32));
    return new LocalSigner(kid, fromSeed(derived, kid));
  }
}

export class SignerKeyError extends Error {}

/**
 * Reads an Ed25519 private key given as PEM, as base64 of a PKCS#8 DER key, of a 32-byte seed,
 * or of the 64-byte seed||public form that Go's crypto/ed25519 writes.
 */
export function parseEd25519PrivateKey(text: string, source: string): KeyObject {
  const trimmed = text.trim();
  if (trimmed.startsWith("-----BEGIN")) return checked(() => createPrivateKey(trimmed), source);
  const bytes = Buffer.from(trimmed, "base64");
  if (bytes.length === 0) throw new SignerKeyError(`${source}: empty key`);
  const decodedText = bytes.toString("utf8");
  if (decodedText.startsWith("-----BEGIN")) return checked(() => createPrivateKey(decodedText), source);
  if (bytes.length === 32) return fromSeed(bytes, source);
  if (bytes.length === 64) {
    const key = fromSeed(bytes.subarray(0, 32), source);
    const pub = Buffer.from(String(createPublicKey(key).export({ format: "jwk" }).x), "base64url");
    if (!pub.equals(bytes.subarray(32))) throw new SignerKeyError(`${source}: 64-byte key whose public half does not match its seed`);
    return key;
  }
  return checked(() => createPrivateKey({ key: bytes, format: "der", type: "pkcs8" }), source);
}

function fromSeed(seed: Buffer, source: string): KeyObject {
  return checked(() => createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: "der", type: "pkcs8" }), source);
}

function checked(make: () => KeyObject, source: string): KeyObject {
  let key: KeyObject;
  try {
    key = make();
  } catch {
    throw new SignerKeyError(`${source}: not a readable private key`);
  }
  if (key.asymmetricKeyType !== "ed25519") throw new SignerKeyError(`${source}: key is ${key.asymmetricKeyType}, Ed25519 is required`);
  return key;
}

/**
 * The configured key, or in its absence the key kept in the data directory, generated (mode 0600)
 * on first start. "memory://" data dirs get a throwaway key.
 */
export function loadLocalSigner(args: { keyId: string; privateKeyFile?: string; privateKeyBase64?: string; dataDir: string }): {
  signer: LocalSigner;
  generated: boolean;
} {
  if (args.privateKeyBase64) {
    return { signer: new LocalSigner(args.keyId, parseEd25519PrivateKey(args.privateKeyBase64, "VAULT_PRIVATE_KEY_BASE64")), generated: false };
  }
  if (args.privateKeyFile) {
    let text: string;
    try {
      text = readFileSync(args.privateKeyFile, "utf8");
    } catch {
      throw new SignerKeyError(`VAULT_PRIVATE_KEY_FILE: cannot read ${args.privateKeyFile}`);
    }
    return { signer: new LocalSigner(args.keyId, parseEd25519PrivateKey(text, "VAULT_PRIVATE_KEY_FILE")), generated: false };
  }
  if (args.dataDir === "memory://") {
    return { signer: new LocalSigner(args.keyId, generateKeyPairSync("ed25519").privateKey), generated: true };
  }
  const file = path.join(args.dataDir, "keys", `${args.keyId}.pem`);
  if (existsSync(file)) return { signer: new LocalSigner(args.keyId, parseEd25519PrivateKey(readFileSync(file, "utf8"), file)), generated: false };
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync("ed25519");
  writeFileSync(file, privateKey.export({ format: "pem", type: "pkcs8" }), { mode: 0o600, flag: "wx" });
  return { signer: new LocalSigner(args.keyId, privateKey), generated: true };
}

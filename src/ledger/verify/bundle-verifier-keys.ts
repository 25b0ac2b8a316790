/**
 * Trusted Ed25519 keys for offline proof-bundle verification (wire protocol §4.6) and the one place
 * that calls node:crypto's Ed25519 verify. Pure except for crypto; all input is hostile.
 *
 * Where the keys come from decides what a passing verification means:
 * - "jwks" / "key": obtained by the caller independently of the bundle, so a valid signature shows
 *   that the log's key signed it (authenticity);
 * - "bundle": the bundle's own `keys[].public_jwk`. Whoever forged the bundle could have put their key
 *   there, so signatures only prove the bundle is internally consistent (integrity), not who signed.
 */
import { bytesEqual, fromBase64, toBase64Url } from "../core/bytes.js";
import { ed25519Verify } from "../core/crypto.js";
import { LedgerError, type LedgerErrorCode } from "../core/ledger-error.js";
import { parseVerifierKey, type NoteVerifier } from "../core/signed-note.js";

export type KeySource = "jwks" | "key" | "bundle";

export interface TrustedKeys {
  /** 32-byte raw Ed25519 public keys by JWKS kid (receipt_key_id, signer_key_id). */
  byKid: Map<string, Uint8Array>;
  /** Keys that verify any kid: a single key given on the command line. */
  anyKid?: Uint8Array[];
  /** C2SP note verifiers the caller trusts (a `name+hex+base64` key string). */
  noteVerifiers?: NoteVerifier[];
  source: KeySource;
  /** Problems met while collecting keys that did not stop collection (bundle keys only). */
  warnings?: string[];
}

/**
 * A key source the caller supplied is unusable: refuse it (LedgerError private_key, bad_jwk, bad_jwks,
 * duplicate_kid, no_keys or bad_key_string) rather than verify with less than asked.
 */
export const TRUSTED_KEYS_ERROR_CODES = ["private_key", "bad_jwk", "bad_jwks", "duplicate_kid", "no_keys", "bad_key_string"] as const satisfies readonly LedgerErrorCode[];

const ED25519_PUBLIC_BYTES = 32;
const ED25519_SIGNATURE_BYTES = 64;
// RFC 7517/8037: `x` is base64url without padding; 32 bytes are exactly 43 characters.
const JWK_X = /^[A-Za-z0-9_-]{43}$/;
// Protocol §4: payloads and signatures are base64url with or without padding, or standard base64.
const BASE64_ANY = /^[A-Za-z0-9+/_-]*={0,2}$/;
const MAX_JWKS_KEYS = 1000;

/**
 * Decodes base64url or standard base64, padded or not, or returns null. Leftover bits in the last
 * character are tolerated, as the SDK's decoder does: what is verified is the decoded bytes.
 */
export function decodeBase64Lenient(s: string): Uint8Array | null {
  if (typeof s !== "string" || !BASE64_ANY.test(s)) return null;
  const unpadded = s.replace(/=+$/, "");
  if (unpadded.length % 4 === 1) return null; // cannot end a base64 text
  if (s.length !== unpadded.length && s.length % 4 !== 0) return null; // padding present but wrong
  return fromBase64(unpadded);
}

/** Pure Ed25519 (RFC 8032) over `data`; false for any malformed key or signature, never throws. */
export function verifyEd25519(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== ED25519_PUBLIC_BYTES || signature.length !== ED25519_SIGNATURE_BYTES) return false;
  // crypto.ts: node:crypto where the runtime has it, else plain JavaScript; never throws.
  return ed25519Verify(publicKey, data, signature);
}

/** The keys to try for `kid`: the one registered under it, then the any-kid keys. */
export function keysForKid(keys: TrustedKeys, kid: string): Uint8Array[] {
  const exact = keys.byKid.get(kid);
  return [...(exact ? [exact] : []), ...(keys.anyKid ?? [])];
}

/** Every raw public key the caller trusts, whatever kid or note name it is filed under. */
export function allTrustedKeys(keys: TrustedKeys): Uint8Array[] {
  return [...keys.byKid.values(), ...(keys.anyKid ?? []), ...(keys.noteVerifiers ?? []).map((v) => v.publicKey)];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * The raw key of an Ed25519 public JWK, or null for another key type (ignored, as JWKS clients do).
 * A JWK carrying `d` is a private key: publishing or pinning one is a serious mistake, so it throws.
 */
function ed25519FromJwk(jwk: unknown, where: string): Uint8Array | null {
  if (!isRecord(jwk)) throw new LedgerError("bad_jwk", `${where}: not a JSON object`);
  if ("d" in jwk) throw new LedgerError("private_key", `${where}: contains a private key ("d"); use the public key only`);
  if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519") return null;
  if (typeof jwk.x !== "string" || !JWK_X.test(jwk.x)) throw new LedgerError("bad_jwk", `${where}: "x" must be 43 base64url characters (32 bytes)`);
  const raw = fromBase64(jwk.x);
  // Reject x values whose last character carries stray bits: one key, one spelling.
  if (!raw || raw.length !== ED25519_PUBLIC_BYTES || toBase64Url(raw) !== jwk.x) throw new LedgerError("bad_jwk", `${where}: "x" is not canonical base64url`);
  return raw;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return bytesEqual(a, b);
}

/** A JWKS document (`{"keys":[...]}`, already JSON-parsed). Keys without a kid cannot be looked up and are skipped. */
export function trustedKeysFromJwks(json: unknown): TrustedKeys {
  if (!isRecord(json) || !Array.isArray(json.keys)) throw new LedgerError("bad_jwks", 'JWKS must be an object with a "keys" array');
  if (json.keys.length > MAX_JWKS_KEYS) throw new LedgerError("bad_jwks", `JWKS has over ${MAX_JWKS_KEYS} keys`);
  const byKid = new Map<string, Uint8Array>();
  json.keys.forEach((jwk: unknown, i) => {
    const raw = ed25519FromJwk(jwk, `JWKS key ${i}`);
    const kid = (jwk as Record<string, unknown>).kid;
    if (!raw || typeof kid !== "string" || kid === "") return;
    const seen = byKid.get(kid);
    if (seen && !sameBytes(seen, raw)) throw new LedgerError("duplicate_kid", `JWKS has two different keys with kid ${JSON.stringify(kid)}`);
    byKid.set(kid, raw);
  });
  if (byKid.size === 0) throw new LedgerError("no_keys", "JWKS has no Ed25519 public key with a kid");
  return { byKid, source: "jwks" };
}

/** Raw 32-byte Ed25519 key as base64url or base64: exactly 43 characters, or 44 ending in "=". */
function rawKeyFromString(s: string): Uint8Array | null {
  if (!/^[A-Za-z0-9+/_-]{43}=?$/.test(s)) return null;
  const raw = decodeBase64Lenient(s);
  return raw && raw.length === ED25519_PUBLIC_BYTES ? raw : null;
}

/**
 * One key trusted for every kid, given as a C2SP verifier key (`name+hex+base64`, which also verifies
 * C2SP checkpoints), a raw 32-byte public key in base64url/base64, or the JSON text of a public JWK.
 * The forms cannot be confused: a raw key is 43-44 characters, a verifier key at least 55.
 */
export function trustedKeysFromKeyString(s: string): TrustedKeys {
  if (typeof s !== "string") throw new LedgerError("bad_key_string", "key must be a string");
  const text = s.trim();
  if (text.startsWith("{")) {
    let jwk: unknown;
    try {
      jwk = JSON.parse(text);
    } catch {
      throw new LedgerError("bad_jwk", "key looks like JSON but does not parse");
    }
    const raw = ed25519FromJwk(jwk, "key");
    if (!raw) throw new LedgerError("bad_jwk", 'key JWK is not an Ed25519 public key (kty "OKP", crv "Ed25519")');
    return { byKid: new Map(), anyKid: [raw], source: "key" };
  }
  const raw = rawKeyFromString(text);
  if (raw) return { byKid: new Map(), anyKid: [raw], source: "key" };
  try {
    const verifier = parseVerifierKey(text);
    return { byKid: new Map(), anyKid: [verifier.publicKey], noteVerifiers: [verifier], source: "key" };
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new LedgerError("bad_key_string", `key is neither a C2SP verifier key, a 32-byte base64 key nor a JWK (${why})`);
  }
}

/**
 * The keys a bundle carries (§2.11 KeyVersion, §4.6): `public_jwk` is base64url of the JWK's JSON
 * text, and a JWK without a kid takes the entry's `key_id`. Never throws: the bundle is hostile, and
 * an unusable entry is skipped with a warning (the verification then fails for want of a key).
 */
export function trustedKeysFromBundle(bundle: unknown): TrustedKeys {
  const byKid = new Map<string, Uint8Array>();
  const warnings: string[] = [];
  const entries = isRecord(bundle) && Array.isArray(bundle.keys) ? bundle.keys.slice(0, MAX_JWKS_KEYS) : [];
  entries.forEach((entry: unknown, i) => {
    const where = `bundle keys[${i}]`;
    if (!isRecord(entry) || typeof entry.public_jwk !== "string" || entry.public_jwk === "") return;
    try {
      const bytes = decodeBase64Lenient(entry.public_jwk);
      if (!bytes) throw new LedgerError("bad_jwk", `${where}: public_jwk is not base64url`);
      let jwk: unknown;
      try {
        jwk = JSON.parse(new TextDecoder().decode(bytes));
      } catch {
        throw new LedgerError("bad_jwk", `${where}: public_jwk is not JSON`);
      }
      const raw = ed25519FromJwk(jwk, where);
      if (!raw) return;
      const jwkKid = (jwk as Record<string, unknown>).kid;
      const kid = typeof jwkKid === "string" && jwkKid !== "" ? jwkKid : entry.key_id;
      if (typeof kid !== "string" || kid === "") throw new LedgerError("bad_jwk", `${where}: no kid and no key_id`);
      const seen = byKid.get(kid);
      if (seen && !sameBytes(seen, raw)) throw new LedgerError("duplicate_kid", `${where}: a different key for kid ${JSON.stringify(kid)} came first; kept that one`);
      byKid.set(kid, raw);
    } catch (err) {
      warnings.push(err instanceof Error ? err.message : String(err));
    }
  });
  return { byKid, source: "bundle", warnings };
}

/**
 * Offline verification of a WebAuthn assertion (W3C WebAuthn Level 3 §7.2), for auditors holding a
 * proof bundle: the vault checked the assertion when the vote arrived (with @simplewebauthn/server);
 * this checks it again from the recorded bytes alone, with no server, no RP state and no Node API.
 *
 * What it checks: authenticatorData (§6.1) has the RP ID's hash and the UP and UV flags;
 * clientDataJSON (§5.8.1) is of type "webauthn.get" with the expected challenge and an origin on the
 * RP ID; the signature (§6.3.3) over authenticatorData ‖ SHA-256(clientDataJSON) verifies with the
 * COSE public key (RFC 9053: ES256 = ECDSA P-256 with SHA-256, DER signature; EdDSA = Ed25519).
 * Only those two algorithms: the vault enrols no other. Every function returns a problem string
 * for hostile input, never throws.
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { p256 } from "@noble/curves/nist.js";
import { bytesEqual, concatBytes, fromBase64, toBase64Url, utf8 } from "./bytes.js";
import { decodeCborExact } from "./cbor-decode.js";
import { isLedgerError } from "./ledger-error.js";
import { ed25519Verify, sha256 } from "./crypto.js";

export const COSE_ES256 = -7;
export const COSE_EDDSA = -8;

export type CoseKey = { alg: typeof COSE_ES256; x: Uint8Array; y: Uint8Array } | { alg: typeof COSE_EDDSA; x: Uint8Array };

export interface AuthenticatorData {
  rpIdHash: Uint8Array;
  flags: number;
  /** User present (bit 0) and user verified (bit 2), §6.1. */
  up: boolean;
  uv: boolean;
  signCount: number;
}

export interface ClientData {
  type: string;
  challenge: string;
  origin: string;
  crossOrigin: boolean;
}

type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };
const bad = (problem: string): { ok: false; problem: string } => ({ ok: false, problem });

/** Largest inputs worth reading: real ones are a few hundred bytes. */
const MAX_AUTHENTICATOR_DATA = 4096;
const MAX_CLIENT_DATA = 8192;
const MAX_COSE_KEY = 1024;

/** RFC 9052 §7 / RFC 9053 §2.1, §2.2: an EC2 P-256 ES256 key or an OKP Ed25519 EdDSA key. */
export function parseCoseKey(bytes: Uint8Array): Parsed<CoseKey> {
  if (bytes.length > MAX_COSE_KEY) return bad("COSE key is too long");
  let map;
  try {
    map = decodeCborExact(bytes);
  } catch (err) {
    return bad(`COSE key is not CBOR: ${isLedgerError(err, "invalid_cbor") ? err.message : "unreadable"}`);
  }
  if (!(map instanceof Map)) return bad("COSE key is not a CBOR map");
  const [kty, alg, crv, x, y] = [map.get(1), map.get(3), map.get(-1), map.get(-2), map.get(-3)];
  const bytes32 = (v: unknown) => v instanceof Uint8Array && v.length === 32;
  if (alg === COSE_ES256) {
    if (kty !== 2 || crv !== 1) return bad("ES256 key is not an EC2 P-256 key (kty 2, crv 1)");
    if (!bytes32(x) || !bytes32(y)) return bad("ES256 key coordinates are not 32 bytes each");
    if (!onP256(x as Uint8Array, y as Uint8Array)) return bad("ES256 key is not a point on the P-256 curve");
    return { ok: true, value: { alg: COSE_ES256, x: x as Uint8Array, y: y as Uint8Array } };
  }
  if (alg === COSE_EDDSA) {
    if (kty !== 1 || crv !== 6) return bad("EdDSA key is not an OKP Ed25519 key (kty 1, crv 6)");
    if (!bytes32(x)) return bad("Ed25519 key is not 32 bytes");
    const problem = weakEd25519(x as Uint8Array);
    if (problem) return bad(problem);
    return { ok: true, value: { alg: COSE_EDDSA, x: x as Uint8Array } };
  }
  return bad(`COSE algorithm ${typeof alg === "number" ? alg : "(missing)"} is not ES256 (-7) or EdDSA (-8)`);
}

/** The uncompressed point (x, y) satisfies the P-256 equation: an off-curve "key" verifies nothing, and is refused as no key at all. */
function onP256(x: Uint8Array, y: Uint8Array): boolean {
  try {
    p256.Point.fromBytes(concatBytes([new Uint8Array([0x04]), x, y])).assertValidity();
    return true;
  } catch {
    return false;
  }
}

/**
 * Why an Ed25519 public key is unusable, or undefined. A key that is not a canonical point encoding
 * is refused, and so is a point of small order (the neutral point and the seven others of the 8-torsion):
 * with one, a signature (R = the point, S = 0) verifies for EVERY message under OpenSSL (so node:crypto)
 * and under cofactored (ZIP-215) rules, so an assertion "signed" with it proves nothing; anyone can make one.
 */
function weakEd25519(x: Uint8Array): string | undefined {
  let point;
  try {
    point = ed25519.Point.fromBytes(x, false);
  } catch {
    return "Ed25519 key is not a canonical curve point";
  }
  return point.isSmallOrder() ? "Ed25519 key is a point of small order (a weak key: any signature over anything verifies with it)" : undefined;
}

/** §6.1: rpIdHash (32) ‖ flags (1) ‖ signCount (4, big-endian) ‖ optional attested data and extensions. */
export function parseAuthenticatorData(bytes: Uint8Array): Parsed<AuthenticatorData> {
  if (bytes.length < 37) return bad(`authenticatorData is ${bytes.length} bytes, shorter than the 37 it must have`);
  if (bytes.length > MAX_AUTHENTICATOR_DATA) return bad("authenticatorData is too long");
  const flags = bytes[32]!;
  const signCount = ((bytes[33]! << 24) >>> 0) + (bytes[34]! << 16) + (bytes[35]! << 8) + bytes[36]!;
  return { ok: true, value: { rpIdHash: bytes.slice(0, 32), flags, up: (flags & 0x01) !== 0, uv: (flags & 0x04) !== 0, signCount } };
}

/** §5.8.1: the JSON the browser built; only the members a verifier needs, each of the right type. */
export function parseClientData(bytes: Uint8Array): Parsed<ClientData> {
  if (bytes.length > MAX_CLIENT_DATA) return bad("clientDataJSON is too long");
  let data: unknown;
  try {
    data = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return bad("clientDataJSON is not UTF-8 JSON");
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) return bad("clientDataJSON is not a JSON object");
  const d = data as Record<string, unknown>;
  if (typeof d.type !== "string" || typeof d.challenge !== "string" || typeof d.origin !== "string") {
    return bad("clientDataJSON lacks a string type, challenge or origin");
  }
  return { ok: true, value: { type: d.type, challenge: d.challenge, origin: d.origin, crossOrigin: d.crossOrigin === true } };
}

/** §6.3.3 step 11 and 20: the signature over authenticatorData ‖ SHA-256(clientDataJSON). False, never a throw. */
export function verifyAssertionSignature(key: CoseKey, authenticatorData: Uint8Array, clientDataJSON: Uint8Array, signature: Uint8Array): boolean {
  const signed = concatBytes([authenticatorData, sha256(clientDataJSON)]);
  if (key.alg === COSE_EDDSA) return ed25519Verify(key.x, signed, signature);
  if (signature.length > 80) return false;
  try {
    // ES256 signatures are ASN.1 DER (RFC 9053 §2.1 via WebAuthn §6.5.6). Authenticators do not all
    // normalise S, so high-S is accepted, as OpenSSL and browsers accept it.
    const publicKey = concatBytes([new Uint8Array([0x04]), key.x, key.y]);
    return p256.verify(signature, sha256(signed), publicKey, { prehash: false, lowS: false, format: "der" });
  } catch {
    return false;
  }
}

export interface AssertionInput {
  publicKeyCose: Uint8Array;
  authenticatorData: Uint8Array;
  clientDataJSON: Uint8Array;
  signature: Uint8Array;
  /** The challenge the assertion must carry (the recomputed commitment). */
  challenge: Uint8Array;
  /** The RP ID the credential was enrolled for: rpIdHash must be its SHA-256, and the origin must be on it. */
  rpId: string;
}

export interface AssertionResult {
  ok: boolean;
  /** Every check that failed, in order; empty when ok. */
  problems: string[];
  /** The origin the browser reported, when clientDataJSON parsed. */
  origin?: string;
  signCount?: number;
}

/** All checks of one assertion, each reported; ok only when all pass. */
export function checkAssertion(input: AssertionInput): AssertionResult {
  const problems: string[] = [];
  const key = parseCoseKey(input.publicKeyCose);
  const auth = parseAuthenticatorData(input.authenticatorData);
  const client = parseClientData(input.clientDataJSON);
  if (!key.ok) problems.push(key.problem);
  if (!auth.ok) problems.push(auth.problem);
  if (!client.ok) problems.push(client.problem);
  if (auth.ok) {
    if (!bytesEqual(auth.value.rpIdHash, sha256(utf8(input.rpId)))) problems.push(`authenticatorData is not for RP ID ${input.rpId}`);
    if (!auth.value.up) problems.push("the user-present flag (UP) is not set");
    if (!auth.value.uv) problems.push("the user-verified flag (UV) is not set");
  }
  if (client.ok) {
    const c = client.value;
    if (c.type !== "webauthn.get") problems.push(`clientDataJSON type is ${JSON.stringify(c.type).slice(0, 40)}, not "webauthn.get"`);
    const given = fromBase64(c.challenge);
    if (!given || !bytesEqual(given, input.challenge) || toBase64Url(given) !== c.challenge) problems.push("the signed challenge is not the commitment to this approval");
    if (!originOnRpId(c.origin, input.rpId)) problems.push(`origin ${JSON.stringify(c.origin).slice(0, 80)} is not on RP ID ${input.rpId}`);
    // The console refuses to be framed (frame-ancestors 'none'): a signature made inside another site's frame is no console approval.
    if (c.crossOrigin) problems.push("the assertion was made in a cross-origin frame");
  }
  if (key.ok && !verifyAssertionSignature(key.value, input.authenticatorData, input.clientDataJSON, input.signature)) {
    problems.push("the signature does not verify with the enrolled public key");
  }
  const result: AssertionResult = { ok: problems.length === 0, problems };
  if (client.ok) result.origin = client.value.origin;
  if (auth.ok) result.signCount = auth.value.signCount;
  return result;
}

/** An https origin (or http on localhost, which browsers treat as secure) whose host is the RP ID or under it. */
export function originOnRpId(origin: string, rpId: string): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.origin !== origin) return false;
  const host = url.hostname;
  const secure = url.protocol === "https:" || (url.protocol === "http:" && (host === "localhost" || host.endsWith(".localhost")));
  return secure && (host === rpId || host.endsWith(`.${rpId}`));
}

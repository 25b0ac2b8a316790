import { ed25519 } from "@noble/curves/ed25519.js";
import { z } from "zod";
import { ed25519Verify, isSmallOrderKey } from "../ed25519.js";
import { fromBase64Strict, fromBase64UrlStrict, fromUtf8Strict, sha256, toBase64, toBase64Url, toHex, utf8 } from "../encoding.js";

/**
 * The Sigilum agent certificate (reference §4): a self-signed statement binding a namespace to an
 * Ed25519 key. It proves key consistency only; authorisation comes from an approved claim. Beyond
 * Sigilum's own checks (version, proof), Countersign also checks the keyId fingerprint, the did, and a
 * past non-null expiresAt: a signer made by the Sigilum SDK always passes them, and a certificate that
 * fails them says something false about itself.
 */
export interface AgentCertificate {
  version: 1;
  namespace: string;
  did: string;
  keyId: string;
  /** "ed25519:" + standard base64 of the raw 32-byte key. */
  publicKey: string;
  issuedAt: string;
  expiresAt: string | null;
  proof: { alg: string; sig: string };
  /** Extra members (e.g. Sigilum's issuedBy) are kept: the header carries whatever JSON was serialised. */
  [extra: string]: unknown;
}

const AGENT_KEY_PREFIX = "ed25519:";
/** A certificate header beyond this is refused before decoding (the fixture's is under 600 characters). */
export const MAX_CERTIFICATE_HEADER_LENGTH = 8192;

/** "ed25519:" + standard base64 of a raw 32-byte Ed25519 public key (the sigilum-agent-key header). */
export const formatAgentPublicKey = (raw: Uint8Array): string => AGENT_KEY_PREFIX + toBase64(raw);

/** The raw key of a strict "ed25519:<std base64 of 32 bytes>" value, else null (also for a small-order key, which anyone can sign for). */
export function parseAgentPublicKey(value: unknown): Uint8Array | null {
  if (typeof value !== "string" || !value.startsWith(AGENT_KEY_PREFIX)) return null;
  const raw = fromBase64Strict(value.slice(AGENT_KEY_PREFIX.length));
  return raw && raw.length === 32 && !isSmallOrderKey(raw) ? raw : null;
}

/** `did:sigilum:<ns>#ed25519-<hex of the first 8 bytes of SHA-256(raw key)>`. */
export function agentKeyId(namespace: string, rawPub: Uint8Array): string {
  return `did:sigilum:${namespace}#ed25519-${toHex(sha256(rawPub).slice(0, 8))}`;
}

/** The bytes the proof signs: seven lines joined with LF, no trailing LF. */
function certificatePayload(c: Omit<AgentCertificate, "proof" | "version">): Uint8Array {
  return utf8(
    [
      "sigilum-certificate-v1",
      `namespace:${c.namespace}`,
      `did:${c.did}`,
      `key-id:${c.keyId}`,
      `public-key:${c.publicKey}`,
      `issued-at:${c.issuedAt}`,
      `expires-at:${c.expiresAt ?? ""}`,
    ].join("\n"),
  );
}

/** A certificate for the key of `seed32`, self-signed, with Sigilum's member order. Throws on a bad seed (a programming error). */
export function buildAgentCertificate(input: { namespace: string; seed32: Uint8Array; issuedAt: string | Date; expiresAt?: string | Date | null }): AgentCertificate {
  if (!(input.seed32 instanceof Uint8Array) || input.seed32.length !== 32) throw new TypeError("buildAgentCertificate: seed32 must be 32 bytes");
  const raw = ed25519.getPublicKey(input.seed32);
  const iso = (d: string | Date) => (typeof d === "string" ? d : d.toISOString());
  const body = {
    namespace: input.namespace,
    did: `did:sigilum:${input.namespace}`,
    keyId: agentKeyId(input.namespace, raw),
    publicKey: formatAgentPublicKey(raw),
    issuedAt: iso(input.issuedAt),
    expiresAt: input.expiresAt == null ? null : iso(input.expiresAt),
  };
  const sig = toBase64Url(ed25519.sign(certificatePayload(body), input.seed32));
  return { version: 1, ...body, proof: { alg: "ed25519", sig } };
}

/** The sigilum-agent-cert header: base64url without padding of the UTF-8 JSON.stringify(cert). */
export const encodeCertificateHeader = (cert: AgentCertificate): string => toBase64Url(utf8(JSON.stringify(cert)));

/** The parsed JSON of a sigilum-agent-cert header (not yet verified), or null. Never throws. */
export function decodeCertificateHeader(value: unknown): unknown | null {
  if (typeof value !== "string" || value.length > MAX_CERTIFICATE_HEADER_LENGTH) return null;
  const bytes = fromBase64UrlStrict(value);
  const text = bytes && fromUtf8Strict(bytes);
  if (text == null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

// A line break in a member would let one proof cover two different member sets (the payload is lines).
const singleLine = z.string().regex(/^[^\r\n]*$/);
const certificateSchema = z.looseObject({
  version: z.literal(1),
  namespace: singleLine.min(1),
  did: singleLine,
  keyId: singleLine,
  publicKey: singleLine,
  issuedAt: singleLine,
  expiresAt: singleLine.nullable(),
  proof: z.looseObject({ alg: z.string(), sig: z.string() }),
});

/** Proof, did, keyId fingerprint and expiry; one message per cause. Never throws. */
export function verifyAgentCertificate(cert: unknown, nowSeconds: number): { ok: true; cert: AgentCertificate } | { ok: false; message: string } {
  const parsed = certificateSchema.safeParse(cert);
  if (!parsed.success) return { ok: false, message: "certificate is not a version 1 Sigilum certificate" };
  const c = parsed.data as AgentCertificate;
  // Sigilum compares the proof alg case-insensitively; only Ed25519 exists.
  if (c.proof.alg.toLowerCase() !== "ed25519") return { ok: false, message: "certificate proof algorithm is not ed25519" };
  const raw = parseAgentPublicKey(c.publicKey);
  if (!raw) return { ok: false, message: "certificate publicKey is not ed25519:<base64 of 32 bytes>" };
  const sig = fromBase64UrlStrict(c.proof.sig);
  if (!sig || sig.length !== 64 || !safeVerify(sig, certificatePayload(c), raw)) return { ok: false, message: "certificate proof does not verify" };
  if (c.did !== `did:sigilum:${c.namespace}`) return { ok: false, message: "certificate did does not name its namespace" };
  if (c.keyId !== agentKeyId(c.namespace, raw)) return { ok: false, message: "certificate keyId does not match its key's fingerprint" };
  if (c.expiresAt !== null) {
    const expires = Date.parse(c.expiresAt);
    if (!Number.isFinite(expires)) return { ok: false, message: "certificate expiresAt is not a date" };
    if (expires / 1000 <= nowSeconds) return { ok: false, message: "certificate has expired" };
  }
  return { ok: true, cert: c };
}

/** Ed25519 verify that answers false instead of throwing (src/protocols/ed25519.ts: strict RFC 8032, native when the runtime has it). */
export function safeVerify(sig: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  return ed25519Verify(sig, message, publicKey);
}

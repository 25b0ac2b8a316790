import { fromBase64Strict, utf8 } from "../encoding.js";
import { decodeCertificateHeader, parseAgentPublicKey, safeVerify, verifyAgentCertificate } from "./agent-certificate.js";
import { contentDigestMatches } from "./content-digest.js";
import { sigilumSignatureBase } from "./signature-base.js";
import { parseSigilumSignatureInput, SIGILUM_COMPONENTS_NO_BODY, SIGILUM_COMPONENTS_WITH_BODY } from "./signature-input.js";

/**
 * Verification of a Sigilum-signed request: steps 1–8 of reference §5, in that order and with the
 * Sigilum API's codes, so a Sigilum agent sees the same answer from Countersign. Step 9 (nonce replay)
 * is the caller's: it needs a store, and runs after this succeeded so unsigned junk cannot fill it.
 */
export type SigilumErrorCode =
  | "SIGNATURE_MISSING"
  | "SIGNATURE_INVALID"
  | "SIGNATURE_EXPIRED"
  | "SIGNATURE_COMPONENTS_INVALID"
  | "SIGNATURE_DIGEST_MISMATCH"
  | "SIGNATURE_NAMESPACE_MISMATCH"
  | "SIGNATURE_KEY_MISMATCH";

/** The six headers every signed request carries (content-digest only comes with a body). */
export const SIGILUM_HEADERS: readonly string[] = Object.freeze([
  "signature-input",
  "signature",
  "sigilum-agent-cert",
  "sigilum-agent-key",
  "sigilum-namespace",
  "sigilum-subject",
]);

/** True when the request tries to be signed (any of the six present): then it must verify, never fall back to unsigned. */
export function hasSigilumHeaders(header: (name: string) => string | undefined): boolean {
  return SIGILUM_HEADERS.some((name) => header(name) !== undefined);
}

export interface SignedRequest {
  method: string;
  /** The absolute URL the signer addressed (behind a proxy: the public origin + raw path and query). */
  targetUri: string;
  /** Combined header value, fetch semantics (see headerReader). */
  header(name: string): string | undefined;
  /** The raw body bytes; null or empty both mean "no body". */
  body: Uint8Array | null;
  nowSeconds: number;
  maxAgeSeconds?: number;
  maxFutureSeconds?: number;
  /** Route binding (step 5): a mismatch is 403, not 401, as in Sigilum. */
  expect?: { namespace?: string; publicKey?: string };
}

export type SigilumVerification =
  | { ok: true; namespace: string; subject: string; publicKey: string; keyId: string; nonce: string; created: number }
  | { ok: false; status: 401 | 403; code: SigilumErrorCode; message: string };

const SIGNATURE_HEADER = /^sig1=:([^:]+):$/;
const fail = (code: SigilumErrorCode, message: string, status: 401 | 403 = 401): SigilumVerification => ({ ok: false, status, code, message });

/** Never throws: every malformed header, certificate or body ends in one of the codes. */
export function verifySigilumRequest(req: SignedRequest): SigilumVerification {
  try {
    return verifyInOrder(req);
  } catch {
    // Only a hostile `header` callback or request object can get here; fail closed with the generic code.
    return fail("SIGNATURE_INVALID", "signed request could not be read");
  }
}

function verifyInOrder(req: SignedRequest): SigilumVerification {
  // 1. All six headers, non-empty after trimming (Sigilum treats an empty header as absent).
  const h: Record<string, string> = {};
  for (const name of SIGILUM_HEADERS) {
    const value = req.header(name);
    if (typeof value !== "string" || value.trim() === "") return fail("SIGNATURE_MISSING", `missing signed-request header ${name}`);
    h[name] = value.trim();
  }

  // 2. Signature-Input grammar, alg, Signature format (64-byte Ed25519 signature, strict base64).
  const input = parseSigilumSignatureInput(h["signature-input"]);
  if (!input) return fail("SIGNATURE_INVALID", "signature-input does not match the Sigilum grammar");
  if (input.alg.toLowerCase() !== "ed25519") return fail("SIGNATURE_INVALID", "unsupported signature algorithm");
  const sigText = SIGNATURE_HEADER.exec(h["signature"]!)?.[1];
  const signature = sigText === undefined ? null : fromBase64Strict(sigText);
  if (!signature || signature.length !== 64) return fail("SIGNATURE_INVALID", "signature header is not sig1=:<base64 of 64 bytes>:");

  // 3. Freshness: up to maxFutureSeconds ahead (clock skew, Countersign's choice), maxAgeSeconds behind.
  const age = req.nowSeconds - input.created;
  if (!(age >= -(req.maxFutureSeconds ?? 5) && age <= (req.maxAgeSeconds ?? 300))) return fail("SIGNATURE_EXPIRED", "signature expired or not yet valid");

  // 4. The certificate, then its binding to the key and namespace headers.
  const decoded = decodeCertificateHeader(h["sigilum-agent-cert"]);
  if (decoded === null) return fail("SIGNATURE_INVALID", "sigilum-agent-cert is not base64url JSON");
  const certificate = verifyAgentCertificate(decoded, req.nowSeconds);
  if (!certificate.ok) return fail("SIGNATURE_INVALID", `invalid agent certificate: ${certificate.message}`);
  const cert = certificate.cert;
  if (cert.publicKey !== h["sigilum-agent-key"]) return fail("SIGNATURE_INVALID", "certificate public key does not match sigilum-agent-key");
  if (cert.namespace !== h["sigilum-namespace"]) return fail("SIGNATURE_INVALID", "certificate namespace does not match sigilum-namespace");

  // 5. Route binding.
  if (req.expect?.namespace !== undefined && cert.namespace !== req.expect.namespace) return fail("SIGNATURE_NAMESPACE_MISMATCH", "namespace does not match the request", 403);
  if (req.expect?.publicKey !== undefined && cert.publicKey !== req.expect.publicKey) return fail("SIGNATURE_KEY_MISMATCH", "public key does not match the request", 403);

  // 6. keyid, then the component set for this body.
  if (input.keyid !== cert.keyId) return fail("SIGNATURE_INVALID", "signature keyid does not match the certificate");
  const hasBody = req.body !== null && req.body.length > 0;
  const expected = hasBody ? SIGILUM_COMPONENTS_WITH_BODY : SIGILUM_COMPONENTS_NO_BODY;
  if (input.components.length !== expected.length || input.components.some((c, i) => c !== expected[i])) {
    return fail("SIGNATURE_COMPONENTS_INVALID", "signed components are not the Sigilum set for this request");
  }
  // Countersign's choice (Sigilum ignores it): a content-digest with no body is a claim about bytes that
  // are not there and that no signature covers; refuse it instead of letting a later reader trust it.
  if (!hasBody && req.header("content-digest") !== undefined) return fail("SIGNATURE_COMPONENTS_INVALID", "content-digest sent without a body");

  // 7. The body's digest (a missing header is a mismatch, as in Sigilum).
  if (hasBody && !contentDigestMatches(req.header("content-digest"), req.body!)) return fail("SIGNATURE_DIGEST_MISMATCH", "content-digest does not match the body");

  // 8. The base and the Ed25519 signature by the certified key.
  const base = sigilumSignatureBase(req, input.components, input.params);
  const key = parseAgentPublicKey(cert.publicKey);
  if (base === null || !key || !safeVerify(signature, utf8(base), key)) return fail("SIGNATURE_INVALID", "signature verification failed");

  return { ok: true, namespace: cert.namespace, subject: h["sigilum-subject"]!, publicKey: cert.publicKey, keyId: cert.keyId, nonce: input.nonce, created: input.created };
}

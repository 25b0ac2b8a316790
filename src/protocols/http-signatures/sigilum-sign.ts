import { ed25519 } from "@noble/curves/ed25519.js";
import { toBase64, utf8 } from "../encoding.js";
import { encodeCertificateHeader, formatAgentPublicKey, type AgentCertificate } from "./agent-certificate.js";
import { contentDigest } from "./content-digest.js";
import { sigilumSignatureBase, sigilumTargetUri } from "./signature-base.js";
import { SIGILUM_COMPONENTS_NO_BODY, SIGILUM_COMPONENTS_WITH_BODY, sigilumSignatureParams } from "./signature-input.js";

export interface SigilumSignInput {
  method: string;
  /** The absolute URL the request goes to (a fragment is not signed). */
  url: string;
  /** The exact bytes sent (a string is sent and signed as UTF-8). */
  body?: Uint8Array | string | null;
  namespace: string;
  /** Stable principal id; defaults to the namespace, as in the Sigilum SDK. */
  subject?: string;
  /** The agent's 32-byte Ed25519 seed (its private key). */
  seed: Uint8Array;
  certificate: AgentCertificate;
  /** Unix seconds; defaults to now. */
  created?: number;
  /** Defaults to a random UUID; the verifier refuses a nonce it has seen within its TTL. */
  nonce?: string;
}

/**
 * The headers a Sigilum agent adds to a request (reference §1–§3), names lowercase. Throws TypeError on
 * inputs no verifier could accept (a key that is not the certificate's, another namespace, a relative
 * URL, a value with a line break): those are the caller's bugs, better found here than as a 401.
 */
export function signSigilumRequest(input: SigilumSignInput): Record<string, string> {
  if (!(input.seed instanceof Uint8Array) || input.seed.length !== 32) throw new TypeError("signSigilumRequest: seed must be 32 bytes");
  const publicKey = formatAgentPublicKey(ed25519.getPublicKey(input.seed));
  if (publicKey !== input.certificate.publicKey) throw new TypeError("signSigilumRequest: the seed is not the certificate's key");
  if (input.namespace !== input.certificate.namespace) throw new TypeError("signSigilumRequest: namespace differs from the certificate's");
  const targetUri = sigilumTargetUri(input.url);
  if (targetUri === null) throw new TypeError("signSigilumRequest: url must be an absolute URL");

  const body = typeof input.body === "string" ? utf8(input.body) : (input.body ?? new Uint8Array(0));
  const headers: Record<string, string> = {};
  if (body.length > 0) headers["content-digest"] = contentDigest(body);
  headers["sigilum-namespace"] = input.namespace;
  headers["sigilum-subject"] = input.subject ?? input.namespace;
  headers["sigilum-agent-key"] = publicKey;
  headers["sigilum-agent-cert"] = encodeCertificateHeader(input.certificate);

  const created = input.created ?? Math.floor(Date.now() / 1000);
  const nonce = input.nonce ?? crypto.randomUUID();
  // The verifier's grammar: created = digits (> 0), nonce = one or more characters other than `"`.
  if (!Number.isSafeInteger(created) || created <= 0) throw new TypeError("signSigilumRequest: created must be a positive integer (Unix seconds)");
  if (!/^[^"\r\n]+$/.test(nonce)) throw new TypeError("signSigilumRequest: nonce must be non-empty, without quotes or line breaks");
  const components = body.length > 0 ? SIGILUM_COMPONENTS_WITH_BODY : SIGILUM_COMPONENTS_NO_BODY;
  const params = sigilumSignatureParams({ components, created, keyid: input.certificate.keyId, nonce });
  const base = sigilumSignatureBase({ method: input.method, targetUri, header: (name) => headers[name] }, components, params);
  if (base === null) throw new TypeError("signSigilumRequest: a signed value is empty or contains a line break");
  headers["signature-input"] = `sig1=${params}`;
  headers["signature"] = `sig1=:${toBase64(ed25519.sign(utf8(base), input.seed))}:`;
  return headers;
}

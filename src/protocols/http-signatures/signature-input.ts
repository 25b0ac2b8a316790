/**
 * The Sigilum Signature-Input header (reference §2): label `sig1` only, parameters in exactly the order
 * created, keyid, alg, nonce. The regex is the one the Sigilum SDK and API use, anchored at both ends;
 * the docs' `created;nonce;alg;keyid` order fails it there too, so it fails here.
 */

/** The covered components of a request without a body, in the only order accepted. */
export const SIGILUM_COMPONENTS_NO_BODY: readonly string[] = Object.freeze([
  "@method",
  "@target-uri",
  "sigilum-namespace",
  "sigilum-subject",
  "sigilum-agent-key",
  "sigilum-agent-cert",
]);

/** With a non-empty body: the same list with content-digest third, after @target-uri. */
export const SIGILUM_COMPONENTS_WITH_BODY: readonly string[] = Object.freeze([
  "@method",
  "@target-uri",
  "content-digest",
  "sigilum-namespace",
  "sigilum-subject",
  "sigilum-agent-key",
  "sigilum-agent-cert",
]);

const SIGNATURE_INPUT = /^sig1=\(([^)]*)\);created=(\d+);keyid="([^"]+)";alg="([^"]+)";nonce="([^"]+)"$/;
const QUOTED_COMPONENT = /^"([^"]+)"$/;

export interface SigilumSignatureInput {
  /** The component names, unquoted, in the header's order (checked against the two lists by the verifier). */
  components: string[];
  created: number;
  keyid: string;
  /** As sent; the verifier compares it case-insensitively with "ed25519". */
  alg: string;
  nonce: string;
  /** The `@signature-params` value the base is built with (see sigilumSignatureParams). */
  params: string;
}

/**
 * The `@signature-params` line value. It is rebuilt from the parsed parts with the literal
 * `alg="ed25519"`, as the Sigilum API does (reference §2), not copied from the header: so an `ED25519`
 * header passes the alg check but its signature (over its own spelling) fails, exactly as in Sigilum,
 * and spacing variants in the component list or a zero-padded `created` cannot verify either.
 */
export function sigilumSignatureParams(parts: { components: readonly string[]; created: number; keyid: string; nonce: string }): string {
  const list = parts.components.map((c) => `"${c}"`).join(" ");
  return `(${list});created=${parts.created};keyid="${parts.keyid}";alg="ed25519";nonce="${parts.nonce}"`;
}

/** The Signature-Input header value a Sigilum signer sends. */
export function formatSigilumSignatureInput(parts: { components: readonly string[]; created: number; keyid: string; nonce: string }): string {
  return `sig1=${sigilumSignatureParams(parts)}`;
}

/**
 * Parse without judging the component set (a wrong set is SIGNATURE_COMPONENTS_INVALID at step 6 of
 * the verification order, not a parse failure). Null on a regex miss, an unquoted component token, or a
 * `created` that is zero or not a safe integer. Never throws.
 */
export function parseSigilumSignatureInput(value: unknown): SigilumSignatureInput | null {
  if (typeof value !== "string") return null;
  const match = SIGNATURE_INPUT.exec(value);
  if (!match) return null;
  const [, rawComponents = "", createdRaw = "", keyid = "", alg = "", nonce = ""] = match;
  const components: string[] = [];
  for (const token of rawComponents.trim().split(/\s+/).filter(Boolean)) {
    const quoted = QUOTED_COMPONENT.exec(token);
    if (!quoted) return null;
    components.push(quoted[1]!);
  }
  const created = Number(createdRaw);
  if (!Number.isSafeInteger(created) || created <= 0) return null;
  return { components, created, keyid, alg, nonce, params: sigilumSignatureParams({ components, created, keyid, nonce }) };
}

import { sha256, toBase64 } from "../encoding.js";

/**
 * RFC 9530 Content-Digest as the Sigilum profile sends it: `sha-256=:<std base64 of SHA-256(body)>:`,
 * one algorithm, nothing else in the field (reference §1). Only sent for a non-empty body.
 */
export function contentDigest(body: Uint8Array): string {
  return `sha-256=:${toBase64(sha256(body))}:`;
}

/**
 * True when `header` (trimmed) is exactly the digest of `body`. An exact comparison, like Sigilum's:
 * the header is a signed component, so accepting a second spelling would only let the signer and the
 * verifier disagree. The digest is public, so no constant-time compare is needed.
 */
export function contentDigestMatches(header: string | undefined, body: Uint8Array): boolean {
  if (typeof header !== "string") return false;
  return header.trim() === contentDigest(body);
}

import { ed25519 } from "@noble/curves/ed25519.js";
import { describe, expect, it } from "vitest";
import { fromBase64Strict, toBase64, utf8 } from "../../src/protocols/encoding.js";
import { buildAgentCertificate, encodeCertificateHeader } from "../../src/protocols/http-signatures/agent-certificate.js";
import { contentDigest } from "../../src/protocols/http-signatures/content-digest.js";
import { sigilumSignatureBase } from "../../src/protocols/http-signatures/signature-base.js";
import { SIGILUM_COMPONENTS_NO_BODY, SIGILUM_COMPONENTS_WITH_BODY } from "../../src/protocols/http-signatures/signature-input.js";
import { signSigilumRequest } from "../../src/protocols/http-signatures/sigilum-sign.js";
import { hasSigilumHeaders, SIGILUM_HEADERS, verifySigilumRequest, type SignedRequest } from "../../src/protocols/http-signatures/sigilum-verify.js";

/** verifySigilumRequest: the success path and every failure code of reference §5, in its order. */
const SEED = fromBase64Strict("ZMLKzZSCxP8QXOO1vlmejAvdFaesd3QC6JC9iCt8FfA=")!;
const OTHER_SEED = new Uint8Array(32).fill(7);
const CREATED = 1700000000;
const NOW = 1700000010;
const URL = "https://api.sigilum.local/v1/namespaces/alice/claims";
const BODY = '{"action":"approve"}';
const cert = buildAgentCertificate({ namespace: "fixture-alice", seed32: SEED, issuedAt: "2026-02-20T18:04:26Z" });
const signed = (body: string | null = BODY, seed = SEED, certificate = cert) =>
  signSigilumRequest({ method: "POST", url: URL, body, namespace: certificate.namespace, seed, certificate, created: CREATED, nonce: "nonce-1" });

function request(headers: Record<string, string | undefined>, over: Partial<SignedRequest> = {}): SignedRequest {
  return { method: "POST", targetUri: URL, header: (n) => headers[n], body: utf8(BODY), nowSeconds: NOW, ...over };
}
const verify = (headers: Record<string, string | undefined>, over: Partial<SignedRequest> = {}) => verifySigilumRequest(request(headers, over));
const codeOf = (headers: Record<string, string | undefined>, over: Partial<SignedRequest> = {}) => {
  const result = verify(headers, over);
  return result.ok ? "ok" : `${result.status} ${result.code}`;
};

/** Re-sign `headers` with a hand-made Signature-Input, as a non-conforming signer would. */
function resign(headers: Record<string, string>, components: readonly string[], params: Partial<{ created: number; keyid: string; alg: string; nonce: string }> = {}, signedAlg?: string) {
  const p = { created: CREATED, keyid: cert.keyId, alg: "ed25519", nonce: "nonce-1", ...params };
  const paramsFor = (alg: string) => `(${components.map((c) => `"${c}"`).join(" ")});created=${p.created};keyid="${p.keyid}";alg="${alg}";nonce="${p.nonce}"`;
  const base = sigilumSignatureBase({ method: "POST", targetUri: URL, header: (n) => headers[n] }, components, paramsFor(signedAlg ?? p.alg))!;
  return { ...headers, "signature-input": `sig1=${paramsFor(p.alg)}`, signature: `sig1=:${toBase64(ed25519.sign(utf8(base), SEED))}:` };
}

describe("verifySigilumRequest", () => {
  const good = signed();

  it("accepts the signed request with and without a body, from the oldest to the most future second allowed", () => {
    expect(verify(good)).toMatchObject({ ok: true, namespace: "fixture-alice", subject: "fixture-alice", nonce: "nonce-1", created: CREATED });
    expect(codeOf(signed(null), { body: null })).toBe("ok");
    expect(codeOf(signed(""), { body: new Uint8Array(0) })).toBe("ok");
    expect(codeOf(good, { nowSeconds: CREATED + 300 })).toBe("ok");
    expect(codeOf(good, { nowSeconds: CREATED - 5 })).toBe("ok");
    expect(codeOf(good, { expect: { namespace: "fixture-alice", publicKey: cert.publicKey } })).toBe("ok");
    expect(hasSigilumHeaders((n) => good[n])).toBe(true);
    expect(hasSigilumHeaders(() => undefined)).toBe(false);
  });

  it.each(SIGILUM_HEADERS)("step 1: missing %s → 401 SIGNATURE_MISSING", (name) => {
    expect(codeOf({ ...good, [name]: undefined })).toBe("401 SIGNATURE_MISSING");
    expect(codeOf({ ...good, [name]: "  " })).toBe("401 SIGNATURE_MISSING");
    expect(hasSigilumHeaders((n) => (n === name ? "x" : undefined))).toBe(true);
  });

  it.each([
    ["another label", good["signature-input"]!.replace("sig1=", "sig2=")],
    ["the docs' parameter order", good["signature-input"]!.replace(/;created=.*$/, `;created=${CREATED};nonce="nonce-1";alg="ed25519";keyid="${cert.keyId}"`)],
    ["an unquoted component", good["signature-input"]!.replace('"@method"', "@method")],
    ["another algorithm", good["signature-input"]!.replace('alg="ed25519"', 'alg="rsa-pss-sha512"')],
  ])("step 2: signature-input with %s → 401 SIGNATURE_INVALID", (_what, value) => {
    expect(codeOf({ ...good, "signature-input": value })).toBe("401 SIGNATURE_INVALID");
  });

  it.each([
    ["another label", good.signature!.replace("sig1=", "sig2=")],
    ["unpadded base64", good.signature!.replace("==:", ":")],
    ["63 bytes", `sig1=:${toBase64(new Uint8Array(63))}:`],
    ["65 bytes", `sig1=:${toBase64(new Uint8Array(65))}:`],
    ["base64url", good.signature!.replace(/\+/g, "-").replace(/\//g, "_")],
  ])("step 2: signature with %s → 401 SIGNATURE_INVALID", (_what, value) => {
    expect(codeOf({ ...good, signature: value })).toBe("401 SIGNATURE_INVALID");
  });

  it("step 3: older than 300 s or more than 5 s ahead → 401 SIGNATURE_EXPIRED (before the certificate is looked at)", () => {
    expect(codeOf(good, { nowSeconds: CREATED + 301 })).toBe("401 SIGNATURE_EXPIRED");
    expect(codeOf(good, { nowSeconds: CREATED - 6 })).toBe("401 SIGNATURE_EXPIRED");
    expect(codeOf(good, { nowSeconds: CREATED + 31, maxAgeSeconds: 30 })).toBe("401 SIGNATURE_EXPIRED");
    expect(codeOf({ ...good, "sigilum-agent-cert": "junk" }, { nowSeconds: CREATED + 301 })).toBe("401 SIGNATURE_EXPIRED");
  });

  it("step 4: a bad certificate or one that does not match the key and namespace headers → 401 SIGNATURE_INVALID", () => {
    const tamperedProof = { ...cert, proof: { alg: "ed25519", sig: cert.proof.sig.replace(/^./, (c) => (c === "A" ? "B" : "A")) } };
    expect(codeOf({ ...good, "sigilum-agent-cert": encodeCertificateHeader(tamperedProof) })).toBe("401 SIGNATURE_INVALID");
    expect(codeOf({ ...good, "sigilum-agent-cert": "not base64url!" })).toBe("401 SIGNATURE_INVALID");
    const expired = buildAgentCertificate({ namespace: "fixture-alice", seed32: SEED, issuedAt: "2023-01-01T00:00:00Z", expiresAt: "2023-11-14T22:13:29Z" });
    expect(codeOf(signed(BODY, SEED, expired))).toBe("401 SIGNATURE_INVALID");
    expect(verify(signed(BODY, SEED, expired))).toMatchObject({ message: "invalid agent certificate: certificate has expired" });
    // Another agent's valid certificate, with this agent's key header: the key binding fails.
    const otherCert = buildAgentCertificate({ namespace: "fixture-alice", seed32: OTHER_SEED, issuedAt: "2026-02-20T18:04:26Z" });
    expect(verify({ ...good, "sigilum-agent-cert": encodeCertificateHeader(otherCert) })).toMatchObject({ code: "SIGNATURE_INVALID", message: "certificate public key does not match sigilum-agent-key" });
    expect(verify({ ...good, "sigilum-agent-key": otherCert.publicKey })).toMatchObject({ code: "SIGNATURE_INVALID", message: "certificate public key does not match sigilum-agent-key" });
    expect(verify({ ...good, "sigilum-namespace": "fixture-bob" })).toMatchObject({ code: "SIGNATURE_INVALID", message: "certificate namespace does not match sigilum-namespace" });
  });

  it("step 5: the route's expected namespace or key → 403", () => {
    expect(codeOf(good, { expect: { namespace: "fixture-bob" } })).toBe("403 SIGNATURE_NAMESPACE_MISMATCH");
    expect(codeOf(good, { expect: { publicKey: `ed25519:${toBase64(ed25519.getPublicKey(OTHER_SEED))}` } })).toBe("403 SIGNATURE_KEY_MISMATCH");
  });

  it("step 6: a keyid that is not the certificate's → 401 SIGNATURE_INVALID (checked before the components)", () => {
    expect(codeOf(resign(good, SIGILUM_COMPONENTS_WITH_BODY, { keyid: "did:sigilum:fixture-alice#ed25519-0000000000000000" }))).toBe("401 SIGNATURE_INVALID");
    expect(codeOf(resign(good, ["@method"], { keyid: "other" }))).toBe("401 SIGNATURE_INVALID");
  });

  it("step 6: any component set but the one for this body → 401 SIGNATURE_COMPONENTS_INVALID", () => {
    const extra = { ...good, "x-extra": "1" };
    expect(codeOf(resign(extra, [...SIGILUM_COMPONENTS_WITH_BODY, "x-extra"]))).toBe("401 SIGNATURE_COMPONENTS_INVALID");
    expect(codeOf(resign(good, SIGILUM_COMPONENTS_WITH_BODY.filter((c) => c !== "sigilum-subject")))).toBe("401 SIGNATURE_COMPONENTS_INVALID");
    expect(codeOf(resign(good, [...SIGILUM_COMPONENTS_WITH_BODY].reverse()))).toBe("401 SIGNATURE_COMPONENTS_INVALID");
    // A body, signed as if there were none; no body, signed as if there were one.
    expect(codeOf(signed(null))).toBe("401 SIGNATURE_COMPONENTS_INVALID");
    expect(codeOf(good, { body: null })).toBe("401 SIGNATURE_COMPONENTS_INVALID");
    // Countersign's choice: an unsigned content-digest next to an empty body is refused too.
    const noBody = signed(null);
    expect(codeOf({ ...noBody, "content-digest": contentDigest(new Uint8Array(0)) }, { body: new Uint8Array(0) })).toBe("401 SIGNATURE_COMPONENTS_INVALID");
    expect(SIGILUM_COMPONENTS_NO_BODY).not.toContain("content-digest");
  });

  it("step 7: a body without its digest → 401 SIGNATURE_DIGEST_MISMATCH", () => {
    expect(codeOf({ ...good, "content-digest": undefined })).toBe("401 SIGNATURE_DIGEST_MISMATCH");
    expect(codeOf(good, { body: utf8('{"action":"reject"}') })).toBe("401 SIGNATURE_DIGEST_MISMATCH");
    expect(codeOf({ ...good, "content-digest": good["content-digest"]!.replace("sha-256", "sha-512") })).toBe("401 SIGNATURE_DIGEST_MISMATCH");
  });

  it("step 8: anything signed that changed → 401 SIGNATURE_INVALID", () => {
    const tamperedBody = utf8('{"action":"reject"}');
    expect(codeOf({ ...good, "content-digest": contentDigest(tamperedBody) }, { body: tamperedBody })).toBe("401 SIGNATURE_INVALID");
    expect(codeOf(good, { targetUri: URL.replace("claims", "claims2") })).toBe("401 SIGNATURE_INVALID");
    expect(codeOf(good, { targetUri: `${URL}?x=1` })).toBe("401 SIGNATURE_INVALID");
    expect(codeOf(good, { method: "PUT" })).toBe("401 SIGNATURE_INVALID");
    expect(codeOf({ ...good, "sigilum-subject": "mallory" })).toBe("401 SIGNATURE_INVALID");
    expect(codeOf({ ...good, "signature-input": good["signature-input"]!.replace("nonce-1", "nonce-2") })).toBe("401 SIGNATURE_INVALID");
    expect(codeOf({ ...good, signature: `sig1=:${toBase64(new Uint8Array(64))}:` })).toBe("401 SIGNATURE_INVALID");
    // What is not signed may differ: the case of the method, a fragment, the default port.
    expect(codeOf(good, { method: "post", targetUri: `https://api.sigilum.local:443/v1/namespaces/alice/claims#x` })).toBe("ok");
  });

  it("alg: compared case-insensitively, but the base is rebuilt with literal alg=\"ed25519\" (reference §2)", () => {
    // A signer that signs its own uppercase spelling fails at step 8, as with Sigilum's API...
    expect(verify(resign(good, SIGILUM_COMPONENTS_WITH_BODY, { alg: "ED25519" }))).toMatchObject({ code: "SIGNATURE_INVALID", message: "signature verification failed" });
    // ...and one that signed the lowercase form but sent it uppercase passes.
    expect(codeOf(resign(good, SIGILUM_COMPONENTS_WITH_BODY, { alg: "ED25519" }, "ed25519"))).toBe("ok");
  });

  it("keeps the reference's order: missing beats malformed, malformed beats expired, expired beats the certificate", () => {
    expect(codeOf({ ...good, "sigilum-subject": undefined, "signature-input": "junk" })).toBe("401 SIGNATURE_MISSING");
    expect(verify({ ...good, "signature-input": "junk" }, { nowSeconds: 0 })).toMatchObject({ code: "SIGNATURE_INVALID" });
    expect(codeOf({ ...good, "sigilum-agent-key": "junk" }, { nowSeconds: CREATED + 301, expect: { namespace: "x" } })).toBe("401 SIGNATURE_EXPIRED");
  });
});

import { ed25519 } from "@noble/curves/ed25519.js";
import { describe, expect, it } from "vitest";
import { fromBase64Strict, fromBase64UrlStrict, sha256, toBase64Url, toHex, utf8 } from "../../src/protocols/encoding.js";
import {
  agentKeyId,
  buildAgentCertificate,
  decodeCertificateHeader,
  encodeCertificateHeader,
  verifyAgentCertificate,
} from "../../src/protocols/http-signatures/agent-certificate.js";
import { sigilumSignatureBase } from "../../src/protocols/http-signatures/signature-base.js";
import { parseSigilumSignatureInput } from "../../src/protocols/http-signatures/signature-input.js";
import { signSigilumRequest } from "../../src/protocols/http-signatures/sigilum-sign.js";
import { verifySigilumRequest } from "../../src/protocols/http-signatures/sigilum-verify.js";

/**
 * The worked example of the Sigilum reference (§6), byte for byte: the repo fixture identity
 * (sdks/test-vectors/identity-record-v1.json) and the `post-with-body` vector.
 */
const SEED = fromBase64Strict("ZMLKzZSCxP8QXOO1vlmejAvdFaesd3QC6JC9iCt8FfA=")!;
const PUBLIC_KEY = "ed25519:J07dj/co4diCmQYTTQGq4adhnMKYejHazCYUQ7eBh0k=";
const CERT_JSON =
  '{"version":1,"namespace":"fixture-alice","did":"did:sigilum:fixture-alice","keyId":"did:sigilum:fixture-alice#ed25519-99fb00dc16ee555a","publicKey":"ed25519:J07dj/co4diCmQYTTQGq4adhnMKYejHazCYUQ7eBh0k=","issuedAt":"2026-02-20T18:04:26Z","expiresAt":null,"proof":{"alg":"ed25519","sig":"vGp-WLmSr0BWNci2lBhcJORg39ot-3Uu1aaVG2wGEKLItK_964hFaRrVd7DHf_2e3ykGpIacoM9Q5gs_tPy6Dw"},"issuedBy":"sigilum.local-fixture"}';
const URL = "https://api.sigilum.local/v1/namespaces/alice/claims";
const BODY = '{"action":"approve"}';
const NONCE = "123e4567-e89b-12d3-a456-426614174000";
const SIGNATURE_INPUT =
  'sig1=("@method" "@target-uri" "content-digest" "sigilum-namespace" "sigilum-subject" "sigilum-agent-key" "sigilum-agent-cert");created=1700000000;keyid="did:sigilum:fixture-alice#ed25519-99fb00dc16ee555a";alg="ed25519";nonce="123e4567-e89b-12d3-a456-426614174000"';
const SIGNATURE = "sig1=:xiJhSFg0wSFo1R3LyTgE0//ale3uwePxfkjSdd+/ceDKFZA6ngEJI44eVaVq2v52Q/Jk6zTqNGBjz4KVL6vMCw==:";

const certificate = { ...buildAgentCertificate({ namespace: "fixture-alice", seed32: SEED, issuedAt: "2026-02-20T18:04:26Z" }), issuedBy: "sigilum.local-fixture" };
const headers = signSigilumRequest({ method: "POST", url: URL, body: BODY, namespace: "fixture-alice", seed: SEED, certificate, created: 1700000000, nonce: NONCE });

describe("the Sigilum worked example (reference §6)", () => {
  it("derives the fixture key, its fingerprint and the certificate JSON exactly", () => {
    expect(certificate.publicKey).toBe(PUBLIC_KEY);
    expect(agentKeyId("fixture-alice", fromBase64Strict(PUBLIC_KEY.slice(8))!)).toBe("did:sigilum:fixture-alice#ed25519-99fb00dc16ee555a");
    expect(JSON.stringify(certificate)).toBe(CERT_JSON);
  });

  it("re-verifies the fixture certificate from its header, extra members kept", () => {
    const header = encodeCertificateHeader(certificate);
    expect(new TextDecoder().decode(fromBase64UrlStrict(header)!)).toBe(CERT_JSON);
    const checked = verifyAgentCertificate(decodeCertificateHeader(header), 1700000010);
    expect(checked).toEqual({ ok: true, cert: JSON.parse(CERT_JSON) });
  });

  it("sends the vector's content digest, signature-input and signature", () => {
    expect(headers["content-digest"]).toBe("sha-256=:5toCTO6LRikiTvJ0Ha+F6ucUxaTs3wMsnaImDBR0NZg=:");
    expect(headers["signature-input"]).toBe(SIGNATURE_INPUT);
    expect(headers["signature"]).toBe(SIGNATURE);
    expect(headers["sigilum-subject"]).toBe("fixture-alice");
    expect(headers["sigilum-agent-key"]).toBe(PUBLIC_KEY);
    expect(Object.keys(headers).sort()).toEqual(
      ["content-digest", "sigilum-agent-cert", "sigilum-agent-key", "sigilum-namespace", "sigilum-subject", "signature", "signature-input"].sort(),
    );
  });

  it("builds the 1148-byte base with SHA-256 5d67d9c2…1b70", () => {
    const input = parseSigilumSignatureInput(SIGNATURE_INPUT)!;
    const base = sigilumSignatureBase({ method: "POST", targetUri: URL, header: (n) => headers[n] }, input.components, input.params)!;
    const bytes = utf8(base);
    expect(bytes.length).toBe(1148);
    expect(toHex(sha256(bytes))).toBe("5d67d9c2e173fb77e8f623d7f6130f34e865edea942c91e6fe8dcb941db11b70");
    expect(base.split("\n")[0]).toBe('"@method": post');
    expect(base.split("\n")[1]).toBe(`"@target-uri": ${URL}`);
  });

  it("verifies ten seconds later", () => {
    expect(verifySigilumRequest({ method: "POST", targetUri: URL, header: (n) => headers[n], body: utf8(BODY), nowSeconds: 1700000010 })).toEqual({
      ok: true,
      namespace: "fixture-alice",
      subject: "fixture-alice",
      publicKey: PUBLIC_KEY,
      keyId: "did:sigilum:fixture-alice#ed25519-99fb00dc16ee555a",
      nonce: NONCE,
      created: 1700000000,
    });
  });
});

describe("agent certificate checks (Countersign's additions included)", () => {
  const now = 1_800_000_000;
  const fresh = buildAgentCertificate({ namespace: "acme", seed32: SEED, issuedAt: "2026-01-01T00:00:00Z", expiresAt: new Date((now + 60) * 1000) });

  it("accepts a future expiresAt, refuses a past one and an unparseable one", () => {
    expect(verifyAgentCertificate(fresh, now).ok).toBe(true);
    expect(verifyAgentCertificate(fresh, now + 60)).toEqual({ ok: false, message: "certificate has expired" });
    const garbage = buildAgentCertificate({ namespace: "acme", seed32: SEED, issuedAt: "x", expiresAt: "not a date" });
    expect(verifyAgentCertificate(garbage, now)).toEqual({ ok: false, message: "certificate expiresAt is not a date" });
  });

  it("refuses a changed member (the proof covers it), a wrong proof, a bad key, another version", () => {
    expect(verifyAgentCertificate({ ...fresh, issuedAt: "2026-01-02T00:00:00Z" }, now).ok).toBe(false);
    expect(verifyAgentCertificate({ ...fresh, proof: { alg: "ed25519", sig: fresh.proof.sig.slice(0, -2) + "AA" } }, now).ok).toBe(false);
    expect(verifyAgentCertificate({ ...fresh, proof: { alg: "ED25519", sig: fresh.proof.sig } }, now).ok).toBe(true);
    expect(verifyAgentCertificate({ ...fresh, proof: { alg: "rsa", sig: fresh.proof.sig } }, now).ok).toBe(false);
    expect(verifyAgentCertificate({ ...fresh, publicKey: "ed25519:AAAA" }, now).ok).toBe(false);
    expect(verifyAgentCertificate({ ...fresh, version: 2 }, now).ok).toBe(false);
    for (const bad of [null, "x", 1, [], {}]) expect(verifyAgentCertificate(bad, now).ok).toBe(false);
  });

  it("refuses a keyId whose fingerprint is not the key's, and a did that is not the namespace's, even when self-signed", () => {
    // Re-signed certificates with the wrong member: only Countersign's extra checks can catch them.
    const resign = (c: Record<string, unknown>) => {
      const lines = ["sigilum-certificate-v1", `namespace:${c.namespace}`, `did:${c.did}`, `key-id:${c.keyId}`, `public-key:${c.publicKey}`, `issued-at:${c.issuedAt}`, `expires-at:${c.expiresAt ?? ""}`];
      return { ...c, proof: { alg: "ed25519", sig: toBase64Url(ed25519.sign(utf8(lines.join("\n")), SEED)) } };
    };
    expect(verifyAgentCertificate(resign({ ...fresh }), now).ok).toBe(true);
    expect(verifyAgentCertificate(resign({ ...fresh, keyId: "did:sigilum:acme#ed25519-0000000000000000" }), now)).toEqual({ ok: false, message: "certificate keyId does not match its key's fingerprint" });
    expect(verifyAgentCertificate(resign({ ...fresh, did: "did:sigilum:other" }), now)).toEqual({ ok: false, message: "certificate did does not name its namespace" });
    expect(verifyAgentCertificate(resign({ ...fresh, namespace: "acme\nx" }), now).ok).toBe(false);
  });

  it("decodes only strict base64url JSON of bounded size", () => {
    expect(decodeCertificateHeader(encodeCertificateHeader(fresh))).toEqual(fresh);
    expect(decodeCertificateHeader(encodeCertificateHeader(fresh) + "=")).toBeNull();
    const padded = (n: number) => toBase64Url(utf8(JSON.stringify({ pad: "x".repeat(n) })));
    expect(padded(6000).length).toBeLessThanOrEqual(8192);
    expect(decodeCertificateHeader(padded(6000))).not.toBeNull();
    expect(decodeCertificateHeader(padded(6200))).toBeNull(); // over 8192 characters
    expect(decodeCertificateHeader("bm90IGpzb24")).toBeNull(); // "not json"
    expect(decodeCertificateHeader("_w")).toBeNull(); // 0xff: not UTF-8
    expect(decodeCertificateHeader(42)).toBeNull();
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fromBase64Strict, toBase64Url, utf8 } from "../../src/protocols/encoding.js";
import { buildAgentCertificate, decodeCertificateHeader, verifyAgentCertificate } from "../../src/protocols/http-signatures/agent-certificate.js";
import { parseSigilumSignatureInput } from "../../src/protocols/http-signatures/signature-input.js";
import { signSigilumRequest } from "../../src/protocols/http-signatures/sigilum-sign.js";
import { SIGILUM_HEADERS, verifySigilumRequest, type SigilumErrorCode, type SignedRequest } from "../../src/protocols/http-signatures/sigilum-verify.js";

/**
 * Hostile input: verifySigilumRequest (and the parsers under it) never throw and never accept, whatever
 * the headers, URL, method, body or clock. FUZZ_RUNS raises the number of cases (npm run fuzz).
 */
const RUNS = Math.max(200, Number(process.env.FUZZ_RUNS ?? 0) || 0);
const CODES: SigilumErrorCode[] = [
  "SIGNATURE_MISSING",
  "SIGNATURE_INVALID",
  "SIGNATURE_EXPIRED",
  "SIGNATURE_COMPONENTS_INVALID",
  "SIGNATURE_DIGEST_MISMATCH",
  "SIGNATURE_NAMESPACE_MISMATCH",
  "SIGNATURE_KEY_MISMATCH",
];
const SEED = fromBase64Strict("ZMLKzZSCxP8QXOO1vlmejAvdFaesd3QC6JC9iCt8FfA=")!;
const URL = "https://vault.example/request-clearance";
const BODY = utf8('{"tool":"refund","args":{"amount":"12 €"}}');
const cert = buildAgentCertificate({ namespace: "acme", seed32: SEED, issuedAt: "2026-01-01T00:00:00Z" });
const good = signSigilumRequest({ method: "POST", url: URL, body: BODY, namespace: "acme", seed: SEED, certificate: cert, created: 1_800_000_000, nonce: "n" });
const base: SignedRequest = { method: "POST", targetUri: URL, header: (n) => good[n], body: BODY, nowSeconds: 1_800_000_001 };

function expectRefusal(req: SignedRequest) {
  const result = verifySigilumRequest(req);
  expect(result.ok).toBe(false);
  if (!result.ok) {
    expect(CODES).toContain(result.code);
    expect([401, 403]).toContain(result.status);
  }
}

const anyText = fc.oneof(fc.string({ unit: "binary", maxLength: 300 }), fc.string({ unit: "grapheme", maxLength: 60 }), fc.constantFrom("", " ", "sig1=:", "sig1=()", "ed25519:", "\u0000", "\n"));
const headerName = fc.constantFrom(...SIGILUM_HEADERS, "content-digest");

describe("verifySigilumRequest under hostile input", () => {
  it("the unmodified request verifies (so every refusal below is caused by the change)", () => {
    expect(verifySigilumRequest(base).ok).toBe(true);
  });

  it("never throws or accepts for arbitrary header values, method, URL, body and clock", () => {
    fc.assert(
      fc.property(
        fc.dictionary(headerName, anyText),
        anyText,
        anyText,
        fc.option(fc.uint8Array({ maxLength: 200 })),
        fc.oneof(fc.integer(), fc.double()),
        (headers, method, targetUri, body, nowSeconds) => {
          expectRefusal({ method, targetUri, header: (n) => headers[n], body, nowSeconds });
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("refuses the signed request with any one header replaced by something else", () => {
    fc.assert(
      fc.property(headerName, anyText, (name, value) => {
        fc.pre(value.trim() !== (good[name] ?? "").trim());
        expectRefusal({ ...base, header: (n) => (n === name ? value : good[n]) });
      }),
      { numRuns: RUNS },
    );
  });

  it("refuses the signed request with any body, URL or method that is not the signed one", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 100 }), anyText, (body, text) => {
        if (body.join() !== BODY.join()) expectRefusal({ ...base, body });
        expectRefusal({ ...base, targetUri: `${URL}/${text}` });
        if (text.toLowerCase() !== "post") expectRefusal({ ...base, method: text });
      }),
      { numRuns: RUNS },
    );
  });

  it("survives huge values, non-string answers and a header callback that throws", () => {
    const huge = "A".repeat(2_000_000);
    for (const name of [...SIGILUM_HEADERS, "content-digest"]) expectRefusal({ ...base, header: (n) => (n === name ? huge : good[n]) });
    expectRefusal({ ...base, header: (n) => (n === "signature-input" ? `sig1=(${'"x" '.repeat(100_000)});created=1;keyid="k";alg="ed25519";nonce="n"` : good[n]) });
    expectRefusal({ ...base, header: (n) => (n === "sigilum-agent-cert" ? toBase64Url(utf8(`{"a":${"[".repeat(100_000)}}`)) : good[n]) });
    expectRefusal({ ...base, header: ((n: string) => (n === "signature" ? 42 : good[n])) as unknown as SignedRequest["header"] });
    expectRefusal({ ...base, header: () => { throw new Error("hostile"); } });
    expectRefusal({ ...base, body: new Uint8Array(5_000_000) });
    expectRefusal({ ...base, nowSeconds: Number.NaN });
    expectRefusal({ ...base, targetUri: undefined as unknown as string });
    expectRefusal({ ...base, method: undefined as unknown as string });
  });

  it("the parsers refuse arbitrary input without throwing", () => {
    fc.assert(
      fc.property(fc.oneof(anyText, fc.anything()), (value) => {
        expect(parseSigilumSignatureInput(value)).toBeNull();
        const decoded = decodeCertificateHeader(value);
        expect(verifyAgentCertificate(decoded, 1_800_000_000).ok).toBe(false);
        expect(verifyAgentCertificate(value, 1_800_000_000).ok).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });
});

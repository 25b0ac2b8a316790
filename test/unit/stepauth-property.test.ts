import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { toBase64, utf8 } from "../../src/protocols/encoding.js";
import { peekSenderId, validateAuthorizationRequest } from "../../src/protocols/stepauth/authorization-request.js";
import { verifyDecisionEnvelope } from "../../src/protocols/stepauth/decision.js";
import { encodeEnvelope, parseEnvelope, signEnvelope, verifyEnvelope } from "../../src/protocols/stepauth/envelope.js";
import { generateHybridKeyset, parsePrivateKeyset, parsePublicKeyset, publicKeysetOf } from "../../src/protocols/stepauth/keyset.js";
import { peekSender, validateCancel, validateDirectoryQuery, validatePoll } from "../../src/protocols/stepauth/queries.js";
import { byteMutationArb, mutationArb, render, repeatedKey, toRaw } from "../helpers/fuzz-raw-json.js";

/**
 * Hostile input never throws: every parser and validator of the StepAuth wire code answers
 * null / false / { ok: false } for anything, structure-aware mutations of valid messages included.
 */
// The mutations include 300,000-character strings and 60,000-item arrays: each run costs tens of ms.
const RUNS = Number(process.env.FUZZ_RUNS ?? 120);
const NOW = new Date("2026-01-01T00:01:00Z");
const HUB = "hub.example.com";
const keys = generateHybridKeyset("ks_sp");
const keysets = [publicKeysetOf(keys)];

const validRequest = {
  requestId: "req_1",
  senderId: "sp.example.com",
  recipientId: HUB,
  timestamp: "2026-01-01T00:00:00Z",
  expiresAt: "2026-01-01T00:30:00Z",
  callbackUrl: "https://sp.example.com/cb",
  principal: { subject: "email:a@b.com", attributes: [{ key: "team", label: "Team", value: "pay" }], operator: { subject: "persistent:bot" } },
  action: { type: "deploy", category: "code.deploy", name: "Deploy", summary: "Deploy it", details: [{ key: "g", label: "G", value: [{ key: "x", label: "X", value: "1" }] }], target: { id: "t", kind: "svc" }, approver: "group:g" },
};
const payload = utf8(JSON.stringify(validRequest));
const envelopeText = encodeEnvelope(signEnvelope(payload, keys));

function neverThrows(bytes: Uint8Array): void {
  const text = new TextDecoder().decode(bytes);
  const ctx = { hubEntity: HUB, requestUri: "/v1/x", now: NOW };
  for (const input of [bytes, text]) {
    const parsed = parseEnvelope(input);
    if (parsed) verifyEnvelope(parsed, keysets);
    verifyDecisionEnvelope(input, { hubKeysets: keysets, hubEntity: HUB, spEntity: "sp", requestBytes: bytes });
  }
  validateAuthorizationRequest(bytes, { hubEntity: HUB, now: NOW });
  peekSenderId(bytes);
  peekSender(bytes);
  validateCancel(bytes, ctx);
  validatePoll(bytes, ctx);
  validateDirectoryQuery(bytes, ctx);
  parsePrivateKeyset(text);
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    /* the raw text, then */
  }
  parsePublicKeyset(json);
}

describe("StepAuth wire code on arbitrary input", () => {
  it("never throws on arbitrary bytes, strings and JSON values", () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 512 }), fc.string().map(utf8), fc.jsonValue().map((v) => utf8(JSON.stringify(v) ?? "null"))), (bytes) => {
        neverThrows(bytes);
      }),
      { numRuns: RUNS },
    );
  });

  it("validates mutated requests without throwing; a repeated member is always malformed; a valid result re-validates as itself", () => {
    expect(validateAuthorizationRequest(payload, { hubEntity: HUB, now: NOW }).ok).toBe(true);
    fc.assert(
      fc.property(fc.array(mutationArb, { minLength: 1, maxLength: 3 }), byteMutationArb, (mutations, bytes) => {
        const tree = mutations.reduce((t, m) => m.apply(t), toRaw(validRequest));
        const text = render(tree);
        const body = new Uint8Array(bytes.apply(text));
        neverThrows(body);
        const v = validateAuthorizationRequest(body, { hubEntity: HUB, now: NOW });
        if (repeatedKey(tree) !== undefined) expect(v).toMatchObject({ ok: false, code: "malformed_request" });
        if (v.ok) expect(validateAuthorizationRequest(utf8(JSON.stringify(v.request)), { hubEntity: HUB, now: NOW })).toEqual(v);
      }),
      { numRuns: RUNS },
    );
  });

  it("never verifies a mutated envelope unless its payload is exactly the signed bytes", () => {
    const original = JSON.parse(envelopeText);
    fc.assert(
      fc.property(fc.array(mutationArb, { minLength: 1, maxLength: 2 }), byteMutationArb, (mutations, bytes) => {
        const tree = mutations.reduce((t, m) => m.apply(t), toRaw(original));
        const body = new Uint8Array(bytes.apply(render(tree)));
        neverThrows(body);
        const parsed = parseEnvelope(body);
        if (parsed && verifyEnvelope(parsed, keysets)) expect(toBase64(parsed.payload)).toBe(original.payload);
      }),
      { numRuns: Math.ceil(RUNS / 3) },
    );
  });
});

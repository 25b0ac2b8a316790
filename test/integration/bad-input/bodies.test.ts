/**
 * Bad input shared by every endpoint that takes a body (request-clearance, review decisions,
 * mint-token, consume-token, register-policy): malformed JSON, a missing required field, over-deep
 * and oversized bodies, prototype pollution keys, wrong or missing media types, unknown fields and
 * missing or wrong API keys.
 *
 * Part of the bad-input suite (test/integration/bad-input/): every error is RFC 9457 problem+json
 * with a stable `code` from the catalog, bad input always gets a 4xx, never a 5xx or a crash.
 * Unknown fields are ignored where the Ledgix SDK sends the body (§6.11: request-clearance, mint-token)
 * and refused with a 400 naming them on admin, review and consume-token bodies (the SDK has no consume;
 * a misspelled tool_args there must not skip the arguments check). This file starts its own vault on PGlite; every response's
 * status is recorded, and the last tests check that none was a 5xx and that the vault still answers.
 */
import { describe, expect, it } from "vitest";
import type { ErrorCode } from "../../../src/errors.js";
import { describeClosingChecks, useBadInputVault } from "./suite-lifecycle.js";
import type { HttpResult } from "../../helpers/vault.js";
import { badApiKeys, deepArray, deepObject, paddedTo, rawRequest, withRawMembers, type Json } from "./hostile-payloads.js";
import { expectFieldError, expectHandled, expectProblem } from "./problem-assertions.js";

const suite = useBadInputVault();

// ---------------------------------------------------------------------------------------------
// Every endpoint that takes a body
// ---------------------------------------------------------------------------------------------

interface BodyEndpoint {
  name: string;
  /** Path for the bad-body cases (rejected before any id in it is looked up). */
  path: () => string;
  key: () => string;
  /** A fresh request that succeeds (2xx). */
  valid: () => Promise<{ path: string; body: Json }>;
  /** A required field. */
  required: string;
  /** Ignored (protocol bodies, §6.11) or refused with 400 validation_failed naming the field (admin and review bodies). */
  unknownFields: "ignored" | "refused";
}

const endpoints: BodyEndpoint[] = [
  {
    name: "POST /request-clearance",
    path: () => "/request-clearance",
    key: () => suite.vault.agentKey,
    valid: async () => ({ path: "/request-clearance", body: { tool_name: "stripe_refund", tool_args: { amount: 5 } } }),
    required: "tool_name",
    unknownFields: "ignored",
  },
  {
    name: "POST /reviews/:request_id/decision",
    path: () => `/reviews/${suite.vault.pendingId}/decision`,
    key: () => suite.vault.reviewerKey,
    valid: async () => ({ path: `/reviews/${await suite.vault.freshPending()}/decision`, body: { approved: true, review_reason: "looks fine" } }),
    required: "approved",
    unknownFields: "refused",
  },
  {
    name: "POST /mint-token",
    path: () => "/mint-token",
    key: () => suite.vault.agentKey,
    valid: async () => ({
      path: "/mint-token",
      body: { tool_name: "stripe_refund", tool_args: { amount: 5 }, original_request_id: suite.vault.approved.request_id },
    }),
    required: "original_request_id",
    unknownFields: "ignored",
  },
  {
    name: "POST /consume-token",
    path: () => "/consume-token",
    key: () => suite.vault.agentKey,
    valid: async () => ({ path: "/consume-token", body: { token: await suite.vault.freshToken() } }),
    required: "token",
    unknownFields: "refused",
  },
  {
    name: "POST /register-policy",
    path: () => "/register-policy",
    key: () => suite.vault.adminKey,
    valid: async () => ({ path: "/register-policy", body: suite.vault.policyDoc() }),
    required: "policy_id",
    unknownFields: "refused",
  },
];

const malformed: { label: string; raw: string; code: ErrorCode }[] = [
  { label: "truncated JSON", raw: '{"tool_name":', code: "invalid_json" },
  { label: "trailing garbage", raw: '{"tool_name":"x"} x', code: "invalid_json" },
  { label: "single quotes", raw: "{'tool_name':'x'}", code: "invalid_json" },
  { label: "NaN literal", raw: '{"tool_name":"x","n":NaN}', code: "invalid_json" },
  { label: "trailing comma", raw: '{"tool_name":"x",}', code: "invalid_json" },
  { label: "bad escape", raw: '{"tool_name":"\\u12"}', code: "invalid_json" },
  { label: "raw control character in a string", raw: '{"tool_name":"a\u0001b"}', code: "invalid_json" },
  { label: "empty body", raw: "", code: "invalid_json" },
  { label: "whitespace only", raw: "   \n ", code: "invalid_json" },
  { label: "10,000 unclosed brackets", raw: "[".repeat(10_000), code: "invalid_json" },
  { label: "a JSON array", raw: "[]", code: "validation_failed" },
  { label: "an array holding an object", raw: '[{"tool_name":"x"}]', code: "validation_failed" },
  { label: "a JSON string", raw: '"tool_name"', code: "validation_failed" },
  { label: "a JSON number", raw: "42", code: "validation_failed" },
  { label: "JSON null", raw: "null", code: "validation_failed" },
  { label: "JSON true", raw: "true", code: "validation_failed" },
  { label: "an empty object", raw: "{}", code: "validation_failed" },
];

const tooDeep: { label: string; raw: () => string }[] = [
  { label: "65 levels in an unknown field", raw: () => `{"tool_name":"x","zzz":${deepArray(64)}}` },
  { label: "65 levels of objects", raw: () => deepObject(65) },
  { label: "10,000 levels of arrays", raw: () => deepArray(10_000) },
  { label: "10,000 levels of objects", raw: () => deepObject(10_000) },
  { label: "500,000 levels (just under 1 MiB)", raw: () => deepArray(500_000) },
];

const wrongMediaTypes = ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz", "application/xml", "application/octet-stream"];

const pollution: { label: string; members: string }[] = [
  { label: "__proto__ at the top level", members: '"__proto__":{"polluted":true}' },
  { label: "constructor.prototype at the top level", members: '"constructor":{"prototype":{"polluted":true}}' },
  { label: "unicode-escaped __proto__", members: '"\\u005f\\u005fproto\\u005f\\u005f":{"polluted":true}' },
  { label: "__proto__ nested in an unknown field", members: '"zzz":{"a":[{"__proto__":{"polluted":true}}]}' },
];

/** A valid body plus the unknown field `field`: accepted (200) where unknown fields are ignored, else a 400 naming it. */
function expectUnknownFieldOutcome(ep: BodyEndpoint, res: HttpResult, field: string): void {
  if (ep.unknownFields === "ignored") expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
  else expectFieldError(res, field);
}

describe.each(endpoints)("$name", (ep) => {
  it.each(malformed)("$label -> 400 $code", async ({ raw, code }) => {
    expectProblem(await suite.vault.http("POST", ep.path(), { key: ep.key(), rawBody: raw }), 400, code);
  });

  it("a body without its required field -> 400 validation_failed naming it", async () => {
    const { path, body } = await ep.valid();
    delete body[ep.required];
    expectFieldError(await suite.vault.http("POST", path, { key: ep.key(), body }), ep.required);
  });

  it.each(tooDeep)("$label -> 400 json_too_deep", async ({ raw }) => {
    expectProblem(await suite.vault.http("POST", ep.path(), { key: ep.key(), rawBody: raw() }), 400, "json_too_deep");
  });

  it("exactly 64 levels (in an unknown field) is within the depth limit: accepted, or refused for the unknown field only", async () => {
    const { path, body } = await ep.valid();
    const res = await suite.vault.http("POST", path, { key: ep.key(), rawBody: withRawMembers(body, `"zzz_deep":${deepArray(63)}`) });
    expectUnknownFieldOutcome(ep, res, "zzz_deep");
  });

  it("a body one byte over the limit -> 413 payload_too_large", async () => {
    const { path, body } = await ep.valid();
    expectProblem(await suite.vault.http("POST", path, { key: ep.key(), rawBody: paddedTo(body, suite.vault.maxBodyBytes + 1) }), 413, "payload_too_large");
  });

  it("a 5 MiB body -> 413 payload_too_large", async () => {
    expectProblem(await suite.vault.http("POST", ep.path(), { key: ep.key(), rawBody: `{"zzz":"${"a".repeat(5 * 1_048_576)}"}` }), 413, "payload_too_large");
  });

  it("a body of exactly the limit (padding in an unknown field) is within the size limit: accepted, or refused for the unknown field only", async () => {
    const { path, body } = await ep.valid();
    const res = await suite.vault.http("POST", path, { key: ep.key(), rawBody: paddedTo(body, suite.vault.maxBodyBytes) });
    expectUnknownFieldOutcome(ep, res, "zzz_padding");
  });

  it.each(pollution)("$label -> 4xx or ignored, never a 5xx, and no prototype is polluted", async ({ members }) => {
    const { path, body } = await ep.valid();
    expectHandled(await suite.vault.http("POST", path, { key: ep.key(), rawBody: withRawMembers(body, members) }));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty("polluted");
  });

  it.each(wrongMediaTypes)("Content-Type %s -> 415 unsupported_media_type", async (type) => {
    const { path, body } = await ep.valid();
    expectProblem(
      await suite.vault.http("POST", path, { key: ep.key(), rawBody: JSON.stringify(body), headers: { "content-type": type } }),
      415,
      "unsupported_media_type",
    );
  });

  it("a JSON body sent without any Content-Type -> 415 unsupported_media_type", async () => {
    const { path, body } = await ep.valid();
    const text = JSON.stringify(body);
    const res = await suite.vault.rawHttp(
      `POST ${path} (no content-type)`,
      rawRequest("POST", path, { "X-Vault-API-Key": ep.key(), "Content-Length": String(Buffer.byteLength(text)) }, text),
    );
    expectProblem(res, 415, "unsupported_media_type");
  });

  it(`an unknown field is ${ep.unknownFields}: a valid body plus {zzz_unknown: 1}`, async () => {
    const { path, body } = await ep.valid();
    const res = await suite.vault.http("POST", path, { key: ep.key(), body: { ...body, zzz_unknown: 1, zzz_nested: { a: [1, { b: null }] } } });
    expectUnknownFieldOutcome(ep, res, "zzz_unknown");
  });

  it("a number too large for a double (1e400) in an unknown field -> ignored or 4xx, never a 5xx", async () => {
    const { path, body } = await ep.valid();
    expectHandled(await suite.vault.http("POST", path, { key: ep.key(), rawBody: withRawMembers(body, '"zzz_unknown":1e400') }));
  });

  it.each(badApiKeys)("$label -> 401 unauthorized", async ({ key }) => {
    const { path, body } = await ep.valid();
    expectProblem(await suite.vault.http("POST", path, { key: key(suite.vault.adminKey), body, headers: key(suite.vault.adminKey) === "" ? { "x-vault-api-key": "" } : {} }), 401, "unauthorized");
  });
});

describeClosingChecks(suite, 250);

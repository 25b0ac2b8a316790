import { describe, expect, it } from "vitest";
import { toBase64, utf8 } from "../../src/protocols/encoding.js";
import { encodeDecision, requestDigest, verifyDecisionEnvelope, type Decision } from "../../src/protocols/stepauth/decision.js";
import { encodeEnvelope, signEnvelope } from "../../src/protocols/stepauth/envelope.js";
import { STEPAUTH_ERROR_STATUS, stepAuthErrorStatus } from "../../src/protocols/stepauth/errors.js";
import { flattenEntries, flattenPrincipal } from "../../src/protocols/stepauth/flatten.js";
import { generateHybridKeyset, publicKeysetOf } from "../../src/protocols/stepauth/keyset.js";
import { isIndividual, parseNameId } from "../../src/protocols/stepauth/name-id.js";
import { peekSender, validateCancel, validateDirectoryQuery, validatePoll } from "../../src/protocols/stepauth/queries.js";

const hub = generateHybridKeyset("ks_hub");
const impostor = generateHybridKeyset("ks_hub"); // same id, other keys
const requestBytes = utf8('{"requestId":"req_1","senderId":"sp.example.com","recipientId":"hub.example.com"}');
const decision: Decision = {
  requestId: "req_1",
  senderId: "hub.example.com",
  recipientId: "sp.example.com",
  decision: "approved",
  decidedAt: "2026-01-01T00:02:00Z",
  decidedBy: ["email:approver@example.com"],
  requestDigest: { algorithm: "sha256", value: requestDigest(requestBytes) },
};
const expect_ = { hubKeysets: [publicKeysetOf(hub)], hubEntity: "hub.example.com", spEntity: "sp.example.com", requestBytes };
const sealed = (d: unknown, keys = hub) => encodeEnvelope(signEnvelope(utf8(typeof d === "string" ? d : JSON.stringify(d)), keys));

describe("decisions", () => {
  it("encode as compact JSON in the reference's member order", () => {
    const text = new TextDecoder().decode(encodeDecision({ ...decision, extra: 1 } as Decision));
    expect(text).toBe(
      `{"requestId":"req_1","senderId":"hub.example.com","recipientId":"sp.example.com","decision":"approved","decidedAt":"2026-01-01T00:02:00Z","decidedBy":["email:approver@example.com"],"requestDigest":{"algorithm":"sha256","value":"${requestDigest(requestBytes)}"}}`,
    );
  });

  it("verify: signature, then sender, recipient and requestDigest over the exact request bytes", () => {
    expect(verifyDecisionEnvelope(encodeEnvelope(signEnvelope(encodeDecision(decision), hub)), expect_)).toEqual({ ok: true, decision });
    const denied = { ...decision, decision: "denied", decidedBy: null };
    expect(verifyDecisionEnvelope(sealed(denied), expect_)).toEqual({ ok: true, decision: { ...decision, decision: "denied", decidedBy: [] } });
  });

  it("refuse each failure with its reason: signature, sender, recipient, digest, tampering, shape", () => {
    const reason = (body: string | Uint8Array, e = expect_) => {
      const v = verifyDecisionEnvelope(body, e);
      return v.ok ? "ok" : v.reason;
    };
    expect(reason(sealed(decision, impostor))).toBe("invalid signature");
    expect(reason(sealed(decision), { ...expect_, hubKeysets: [] })).toBe("invalid signature");
    expect(reason(sealed({ ...decision, senderId: "evil.example.com" }))).toMatch(/senderId/);
    expect(reason(sealed(decision), { ...expect_, hubEntity: "other-hub" })).toMatch(/senderId/);
    expect(reason(sealed({ ...decision, recipientId: "other-sp" }))).toMatch(/recipientId/);
    expect(reason(sealed(decision), { ...expect_, requestBytes: utf8(`${new TextDecoder().decode(requestBytes)} `) })).toMatch(/requestDigest/);
    expect(reason(sealed({ ...decision, requestDigest: { algorithm: "sha512", value: decision.requestDigest.value } }))).toMatch(/requestDigest/);
    for (const shape of [{ ...decision, decision: "expired" }, { ...decision, decidedBy: "email:a@b.com" }, { ...decision, requestDigest: null }, { ...decision, requestId: 1 }, "[]"]) {
      expect(reason(sealed(shape))).toBe("malformed decision payload");
    }
    // Tampered payload under the original signatures.
    const env = JSON.parse(sealed(decision));
    env.payload = toBase64(encodeDecision({ ...decision, decision: "denied" }));
    expect(reason(JSON.stringify(env))).toBe("invalid signature");
    expect(reason("{}")).toBe("malformed envelope");
    expect(reason(sealed(new TextDecoder().decode(encodeDecision(decision)).replace('"decision":"approved"', '"decision":"denied","decision":"approved"')))).toBe("malformed decision payload");
  });
});

describe("queries", () => {
  const now = new Date("2026-01-01T00:00:00Z");
  const poll = { senderId: "sp.example.com", recipientId: "hub.example.com", requestUri: "/stepauth/acme/v1/authorization-requests/req_1/decision", timestamp: "2026-01-01T00:01:00Z" };
  const ctx = { hubEntity: "hub.example.com", requestUri: poll.requestUri, now };
  const check = (fn: typeof validatePoll, q: unknown) => {
    const v = fn(utf8(JSON.stringify(q)), ctx);
    return v.ok ? "ok" : v.code;
  };

  it("cancel accepts spId (seed) or senderId, equal when both; ±5 min", () => {
    const cancel = (q: unknown) => validateCancel(utf8(JSON.stringify(q)), { now });
    expect(cancel({ requestId: "req_1", spId: "sp", timestamp: "2026-01-01T00:00:00Z" })).toEqual({ ok: true, value: { requestId: "req_1", senderId: "sp", timestamp: "2026-01-01T00:00:00Z" } });
    expect(cancel({ requestId: "req_1", senderId: "sp", spId: "sp", timestamp: "2026-01-01T00:04:00Z" }).ok).toBe(true);
    expect(cancel({ requestId: "req_1", senderId: "sp", spId: "other", timestamp: "2026-01-01T00:00:00Z" })).toMatchObject({ code: "malformed_request" });
    expect(cancel({ requestId: "req#1", senderId: "sp", timestamp: "2026-01-01T00:00:00Z" })).toMatchObject({ code: "malformed_request" });
    expect(cancel({ requestId: "req_1", senderId: "sp", timestamp: "2026-01-01T00:06:00Z" })).toMatchObject({ code: "timestamp_out_of_range" });
    expect(cancel({ requestId: "req_1", senderId: "sp" })).toMatchObject({ code: "timestamp_out_of_range" });
    expect(peekSender(utf8('{"spId":"sp"}'))).toBe("sp");
    expect(peekSender(utf8('{"senderId":"a","spId":"b"}'))).toBeNull();
    expect(peekSender(utf8('{"senderId":"a","senderId":"a"}'))).toBeNull();
  });

  it("poll and directory queries are bound to this hub and this exact path (wrong_recipient)", () => {
    expect(validatePoll(utf8(JSON.stringify(poll)), ctx)).toEqual({ ok: true, value: poll });
    expect(check(validatePoll, { ...poll, recipientId: "other" })).toBe("wrong_recipient");
    expect(check(validatePoll, { ...poll, requestUri: "/stepauth/other/v1/authorization-requests/req_1/decision" })).toBe("wrong_recipient");
    expect(check(validatePoll, { ...poll, requestUri: "/v1/authorization-requests/req_1/decision" })).toBe("wrong_recipient");
    expect(check(validatePoll, { ...poll, timestamp: "2026-01-01T00:05:01Z" })).toBe("timestamp_out_of_range");
    expect(check(validatePoll, { ...poll, senderId: "" })).toBe("malformed_request");
    expect(check(validatePoll, { ...poll, senderId: "a#b" })).toBe("malformed_request");
    expect(check(validatePoll, [poll])).toBe("malformed_request");
    expect(check(validateDirectoryQuery, { ...poll, limit: 50, cursor: "c1" })).toBe("ok");
    expect(validateDirectoryQuery(utf8(JSON.stringify({ ...poll, limit: 0, cursor: "" })), ctx)).toEqual({ ok: true, value: poll });
    for (const limit of [-1, 1.5, "10", 2 ** 60]) expect(check(validateDirectoryQuery, { ...poll, limit })).toBe("malformed_request");
    expect(check(validateDirectoryQuery, { ...poll, cursor: 5 })).toBe("malformed_request");
  });
});

describe("flattening (reference §9)", () => {
  it("turns entries into key: value, groups into objects, drops labels, and keeps __proto__ an ordinary member", () => {
    const flat = flattenEntries([
      { key: "amount", label: "Amount", value: "100" },
      { key: "device", label: "Device", value: [{ key: "serial", label: "Serial", value: "X1" }] },
      { key: "__proto__", label: "p", value: "polluted?" },
    ]);
    expect(flat.device).toEqual({ serial: "X1" });
    expect(Object.getPrototypeOf(flat)).toBe(Object.prototype);
    expect(Object.hasOwn(flat, "__proto__")).toBe(true);
    expect(flattenEntries(undefined)).toEqual({});
  });

  it("flattens the principal chain recursively", () => {
    const p = { subject: "email:a@b.com", attributes: [{ key: "team", label: "Team", value: "pay" }], operator: { subject: "persistent:bot", operator: { subject: "email:boss@b.com" } } };
    expect(flattenPrincipal(p)).toEqual({
      subject: "email:a@b.com",
      attributes: { team: "pay" },
      operator: { subject: "persistent:bot", attributes: {}, operator: { subject: "email:boss@b.com", attributes: {} } },
    });
    const cyclic: { subject: string; operator?: unknown } = { subject: "email:a@b.com" };
    cyclic.operator = cyclic;
    expect(() => flattenPrincipal(cyclic as never)).not.toThrow();
  });
});

describe("NameIDs and the error table", () => {
  it("parses type:value with colons in the value", () => {
    expect(parseNameId("persistent:idp:1234")).toEqual({ type: "persistent", value: "idp:1234" });
    expect(parseNameId("group:g_1")).toEqual({ type: "group", value: "g_1" });
    for (const bad of ["", "email", "email:", "user:x", 5, null]) expect(parseNameId(bad)).toBeNull();
    expect([isIndividual("email:a@b.com"), isIndividual("persistent:x"), isIndividual("group:g"), isIndividual("policy:p")]).toEqual([true, true, false, false]);
  });

  it("maps the codes to the reference's statuses; unknown codes are 400", () => {
    expect(STEPAUTH_ERROR_STATUS).toEqual({
      malformed_request: 400,
      invalid_callback_url: 400,
      operator_depth_exceeded: 400,
      timestamp_out_of_range: 400,
      unknown_category: 400,
      unknown_approver: 400,
      approver_set_too_large: 400,
      duplicate_request: 409,
      invalid_signature: 401,
      unknown_sender: 401,
      wrong_recipient: 403,
      request_not_found: 404,
    });
    expect(stepAuthErrorStatus("rate_limited")).toBe(400);
    expect(stepAuthErrorStatus("toString")).toBe(400);
  });
});

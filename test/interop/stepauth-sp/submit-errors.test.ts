/**
 * StepAuth interop, submit and its errors: the vault as a hub, driven by an SP written from
 * ../shared/reference/stepauth-protocol.md (§3 submit, §4 error table, §3 processing order).
 * This folder MUST NOT import server modules (nothing under src/): it checks the vault against the document.
 *
 * `approver_set_too_large` (§4) is not reachable: `action.approver` is one NameID (§3), so no request an SP
 * can build names a set of approvers, and the reference gives no limit to exceed.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../../helpers/vault.js";
import { expectError, startInterop, TYPES, type Interop } from "./fixture.js";
import { stamp, utf8 } from "./sp-client.js";
import { envelopeText, hybridSigner, strictB64 } from "./sp-keys.js";

const SUBMIT = "/v1/authorization-requests";
/** The closed category registry of reference §3. */
const CATEGORIES = "data.read data.export data.modify data.delete identity.create identity.modify identity.escalate identity.disable infra.modify infra.destroy financial.transfer financial.approve code.deploy code.release communication.send access.grant access.revoke".split(" ");
const randomHex = (n: number) => randomBytes(Math.ceil(n / 2)).toString("hex").slice(0, n);
const minutes = (m: number) => new Date(Date.now() + m * 60_000);
/** A principal with `n` operators nested below the subject. */
function chain(n: number): Record<string, unknown> {
  let p: Record<string, unknown> = { subject: `persistent:agent-${n}` };
  for (let i = n - 1; i >= 0; i--) p = { subject: i === 0 ? "email:alice@sp.example" : `persistent:agent-${i}`, operator: p };
  return p;
}

describe.each<Engine>(["postgres", "pglite"])("StepAuth submit and error table (reference §3, §4) on %s", (engine) => {
  let x: Interop;
  beforeAll(async () => {
    x = await startInterop(engine);
  });
  afterAll(async () => {
    await x?.close();
  });
  const action = (over: Record<string, unknown> = {}) => ({ type: TYPES.review, category: "financial.transfer", summary: "Pay invoice 42", ...over });

  it("answers 202 {requestId, status: pending, createdAt, reviewDescription?} for a valid request", async () => {
    const res = await x.sp.submit({ action: action(), callbackUrl: x.spReceiver.url, policyVersion: "v7", principal: chain(2) });
    expect(res.status, res.text).toBe(202);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.body).toMatchObject({ requestId: res.requestId, status: "pending" });
    expect(Object.keys(res.body).every((k) => ["requestId", "status", "createdAt", "reviewDescription"].includes(k)), res.text).toBe(true);
    expect(res.body.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
    if ("reviewDescription" in res.body) expect(typeof res.body.reviewDescription).toBe("string");
  });

  it("accepts the optional and labelled fields, unknown fields, and names of 120 code points", async () => {
    const details = [
      { key: "amount", label: "Amount", value: "1200 EUR" },
      { key: "device", label: "Device", value: [{ key: "serial", label: "Serial number", value: "SN-1" }] },
    ];
    const res = await x.sp.submit({
      principal: { subject: "email:alice@sp.example", attributes: [{ key: "dept", label: "Department", value: "Finance" }], type: "human" },
      action: action({ name: "é".repeat(120), details, target: { id: "inv-42", kind: "invoice" }, futureField: 1 }),
      somethingNew: { nested: true },
    });
    expect(res.status, res.text).toBe(202);
  });

  it("accepts the edges of the field rules", async () => {
    // The same instant written as wall-clock time in +01:00.
    const offset = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d{3}Z$/, "+01:00");
    const accepted: [string, Record<string, unknown>][] = [
      ["requestId of 256 bytes", { requestId: `r${randomHex(255)}` }],
      ["requestId with a space and punctuation", { requestId: `req 1/${randomHex(4)}:~!` }],
      ["name of 120 astral code points", { action: action({ name: "😀".repeat(120) }) }],
      ["NameID value with ':'", { principal: { subject: "persistent:user:42" } }],
      ["empty callbackUrl (the registered one)", { callbackUrl: "" }],
      ["timestamp 4 min behind", { timestamp: stamp(minutes(-4)) }],
      ["timestamp with fractional seconds", { timestamp: new Date().toISOString() }],
      ["timestamp with a +01:00 offset", { timestamp: offset }],
      ["expiresAt just under 7 days", { expiresAt: stamp(minutes(7 * 24 * 60 - 5)) }],
      ["the same key in different arrays", { action: action({ details: [{ key: "a", label: "A", value: [{ key: "a", label: "A", value: "1" }] }] }) }],
    ];
    for (const [name, over] of accepted) {
      const res = await x.sp.submit(over);
      expect(res.status, `${name}: ${res.text}`).toBe(202);
    }
    for (const category of CATEGORIES) {
      const res = await x.sp.submit({ action: action({ category }) });
      expect(res.status, `${category}: ${res.text}`).toBe(202);
    }
  });

  it("malformed_request (400) for each broken field rule", async () => {
    const cases: [string, Record<string, unknown>][] = [
      ["requestId with #", { requestId: "req#1" }],
      ["empty requestId", { requestId: "" }],
      ["requestId over 256 bytes", { requestId: "r".repeat(257) }],
      ["requestId with non-ASCII", { requestId: "req_é" }],
      ["missing summary", { action: { type: TYPES.review, category: "financial.transfer" } }],
      ["missing type", { action: { category: "financial.transfer", summary: "s" } }],
      ["name over 120 code points", { action: action({ name: "é".repeat(121) }) }],
      ["target without kind", { action: action({ target: { id: "x" } }) }],
      ["subject not an individual", { principal: { subject: "group:finance" } }],
      ["subject not a NameID", { principal: { subject: "alice" } }],
      ["empty NameID value", { principal: { subject: "email:" } }],
      ["duplicate detail keys", { action: action({ details: [{ key: "a", label: "A", value: "1" }, { key: "a", label: "A2", value: "2" }] }) }],
      ["duplicate attribute keys", { principal: { subject: "email:a@b.c", attributes: [{ key: "k", label: "K", value: "1" }, { key: "k", label: "K", value: "2" }] } }],
      ["expiresAt before timestamp", { expiresAt: stamp(minutes(-1)) }],
      ["expiresAt over 7 days", { expiresAt: stamp(minutes(7 * 24 * 60 + 5)) }],
      ["missing principal", { principal: undefined }],
      ["name of 121 astral code points", { action: action({ name: "😀".repeat(121) }) }],
      ["detail value a number", { action: action({ details: [{ key: "a", label: "A", value: 1 }] }) }],
      ["duplicate keys in a nested group", { action: action({ details: [{ key: "g", label: "G", value: [{ key: "x", label: "X", value: "1" }, { key: "x", label: "X", value: "2" }] }] }) }],
    ];
    for (const [name, over] of cases) {
      const res = await x.sp.submit(over);
      expect(res.status, `${name}: ${res.text}`).toBe(400);
      expect(res.body?.error, `${name}: ${res.text}`).toBe("malformed_request");
    }
    expectError(await x.sp.postRaw(SUBMIT, "not json"), "malformed_request", 400);
    expectError(await x.sp.postRaw(SUBMIT, JSON.stringify({ payload: "!!", signature: { keysetId: "k", signatures: [] } })), "malformed_request", 400);
  });

  it("invalid_callback_url, operator_depth_exceeded, timestamp_out_of_range, unknown_category, unknown_approver", async () => {
    expectError(await x.sp.submit({ callbackUrl: "http://sp.example.com/cb" }), "invalid_callback_url", 400);
    expectError(await x.sp.submit({ callbackUrl: "ftp://127.0.0.1/cb" }), "invalid_callback_url", 400);
    expect((await x.sp.submit({ principal: chain(4) })).status).toBe(202);
    expectError(await x.sp.submit({ principal: chain(6) }), "operator_depth_exceeded", 400);
    expectError(await x.sp.submit({ principal: chain(12) }), "operator_depth_exceeded", 400);
    expectError(await x.sp.submit({ timestamp: stamp(minutes(-10)) }), "timestamp_out_of_range", 400);
    expectError(await x.sp.submit({ timestamp: stamp(minutes(10)), expiresAt: stamp(minutes(40)) }), "timestamp_out_of_range", 400);
    expectError(await x.sp.submit({ timestamp: "yesterday" }), "timestamp_out_of_range", 400);
    expectError(await x.sp.submit({ action: action({ category: "data.steal" }) }), "unknown_category", 400);
    expectError(await x.sp.submit({ action: action({ category: "Data.Read" }) }), "unknown_category", 400);
    for (const approver of ["group:no-such-group", "email:nobody@example.com", "policy:no-such-policy"]) {
      expectError(await x.sp.submit({ action: action({ approver }) }), "unknown_approver", 400);
    }
    for (const approver of ["group:payments", "email:rita@example.com"]) {
      const res = await x.sp.submit({ action: action({ approver }) });
      expect(res.status, `${approver}: ${res.text}`).toBe(202);
    }
  });

  it("unknown_sender (401), invalid_signature (401), wrong_recipient (403), in the reference's order", async () => {
    const stranger = hybridSigner();
    // Step 3 before 4: an unregistered sender is unknown, whatever its signature.
    expectError(await x.sp.submit({ senderId: "nobody.example.net" }, stranger), "unknown_sender", 401);
    // Step 4 before 5: a registered sender with someone else's key, even with a wrong recipient.
    expectError(await x.sp.submit({}, stranger), "invalid_signature", 401);
    expectError(await x.sp.submit({ recipientId: "other.hub" }, stranger), "invalid_signature", 401);
    const p = utf8(JSON.stringify(x.sp.request()));
    const env = JSON.parse(envelopeText(p, x.sp.signer));
    for (const i of [0, 1]) {
      const bad = structuredClone(env);
      const sig = strictB64(bad.signature.signatures[i])!;
      sig[sig.length - 1]! ^= 1;
      bad.signature.signatures[i] = sig.toString("base64");
      expectError(await x.sp.postRaw(SUBMIT, JSON.stringify(bad)), "invalid_signature", 401);
    }
    expectError(await x.sp.postRaw(SUBMIT, JSON.stringify({ ...env, signature: { ...env.signature, signatures: env.signature.signatures.slice(0, 1) } })), "invalid_signature", 401);
    expectError(await x.sp.postRaw(SUBMIT, JSON.stringify({ ...env, signature: { ...env.signature, keysetId: "ks_unknown" } })), "invalid_signature", 401);
    // The signature covers P exactly: the same signatures over other bytes fail.
    expectError(await x.sp.postRaw(SUBMIT, JSON.stringify({ ...env, payload: Buffer.concat([p, utf8(" ")]).toString("base64") })), "invalid_signature", 401);
    // Step 5: recipient first, then field checks.
    expectError(await x.sp.submit({ recipientId: "other.hub", action: action({ category: "data.steal" }) }), "wrong_recipient", 403);
  });

  it("duplicate_request (409) per sender; the same requestId from another sender is its own request", async () => {
    const first = await x.sp.submit({ action: action() });
    expect(first.status, first.text).toBe(202);
    expectError(await x.sp.submitBytes(first.requestBytes), "duplicate_request", 409);
    expectError(await x.sp.submit({ requestId: first.requestId, action: action({ summary: "Different" }) }), "duplicate_request", 409);
    const other = await x.seed.submit({ requestId: first.requestId, action: action() });
    expect(other.status, other.text).toBe(202);
  });

  it("request_not_found (404) for a poll or cancel of an id the sender never submitted", async () => {
    expectError(await x.sp.poll("req_never_submitted"), "request_not_found", 404);
    expectError(await x.sp.cancel("req_never_submitted"), "request_not_found", 404);
    const theirs = await x.seed.submit({ action: action() });
    expect(theirs.status).toBe(202);
    expectError(await x.sp.poll(theirs.requestId), "request_not_found", 404);
    expectError(await x.sp.cancel(theirs.requestId), "request_not_found", 404);
  });
});

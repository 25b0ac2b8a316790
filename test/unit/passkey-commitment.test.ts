import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { jcs } from "../../src/ledger/core/jcs.js";
import { assertionDigest, commitmentInputOf, passkeyChunkOf, passkeyChunksOf, type PasskeyChunk } from "../../src/ledger/core/passkey-chunk.js";
import { passkeyCommitment, passkeyCommitmentBase64Url, passkeyCommitmentHex, passkeyCommitmentObject } from "../../src/ledger/core/passkey-commitment.js";
import { passkeyEnrolmentJson, passkeyEnrolmentOf } from "../../src/ledger/core/passkey-enrolment.js";
import { auditLedgerEvent } from "../../src/ledger/core/audit-event.js";
import { canonicalJson } from "../../src/tokens/canonical-json.js";

const sha256Hex = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");
const ARGS_HASH = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";

describe("the passkey commitment (ledger/core/passkey-commitment.ts)", () => {
  it("is SHA-256 of the canonical {request_id, tool, tool_args_hash, policy_version_id, vote} text, written out by hand here", () => {
    const input = { request_id: "req_1", tool: "stripe_refund", tool_args_hash: ARGS_HASH, policy_version_id: "pv_9" };
    const text = `{"policy_version_id":"pv_9","request_id":"req_1","tool":"stripe_refund","tool_args_hash":"${ARGS_HASH}","vote":"approve"}`;
    expect(jcs(passkeyCommitmentObject(input))).toBe(text);
    expect(passkeyCommitmentHex(input)).toBe(sha256Hex(text));
    expect(Buffer.from(passkeyCommitment(input)).toString("hex")).toBe(sha256Hex(text));
    expect(passkeyCommitmentBase64Url(input)).toBe(Buffer.from(sha256Hex(text), "hex").toString("base64url"));
  });

  it("writes a missing policy version as \"\" and commits to a grant with nulls for what it leaves out", () => {
    const base = { request_id: "req_1", tool: "t", tool_args_hash: ARGS_HASH, policy_version_id: null };
    expect(passkeyCommitmentObject(base).policy_version_id).toBe("");
    expect(passkeyCommitmentHex(base)).toBe(passkeyCommitmentHex({ ...base, policy_version_id: "" }));
    const once = passkeyCommitmentObject({ ...base, grant: { scope: "session" } });
    expect(once.grant).toEqual({ scope: "session", window_minutes: null, constraint: null });
    const window = { ...base, grant: { scope: "window", window_minutes: 60, constraint: "args.amount <= 200" } };
    expect(jcs(passkeyCommitmentObject(window))).toBe(
      `{"grant":{"constraint":"args.amount <= 200","scope":"window","window_minutes":60},"policy_version_id":"","request_id":"req_1","tool":"t","tool_args_hash":"${ARGS_HASH}","vote":"approve"}`,
    );
  });

  it("differs for every field that changes: request, tool, arguments, policy version, grant", () => {
    const base = { request_id: "req_1", tool: "t", tool_args_hash: ARGS_HASH, policy_version_id: "pv" };
    const variants = [
      base,
      { ...base, request_id: "req_2" },
      { ...base, tool: "u" },
      { ...base, tool_args_hash: "0".repeat(64) },
      { ...base, policy_version_id: "pv2" },
      { ...base, grant: { scope: "once" } },
      { ...base, grant: { scope: "window", window_minutes: 5 } },
      { ...base, grant: { scope: "window", window_minutes: 6 } },
      { ...base, grant: { scope: "window", window_minutes: 5, constraint: "true" } },
    ];
    expect(new Set(variants.map(passkeyCommitmentHex)).size).toBe(variants.length);
  });

  it("the core's JCS is the tokens' canonical JSON (RFC 8785) on any JSON value", () => {
    fc.assert(fc.property(fc.jsonValue(), (value) => jcs(value) === canonicalJson(value)), { numRuns: 300 });
  });
});

const chunk: PasskeyChunk = {
  type: "passkey",
  credential: "Y3JlZA",
  enrolment: "uuid-1",
  reviewer: "rvw_1",
  authenticator: "YXV0aA",
  client: "Y2xpZW50",
  signature: "c2ln",
  commitment: "00".repeat(32),
  argshash: ARGS_HASH,
  policyversion: "pv",
};

describe("the passkey evidence chunk (ledger/core/passkey-chunk.ts)", () => {
  it("has only one-word lowercase keys (the SDK camelCases chunk keys before hashing)", () => {
    const withGrant = { ...chunk, grant: { scope: "window", window: 5, constraint: null } };
    const keys = (o: object): string[] => Object.entries(o).flatMap(([k, v]) => [k, ...(v && typeof v === "object" ? keys(v) : [])]);
    for (const k of keys(withGrant)) expect(k).toMatch(/^[a-z]+$/);
  });

  it("reads back a chunk, and refuses malformed ones without throwing", () => {
    expect(passkeyChunkOf(chunk)).toEqual(chunk);
    expect(passkeyChunkOf({ ...chunk, grant: { scope: "window", window: 5, constraint: null } })?.grant).toEqual({ scope: "window", window: 5, constraint: null });
    for (const bad of [null, 1, "x", [], { ...chunk, type: "edit" }, { ...chunk, credential: 1 }, { ...chunk, grant: null }, { ...chunk, grant: { scope: 1 } }, { ...chunk, grant: { scope: "s", window: "5", constraint: null } }]) {
      expect(passkeyChunkOf(bad)).toBeUndefined();
    }
    expect(passkeyChunksOf([{ type: "agent_identity" }, chunk, { type: "passkey" }])).toEqual([chunk]);
    fc.assert(fc.property(fc.anything(), (value) => void passkeyChunkOf(value)), { numRuns: 300 });
  });

  it("digests the assertion as the token's approvals name it", () => {
    expect(assertionDigest(chunk)).toBe(sha256Hex(`{"authenticator":"YXV0aA","client":"Y2xpZW50","signature":"c2ln"}`));
  });

  it("recomputes the commitment input from the chunk and its event", () => {
    expect(commitmentInputOf({ ...chunk, grant: { scope: "window", window: 5, constraint: "true" } }, { request_id: "req_1", tool_name: "t" })).toEqual({
      request_id: "req_1",
      tool: "t",
      tool_args_hash: ARGS_HASH,
      policy_version_id: "pv",
      grant: { scope: "window", window_minutes: 5, constraint: "true" },
    });
  });
});

describe("the passkey.enrolled audit event (ledger/core/passkey-enrolment.ts)", () => {
  const details = { reviewer_id: "rvw_1", credential_id: "Y3JlZA", public_key_cose: "pQECAyYgASFYIA", alg: -7, aaguid: "00000000-0000-0000-0000-000000000000", rp_id: "localhost" };

  it("round-trips through a real audit event, and refuses other actions and broken details", () => {
    const event = auditLedgerEvent({ action: "passkey.enrolled", subject_id: "pk_1", actor: "rvw_1", details: passkeyEnrolmentJson(details), reason: "enrolled" }, new Date(0));
    expect(passkeyEnrolmentOf(event)).toEqual({ ok: true, enrolment: details, subject: "pk_1" });
    const removed = auditLedgerEvent({ action: "passkey.removed", subject_id: "pk_1", actor: "rvw_1", details: { reviewer: "rvw_1" }, reason: "removed" }, new Date(0));
    expect(passkeyEnrolmentOf(removed)).toMatchObject({ ok: false, problem: expect.stringMatching(/passkey.removed/) });
    expect(passkeyEnrolmentOf({ ...event, tool_args: { ...event.tool_args, alg: "-7" } })).toMatchObject({ ok: false });
    expect(passkeyEnrolmentOf({ ...event, tool_name: "stripe_refund" })).toMatchObject({ ok: false });
  });
});

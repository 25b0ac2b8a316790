import { describe, expect, it } from "vitest";
import { auditLedgerEvent, auditRecordOf, type AuditRecord } from "../../src/ledger/core/audit-event.js";
import { eventHash } from "../../src/ledger/core/event-hash.js";
import { eventTypeOfUuid } from "../../src/ledger/core/event-uuid.js";
import { canonicalJson, sha256Hex } from "../../src/tokens/canonical-json.js";
import { eventHashOf, toCamelCaseKeys, type SdkEventFields } from "../helpers/ledgix-ledger-primitives.js";

const record: AuditRecord = {
  action: "passkey.enrolled",
  subject_id: "pk_0123",
  actor: "rvw_alice",
  details: { reviewer: "rvw_alice", credential: "AbC-_1", key: "pQECAyYgASFY", alg: -7, nested: [{ deep: "x" }] },
  reason: "Alice enrolled a passkey",
};

/** The event as a Ledgix SDK re-hashes it: every key inside tool_args and evidence_chunks camelCased (§4.12 item 1). */
function sdkHash(e: ReturnType<typeof auditLedgerEvent>): string {
  const fields: SdkEventFields = {
    eventUuid: e.event_uuid,
    requestId: e.request_id,
    agentId: e.agent_id,
    policyId: e.policy_id,
    intentHash: e.intent_hash,
    toolName: e.tool_name,
    toolArgs: toCamelCaseKeys(e.tool_args) as Record<string, unknown>,
    reason: e.reason,
    citations: [],
    evidenceChunks: toCamelCaseKeys(e.evidence_chunks) as Record<string, unknown>[],
    confidence: e.confidence,
    approved: e.approved,
    confidenceBucket: e.confidence_bucket ?? null,
    decisionStatus: e.decision_status ?? null,
    acceptedAt: e.accepted_at,
    canonicalVersion: e.canonical_version,
  };
  return eventHashOf(fields);
}

describe("vault.audit events", () => {
  it("carry type code 14 in the uuid, the subject as request_id and commit to the details", () => {
    const e = auditLedgerEvent(record, new Date("2026-12-06T00:00:00.000Z"));
    expect(eventTypeOfUuid(e.event_uuid)).toBe("vault.audit");
    expect(e.request_id).toBe("pk_0123");
    expect(e.agent_id).toBe("rvw_alice");
    expect(e.tool_name).toBe("audit:passkey.enrolled");
    expect(e.intent_hash).toBe(sha256Hex(canonicalJson(record.details)));
    expect(e.approved).toBe(false);
    expect(auditRecordOf(e)).toEqual(record);
  });

  it("hash the same for a Ledgix SDK, which camelCases keys before hashing", () => {
    const e = auditLedgerEvent(record, new Date());
    expect(sdkHash(e)).toBe(eventHash(e));
  });

  it("refuse detail keys an SDK would rewrite, at any depth", () => {
    expect(() => auditLedgerEvent({ ...record, details: { credential_id: "x" } }, new Date())).toThrow(/credential_id/);
    expect(() => auditLedgerEvent({ ...record, details: { a: [{ publicKey: 1 }] } }, new Date())).toThrow(/publicKey/);
    expect(() => auditLedgerEvent({ ...record, subject_id: "" }, new Date())).toThrow(/subject/);
  });

  it("read back only when the layout is whole", () => {
    const e = auditLedgerEvent(record, new Date());
    expect(auditRecordOf({ ...e, tool_name: "audit:made.up" })).toBeUndefined();
    expect(auditRecordOf({ ...e, tool_name: "transfer" })).toBeUndefined();
    expect(auditRecordOf({ ...e, evidence_chunks: [] })).toBeUndefined();
    expect(auditRecordOf({ ...e, evidence_chunks: [{ type: "audit", action: "grant.created", subject: "pk_0123" }] })).toBeUndefined();
    expect(auditRecordOf({ ...e, request_id: "pk_other" })).toBeUndefined();
  });
});

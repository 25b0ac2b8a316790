import { canonicalJson, sha256Hex } from "../../tokens/canonical-json.js";
// The vault builds events here: make sure the core hashes with node:crypto (see node-crypto.ts).
import "./node-crypto.js";
import { AUDIT_ACTIONS, AUDIT_TOOL_PREFIX, type AuditRecord } from "./audit-record.js";
import type { LedgerEvent } from "./event-hash.js";
import { eventUuidFor } from "./event-uuid.js";

export { AUDIT_ACTIONS, auditRecordOf, type AuditAction, type AuditRecord } from "./audit-record.js";

/**
 * The ledger event of an audit record (layout in audit-record.ts). Not an approval: approved false,
 * no decision, bucket "none". intent_hash commits to the details as the A-JWT's tool_args_hash
 * commits to a request's arguments (SHA-256 of the canonical JSON), so the layout is the request
 * events' own and every verifier hashes it unchanged.
 */
export function auditLedgerEvent(rec: AuditRecord, acceptedAt: Date): LedgerEvent {
  if (!(AUDIT_ACTIONS as readonly string[]).includes(rec.action)) throw new Error(`unknown audit action ${rec.action}`);
  if (rec.subject_id === "") throw new Error("an audit event needs a subject");
  const badKey = keyOutsideSdkAlphabet(rec.details);
  if (badKey !== undefined) throw new Error(`audit detail key ${JSON.stringify(badKey)} is not one lowercase word`);
  return {
    event_uuid: eventUuidFor("vault.audit"),
    request_id: rec.subject_id,
    agent_id: rec.actor,
    policy_id: rec.policy_id ?? "",
    intent_hash: sha256Hex(canonicalJson(rec.details)),
    tool_name: `${AUDIT_TOOL_PREFIX}${rec.action}`,
    tool_args: rec.details,
    reason: rec.reason,
    citations: [],
    evidence_chunks: [{ type: "audit", action: rec.action, subject: rec.subject_id }],
    confidence: 0,
    approved: false,
    accepted_at: acceptedAt.toISOString(),
    canonical_version: 2,
    confidence_bucket: "none",
    decision_status: null,
  };
}

/**
 * Ledgix SDKs camelCase every key inside tool_args before re-hashing an event (wire protocol §4.12
 * item 1), so a key such as "credential_id" would fail their check. Detail keys are therefore one
 * lowercase word, like the request events' evidence chunks (ledger-event.ts agentIdentityChunk).
 */
function keyOutsideSdkAlphabet(value: unknown): string | undefined {
  if (value === null || typeof value !== "object") return undefined;
  if (Array.isArray(value)) {
    for (const v of value) {
      const bad = keyOutsideSdkAlphabet(v);
      if (bad !== undefined) return bad;
    }
    return undefined;
  }
  for (const [k, v] of Object.entries(value)) {
    if (!/^[a-z0-9]+$/.test(k)) return k;
    const bad = keyOutsideSdkAlphabet(v);
    if (bad !== undefined) return bad;
  }
  return undefined;
}

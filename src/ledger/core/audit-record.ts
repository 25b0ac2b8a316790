import type { JsonObject } from "./event-hash.js";

/**
 * The `vault.audit` ledger event (type code 14, wire.ts): one event type for every fact that is not
 * a clearance request's own (a passkey enrolled, a grant created or revoked, a policy's mode changed,
 * a replay run). Only two of the sixteen type codes signed into event_uuid were left, so the action
 * is named inside the event rather than by a new type. Pure, for verifiers: they read an audit
 * event back with auditRecordOf; the vault builds one with audit-event.ts.
 *
 * Layout of the hashed fields (so every Ledgix verifier hashes it unchanged):
 *   request_id = subject_id (the object the event is about), agent_id = actor, policy_id,
 *   tool_name = "audit:<action>", tool_args = details, evidence_chunks = [{type: "audit", action, subject}].
 */

/** Append only: a verifier reads old events with the actions they were written with. */
export const AUDIT_ACTIONS = [
  "passkey.enrolled",
  "passkey.removed",
  "grant.created",
  "grant.revoked",
  "policy.mode_changed",
  "tenant.mode_changed",
  "policy.replayed",
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditRecord {
  action: AuditAction;
  /** The object the event is about (pk_…, grt_…, a policy id, rpl_…, "tenant"): the event's request_id. */
  subject_id: string;
  /** Who did it (a reviewer id, an API key id): the event's agent_id. */
  actor: string;
  /** The policy concerned, if any: the event's policy_id ("" when none). */
  policy_id?: string;
  /** What changed, as committed: the event's tool_args. */
  details: JsonObject;
  /** One human sentence: the event's reason. */
  reason: string;
}

export const AUDIT_TOOL_PREFIX = "audit:";

const isAction = (s: unknown): s is AuditAction => typeof s === "string" && (AUDIT_ACTIONS as readonly string[]).includes(s);

/**
 * The audit record an event carries, or undefined when it is not a well-formed audit event (the
 * caller checks the type code of its event_uuid first: the layout alone proves nothing).
 */
export function auditRecordOf(event: {
  request_id: string;
  agent_id: string;
  policy_id: string;
  tool_name: string;
  tool_args: JsonObject;
  reason: string;
  evidence_chunks: readonly JsonObject[];
}): AuditRecord | undefined {
  if (!event.tool_name.startsWith(AUDIT_TOOL_PREFIX)) return undefined;
  const action = event.tool_name.slice(AUDIT_TOOL_PREFIX.length);
  const chunk = event.evidence_chunks[0];
  if (!isAction(action) || !chunk || chunk.type !== "audit" || chunk.action !== action || chunk.subject !== event.request_id) return undefined;
  return {
    action,
    subject_id: event.request_id,
    actor: event.agent_id,
    ...(event.policy_id ? { policy_id: event.policy_id } : {}),
    details: event.tool_args,
    reason: event.reason,
  };
}

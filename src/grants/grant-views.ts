import { describeConstraint } from "./describe-constraint.js";
import type { Grant } from "./grant-store.js";

/** What the Grants API, the CLI and the console show of a grant. */
export function grantView(g: Grant, now: Date) {
  const status = g.revoked_at ? "revoked" : g.expires_at <= now ? "expired" : "active";
  return {
    id: g.id,
    status,
    scope: g.scope,
    tool_name: g.tool_name,
    policy_id: g.policy_id,
    agent_id: g.agent_id,
    api_key_id: g.api_key_id,
    agent_signer: g.agent_signer,
    session_id: g.session_id,
    window_minutes: g.window_minutes,
    constraint: g.arg_constraint,
    constraint_words: g.arg_constraint === null ? "any arguments" : describeConstraint(g.arg_constraint),
    starts_at: g.starts_at.toISOString(),
    expires_at: g.expires_at.toISOString(),
    source_request_id: g.source_request_id,
    approvers: g.approvers.map((a) => ({ reviewer_id: a.reviewer_id, reviewer_name: a.reviewer_name, reviewer_email: a.reviewer_email, groups: a.groups, passkey: a.passkey })),
    created_at: g.created_at.toISOString(),
    created_event_uuid: g.created_event_uuid,
    revoked_at: g.revoked_at ? g.revoked_at.toISOString() : null,
    revoked_by: g.revoked_by,
    revoke_reason: g.revoke_reason,
    revoked_event_uuid: g.revoked_event_uuid,
  };
}
export type GrantView = ReturnType<typeof grantView>;

/** The keyset cursor of a listing page: created_at and id of its last grant. */
export function grantCursor(g: Grant): string {
  return Buffer.from(JSON.stringify([g.created_at.toISOString(), g.id])).toString("base64url");
}

/** Date.toISOString() of a year from 1970 to 9999: the only times a cursor holds. */
const CURSOR_TIME = /^(19[7-9]\d|[2-9]\d{3})-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const CURSOR_ID = /^[\x21-\x7e]{1,128}$/;

export function parseGrantCursor(cursor: string): { created_at: Date; id: string } | undefined {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown[];
    // Exactly what grantCursor wrote: a JavaScript date PostgreSQL cannot hold (year -100000, year 0,
    // +200000) would otherwise reach the query and fail there, as a 500.
    if (typeof at !== "string" || !CURSOR_TIME.test(at) || typeof id !== "string" || !CURSOR_ID.test(id)) return undefined;
    const created = new Date(at);
    if (Number.isNaN(created.getTime()) || created.toISOString() !== at) return undefined;
    return { created_at: created, id };
  } catch {
    return undefined;
  }
}

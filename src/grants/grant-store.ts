import type { Sql } from "../db/sql.js";

/**
 * The one owner of the `grants` table (migrations/tenant/0014_grants.sql). Everything that reads or
 * writes a grant goes through here; matching reads it on every candidate request, with no cache, so
 * a revoke that committed stops the grant for every request judged after it.
 */

/** One approving vote behind a grant, as it is checked against a later request's review rules. */
export interface GrantApprover {
  reviewer_id: string;
  reviewer_name: string;
  reviewer_email: string;
  groups: string[];
  api_key_id: string;
  /** Whether the vote carried a verified passkey assertion. */
  passkey: boolean;
}

export interface Grant {
  id: string;
  scope: "session" | "window";
  tool_name: string;
  policy_id: string;
  agent_id: string;
  /** The API key that submitted the approved request; later requests must come through it too. */
  api_key_id: string;
  /** The verified Sigilum signer of the approved request (`namespace/subject`), or null when it was unsigned. */
  agent_signer: string | null;
  session_id: string | null;
  window_minutes: number | null;
  arg_constraint: string | null;
  starts_at: Date;
  expires_at: Date;
  source_request_id: string;
  approvers: GrantApprover[];
  created_at: Date;
  created_event_uuid: string;
  revoked_at: Date | null;
  revoked_by: string | null;
  revoke_reason: string | null;
  revoked_event_uuid: string | null;
}

export type NewGrant = Omit<Grant, "revoked_at" | "revoked_by" | "revoke_reason" | "revoked_event_uuid">;

const COLUMNS = [
  "id", "scope", "tool_name", "policy_id", "agent_id", "api_key_id", "agent_signer", "session_id", "window_minutes", "arg_constraint", "starts_at", "expires_at",
  "source_request_id", "approvers", "created_at", "created_event_uuid",
] as const;

export async function insertGrant(tx: Sql, g: NewGrant): Promise<void> {
  const values = COLUMNS.map((c) => (c === "approvers" ? JSON.stringify(g.approvers) : g[c]));
  await tx.query(`INSERT INTO grants (${COLUMNS.join(", ")}) VALUES (${COLUMNS.map((_, i) => `$${i + 1}`).join(", ")})`, values);
}

/**
 * The grants that could approve a request of this tool, policy and agent at `now`: active (not
 * revoked, started, not expired), and for session grants the same session. Oldest first, so the
 * grant named is the same on every replica. One indexed query (grants_match).
 */
export async function candidateGrants(
  sql: Sql,
  q: { tool: string; policyId: string; agentId: string; apiKeyId: string; agentSigner: string | null; sessionId: string; now: Date },
): Promise<Grant[]> {
  return sql.query<Grant>(
    `SELECT * FROM grants
      WHERE tool_name = $1 AND agent_id = $2 AND api_key_id = $6 AND policy_id = $3 AND revoked_at IS NULL AND starts_at <= $4 AND expires_at > $4
        AND (scope = 'window' OR (scope = 'session' AND session_id = $5 AND $5 <> ''))
        AND agent_signer IS NOT DISTINCT FROM $7
      ORDER BY created_at, id LIMIT 20`,
    [q.tool, q.agentId, q.policyId, q.now, q.sessionId, q.apiKeyId, q.agentSigner],
  );
}

/**
 * Inside the transaction that records an approval by this grant: the grant, share-locked, if it is
 * still active at `now`. A revoke (an UPDATE of the row) either committed before, and this sees it,
 * or waits for this approval to commit: no request is approved by a grant revoked before its commit.
 */
export async function holdActiveGrant(tx: Sql, id: string, now: Date): Promise<boolean> {
  const rows = await tx.query(`SELECT id FROM grants WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2 FOR SHARE`, [id, now]);
  return rows.length === 1;
}

export async function getGrant(sql: Sql, id: string): Promise<Grant | undefined> {
  return (await sql.query<Grant>("SELECT * FROM grants WHERE id = $1", [id]))[0];
}

export async function grantOfRequest(sql: Sql, requestId: string): Promise<Grant | undefined> {
  return (await sql.query<Grant>("SELECT * FROM grants WHERE source_request_id = $1", [requestId]))[0];
}

/** Newest first, keyset-paginated on (created_at, id). `active`: not revoked and not expired at `now`. */
export async function listGrants(sql: Sql, q: { active: boolean; now: Date; limit: number; after?: { created_at: Date; id: string } }): Promise<Grant[]> {
  const where = [q.active ? "revoked_at IS NULL AND expires_at > $1" : "$1::timestamptz IS NOT NULL"];
  const params: unknown[] = [q.now, q.limit];
  if (q.after) {
    params.push(q.after.created_at, q.after.id);
    where.push("(created_at, id) < ($3, $4)");
  }
  return sql.query<Grant>(`SELECT * FROM grants WHERE ${where.join(" AND ")} ORDER BY created_at DESC, id DESC LIMIT $2`, params);
}

/** Marks a grant revoked, once. Undefined when it does not exist or was revoked already. */
export async function markRevoked(tx: Sql, id: string, by: { actor: string; reason: string; at: Date; eventUuid: string }): Promise<Grant | undefined> {
  const rows = await tx.query<Grant>(
    `UPDATE grants SET revoked_at = $2, revoked_by = $3, revoke_reason = $4, revoked_event_uuid = $5 WHERE id = $1 AND revoked_at IS NULL RETURNING *`,
    [id, by.at, by.actor, by.reason, by.eventUuid],
  );
  return rows[0];
}

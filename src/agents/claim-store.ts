import { randomBytes } from "node:crypto";
import type { Sql } from "../db/sql.js";

/**
 * The one owner of `agent_claims` (migrations/tenant/0011_agent_identity.sql): a claim is an agent
 * key's request for one protected service, in one namespace. pending → approved | rejected, and
 * approved → revoked; the last two are final, and at most one claim of a (namespace, service, key)
 * is pending or approved at a time (a partial unique index), so a resubmission after a refusal is a
 * new row and the history stays.
 */
export type ClaimStatus = "pending" | "approved" | "rejected" | "revoked";

export interface AgentClaim {
  claim_id: string;
  namespace: string;
  service: string;
  public_key: string;
  status: ClaimStatus;
  subject: string;
  agent_id: string | null;
  agent_name: string | null;
  agent_ip: string;
  /** The clearance request (kind agent_claim) it is reviewed as; null when a limit refused it at once. */
  request_id: string | null;
  approved_at: Date | null;
  decided_at: Date | null;
  revoked_at: Date | null;
  reason: string | null;
  created_at: Date;
}

/** Sigilum's form: "cl_" and 24 hex digits. */
export const newClaimId = () => `cl_${randomBytes(12).toString("hex")}`;

const columns = [
  "claim_id", "namespace", "service", "public_key", "status", "subject", "agent_id", "agent_name", "agent_ip", "request_id",
  "approved_at", "decided_at", "revoked_at", "reason", "created_at",
] as const;

/**
 * Inserts the claim unless its (namespace, service, key) already has a pending or approved one; false
 * then. ON CONFLICT rather than an error, because the insert runs in a group-committed batch that a
 * failed statement would abort for every unit.
 */
export async function insertClaim(tx: Sql, c: AgentClaim): Promise<boolean> {
  const rows = await tx.query(
    `INSERT INTO agent_claims (${columns.join(", ")}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(", ")})
     ON CONFLICT (namespace, service, public_key) WHERE status IN ('pending', 'approved') DO NOTHING RETURNING claim_id`,
    columns.map((k) => c[k]),
  );
  return rows.length === 1;
}

export async function getClaim(sql: Sql, claimId: string): Promise<AgentClaim | undefined> {
  return (await sql.query<AgentClaim>("SELECT * FROM agent_claims WHERE claim_id = $1", [claimId]))[0];
}

/** The claim a review request stands for. */
export async function claimOfRequest(sql: Sql, requestId: string): Promise<AgentClaim | undefined> {
  return (await sql.query<AgentClaim>("SELECT * FROM agent_claims WHERE request_id = $1", [requestId]))[0];
}

/** The pending or approved claim of a (namespace, service, key), if any. */
export async function activeClaim(sql: Sql, namespace: string, service: string, publicKey: string): Promise<AgentClaim | undefined> {
  const rows = await sql.query<AgentClaim>(
    "SELECT * FROM agent_claims WHERE namespace = $1 AND service = $2 AND public_key = $3 AND status IN ('pending', 'approved')",
    [namespace, service, publicKey],
  );
  return rows[0];
}

/** The newest claim of a (namespace, service, key): what /v1/verify answers about. */
export async function latestClaim(sql: Sql, namespace: string, service: string, publicKey: string): Promise<AgentClaim | undefined> {
  const rows = await sql.query<AgentClaim>(
    `SELECT * FROM agent_claims WHERE namespace = $1 AND service = $2 AND public_key = $3
      ORDER BY (status IN ('pending', 'approved')) DESC, created_at DESC, claim_id DESC LIMIT 1`,
    [namespace, service, publicKey],
  );
  return rows[0];
}

/** Every approved claim of one key in its namespace, oldest approval first. */
export async function approvedClaimsOfKey(sql: Sql, namespace: string, publicKey: string): Promise<AgentClaim[]> {
  return sql.query<AgentClaim>(
    "SELECT * FROM agent_claims WHERE namespace = $1 AND public_key = $2 AND status = 'approved' ORDER BY approved_at, claim_id",
    [namespace, publicKey],
  );
}

/** What the submission limits count (reference §7): approved agents of the service, connected services and pending claims of the namespace. */
export async function claimCounts(sql: Sql, namespace: string, service: string): Promise<{ approvedForService: number; connectedServices: number; pending: number }> {
  const [row] = await sql.query<{ approved: number; services: number; pending: number }>(
    `SELECT count(*) FILTER (WHERE status = 'approved' AND service = $2)::int AS approved,
            count(DISTINCT service) FILTER (WHERE status = 'approved')::int AS services,
            count(*) FILTER (WHERE status = 'pending')::int AS pending
       FROM agent_claims WHERE namespace = $1`,
    [namespace, service],
  );
  return { approvedForService: Number(row?.approved ?? 0), connectedServices: Number(row?.services ?? 0), pending: Number(row?.pending ?? 0) };
}

/**
 * The refusal of the claim's review request (a rejection, expiry or cancellation), in the transaction
 * that decided it, with why. Only from pending, so a decision cannot be applied twice.
 */
export async function rejectClaim(tx: Sql, requestId: string, outcome: { at: Date; reason: string }): Promise<AgentClaim | undefined> {
  const rows = await tx.query<AgentClaim>(
    "UPDATE agent_claims SET status = 'rejected', decided_at = $2, reason = $3 WHERE request_id = $1 AND status = 'pending' RETURNING *",
    [requestId, outcome.at, outcome.reason],
  );
  return rows[0];
}

/**
 * A pending claim approved in one statement that also checks the limits (reference §7), so two
 * approvals running in one transaction (a group-committed batch) cannot both pass one count: the
 * second statement sees the first's row. Undefined when the claim is not pending or a limit is full.
 */
export async function approveClaimWithinLimits(
  tx: Sql,
  requestId: string,
  outcome: { at: Date; reason: string },
  limits: { agentsPerService: number; servicesPerNamespace: number },
): Promise<AgentClaim | undefined> {
  const rows = await tx.query<AgentClaim>(
    `UPDATE agent_claims c SET status = 'approved', decided_at = $2, approved_at = $2, reason = $3
      WHERE c.request_id = $1 AND c.status = 'pending'
        AND (SELECT count(*) FROM agent_claims a WHERE a.namespace = c.namespace AND a.service = c.service AND a.status = 'approved') < $4
        AND (EXISTS (SELECT 1 FROM agent_claims a WHERE a.namespace = c.namespace AND a.service = c.service AND a.status = 'approved')
             OR (SELECT count(DISTINCT a.service) FROM agent_claims a WHERE a.namespace = c.namespace AND a.status = 'approved') < $5)
      RETURNING *`,
    [requestId, outcome.at, outcome.reason, limits.agentsPerService, limits.servicesPerNamespace],
  );
  return rows[0];
}

/** An approved claim revoked; undefined when it is not (or no longer) approved. */
export async function revokeClaim(tx: Sql, claimId: string, at: Date, reason: string): Promise<AgentClaim | undefined> {
  const rows = await tx.query<AgentClaim>(
    "UPDATE agent_claims SET status = 'revoked', revoked_at = $2, reason = $3 WHERE claim_id = $1 AND status = 'approved' RETURNING *",
    [claimId, at, reason],
  );
  return rows[0];
}

/** A service's approved claims, a page at a time, oldest approval first, with the total. */
export async function approvedClaimsOfService(sql: Sql, service: string, page: { limit: number; offset: number }): Promise<{ claims: AgentClaim[]; total: number }> {
  const claims = await sql.query<AgentClaim>(
    "SELECT * FROM agent_claims WHERE service = $1 AND status = 'approved' ORDER BY approved_at, claim_id LIMIT $2 OFFSET $3",
    [service, page.limit, page.offset],
  );
  const [count] = await sql.query<{ n: number }>("SELECT count(*)::int AS n FROM agent_claims WHERE service = $1 AND status = 'approved'", [service]);
  return { claims, total: Number(count?.n ?? 0) };
}

/** The console's listing: newest first, optionally of one status. */
export async function listClaims(sql: Sql, filter: { status?: ClaimStatus; limit: number }): Promise<AgentClaim[]> {
  return sql.query<AgentClaim>(
    "SELECT * FROM agent_claims WHERE ($1::text IS NULL OR status = $1) ORDER BY created_at DESC, claim_id DESC LIMIT $2",
    [filter.status ?? null, filter.limit],
  );
}

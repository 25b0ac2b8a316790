import type { Sql } from "../../db/sql.js";
import { ledgerInsertFromSql, type PreparedLedgerEvent } from "../../ledger/store/ledger-writer.js";
import type { ClearanceRequest, ClearanceStatus, DecisionFields } from "../clearance-request.js";
import type { IssuedToken } from "./token-store.js";

/**
 * The one owner of the `clearance_requests` table: every read and write of it is here, and only the
 * lifecycle (../lifecycle.ts) and its readers call it. Rows leave as ClearanceRequest; the columns
 * only storage needs (leases, attempts, reminder marks) stay here.
 */
/** A stored row; exported to the other store files only. */
export interface ClearanceRow extends ClearanceRequest {
  attempts: number;
  lease_owner: string | null;
  lease_expires_at: Date | null;
  reminded_at: Date | null;
  escalated_at: Date | null;
}

/** A request not yet stored. */
export type NewClearanceRequest = ClearanceRequest;

const columns = [
  "id", "kind", "idempotency_key", "body_hash", "api_key_id", "tool_name", "tool_args", "tool_args_hash", "agent_id",
  "session_id", "human_principal", "parent_jti", "context", "extras", "status", "decision_status", "reason", "reason_code",
  "confidence_bucket", "policy_id", "policy_version_id", "policy_content_hash", "applied_policies", "matched_condition_ids",
  "minimum_confidence_bucket", "citations", "evidence_chunks", "judge_trace", "original_request_id", "created_at", "decided_at",
  "review_rules", "expires_at", "agent_identity", "approved_tool_args", "approved_tool_args_hash", "grant_id",
] as const;
const jsonColumns = new Set(["tool_args", "context", "extras", "applied_policies", "citations", "evidence_chunks", "judge_trace", "review_rules", "agent_identity", "approved_tool_args"]);
const insertSql = `INSERT INTO clearance_requests (${columns.join(", ")}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(", ")})
  ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`;

// JSON columns get their text (null, or an absent agent_identity, stays SQL NULL); the rest go as they are.
const rowValues = (row: NewClearanceRequest) => columns.map((c) => (jsonColumns.has(c) && row[c] != null ? JSON.stringify(row[c]) : (row[c] ?? null)));

const n = columns.length;

/** The domain view of a stored row: storage-only columns are dropped. */
export function toRequest(row: ClearanceRow): ClearanceRequest {
  const { attempts: _a, lease_owner: _o, lease_expires_at: _e, reminded_at: _r, escalated_at: _s, ...request } = row;
  return request;
}
const first = (rows: ClearanceRow[]): ClearanceRequest | undefined => (rows[0] ? toRequest(rows[0]) : undefined);
const insertWithLedgerSql = `WITH r AS (${insertSql})
  ${ledgerInsertFromSql(n, "r")} RETURNING request_id`;

/**
 * Inserts a request; returns false when another request already holds its Idempotency-Key. A
 * decided request comes with its ledger event, written by the same statement.
 */
export async function insertRequest(sql: Sql, row: NewClearanceRequest, ledger?: PreparedLedgerEvent): Promise<boolean> {
  if (!ledger) return (await sql.query(insertSql, rowValues(row))).length === 1;
  return (await sql.query(insertWithLedgerSql, [...rowValues(row), ...ledger.values])).length === 1;
}

const insertWithTokenSql = `WITH r AS (${insertSql}),
  t AS (INSERT INTO issued_tokens (jti, request_id, kid, claims, issued_at, expires_at)
        SELECT $${n + 1}, r.id, $${n + 2}, $${n + 3}, $${n + 4}, $${n + 5} FROM r RETURNING jti)
  ${ledgerInsertFromSql(n + 5, "t")} RETURNING request_id`;

/**
 * An approved request, its token and its ledger event in ONE statement: one round trip and one
 * commit on the hot path, and atomic like a transaction. False when the Idempotency-Key is taken.
 */
export async function insertRequestWithToken(
  sql: Sql,
  row: NewClearanceRequest,
  token: Omit<IssuedToken, "consumed_at" | "consumed_by">,
  ledger: PreparedLedgerEvent,
): Promise<boolean> {
  const values = [...rowValues(row), token.jti, token.kid, token.claims, token.issued_at, token.expires_at, ...ledger.values];
  return (await sql.query(insertWithTokenSql, values)).length === 1;
}

export async function getRequest(sql: Sql, id: string): Promise<ClearanceRequest | undefined> {
  return first(await sql.query<ClearanceRow>("SELECT * FROM clearance_requests WHERE id = $1", [id]));
}

/** The request, locked until the caller's transaction ends: concurrent votes on it are counted one at a time. */
export async function lockRequest(tx: Sql, id: string): Promise<ClearanceRequest | undefined> {
  return first(await tx.query<ClearanceRow>("SELECT * FROM clearance_requests WHERE id = $1 FOR UPDATE", [id]));
}

export async function getRequestByIdempotencyKey(sql: Sql, key: string): Promise<ClearanceRequest | undefined> {
  return first(await sql.query<ClearanceRow>("SELECT * FROM clearance_requests WHERE idempotency_key = $1", [key]));
}

/**
 * The request with the default decision of the policy version that judged it (the console warns
 * when it approves): one query, and exact even after the policy changed.
 */
export async function getRequestWithPolicyDefault(sql: Sql, id: string): Promise<(ClearanceRequest & { policy_default_decision: string | null }) | undefined> {
  const [row] = await sql.query<ClearanceRow & { policy_default_decision: string | null }>(
    `SELECT r.*, v.content::jsonb ->> 'default_decision' AS policy_default_decision
       FROM clearance_requests r LEFT JOIN policy_versions v ON v.id = r.policy_version_id WHERE r.id = $1`,
    [id],
  );
  return row ? { ...toRequest(row), policy_default_decision: row.policy_default_decision ?? null } : undefined;
}

/**
 * Moves a request to its decision, only from one of the expected states. Returns undefined when
 * another worker, process or reviewer got there first: exactly one decision wins.
 */
export async function applyDecision(
  sql: Sql,
  id: string,
  from: readonly ClearanceStatus[],
  d: DecisionFields,
  decidedAt: Date,
): Promise<ClearanceRequest | undefined> {
  const rows = await sql.query<ClearanceRow>(
    `UPDATE clearance_requests SET status = $3, decision_status = $4, reason = $5, reason_code = $6, confidence_bucket = $7,
       policy_id = $8, policy_version_id = $9, policy_content_hash = $10, applied_policies = $11, matched_condition_ids = $12,
       decided_at = $13, minimum_confidence_bucket = $14, citations = $15, evidence_chunks = $16, judge_trace = $17,
       review_rules = $18, expires_at = $19, grant_id = $20
     WHERE id = $1 AND status = ANY($2) RETURNING *`,
    [
      id, from, d.status, d.decision_status, d.reason, d.reason_code, d.confidence_bucket, d.policy_id, d.policy_version_id,
      d.policy_content_hash, JSON.stringify(d.applied_policies), d.matched_condition_ids, decidedAt, d.minimum_confidence_bucket,
      JSON.stringify(d.citations), JSON.stringify(d.evidence_chunks), JSON.stringify(d.judge_trace),
      d.review_rules === null ? null : JSON.stringify(d.review_rules), d.expires_at, d.grant_id ?? null,
    ],
  );
  return first(rows);
}

/**
 * Edit-on-approve: the arguments an approval is for instead of the requested ones, set in the
 * approval's transaction before its token is issued (the token binds `hash`).
 */
export async function setApprovedArgs(tx: Sql, id: string, args: Record<string, unknown>, hash: string): Promise<ClearanceRequest | undefined> {
  return first(
    await tx.query<ClearanceRow>("UPDATE clearance_requests SET approved_tool_args = $2, approved_tool_args_hash = $3 WHERE id = $1 RETURNING *", [id, JSON.stringify(args), hash]),
  );
}

export async function countAttempt(sql: Sql, id: string): Promise<number> {
  const rows = await sql.query<{ attempts: number }>("UPDATE clearance_requests SET attempts = attempts + 1 WHERE id = $1 RETURNING attempts", [id]);
  return rows[0]?.attempts ?? 0;
}

/**
 * Who holds an unfinished request, and for how long (see migrations/tenant/0006_clearance_leases.sql).
 * Expiry is computed in database time (now()), so vault processes with skewed clocks agree on it.
 */
export interface Lease {
  /** This vault process instance (host, pid and a random part, so a restarted process is a new owner). */
  owner: string;
  seconds: number;
}

// `now() + seconds`: NULL seconds give a NULL expiry (an unheld row).
const leaseExpiry = (param: string) => `now() + ${param}::float8 * interval '1 second'`;

const insertLeasedSql = `INSERT INTO clearance_requests (${columns.join(", ")}, lease_owner, lease_expires_at)
  VALUES (${columns.map((_, i) => `$${i + 1}`).join(", ")}, $${n + 1}, ${leaseExpiry(`$${n + 2}`)})
  ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`;

/**
 * Inserts an undecided request already leased to this process, so no other live process takes it
 * while this one has it queued; if this process dies, the lease lapses and any other may claim it.
 * False when another request already holds its Idempotency-Key.
 */
export async function insertLeasedRequest(sql: Sql, row: NewClearanceRequest, lease: Lease): Promise<boolean> {
  return (await sql.query(insertLeasedSql, [...rowValues(row), lease.owner, lease.seconds])).length === 1;
}

/**
 * Takes (or keeps) the lease on one undecided request before judging it: succeeds when this process
 * already holds it or nobody does (unheld or lapsed). Returns the row, or undefined when it is
 * decided or another live process holds it.
 */
export async function claimRequest(sql: Sql, id: string, lease: Lease): Promise<ClearanceRequest | undefined> {
  const rows = await sql.query<ClearanceRow>(
    `UPDATE clearance_requests SET lease_owner = $2, lease_expires_at = ${leaseExpiry("$3")}
     WHERE id = $1 AND status = 'processing'
       AND (lease_owner = $2 OR lease_owner = '${QUEUED_LEASE_OWNER}' OR lease_expires_at IS NULL OR lease_expires_at < now())
     RETURNING *`,
    [id, lease.owner, lease.seconds],
  );
  return first(rows);
}

/**
 * The owner of a request published to a shared queue (SQS) and not yet claimed: any process that
 * receives its message may claim it at once; a sweeper takes it over only once this lease lapses
 * (the message was lost, or the process died between the commit and the send).
 */
export const QUEUED_LEASE_OWNER = "queue";


/**
 * Claims up to `limit` undecided requests whose lease lapsed (their process died) or that nobody
 * holds, oldest first. SKIP LOCKED lets several processes sweep at once without waiting on each
 * other or claiming the same row twice. The pick is a CTE, which runs once: as `id IN (SELECT ...
 * LIMIT n)` the planner may rescan the subquery per row and claim far more than `limit`.
 */
export async function claimExpired(sql: Sql, lease: Lease, limit: number): Promise<string[]> {
  const rows = await sql.query<{ id: string }>(
    `WITH picked AS (
       SELECT id FROM clearance_requests
       WHERE status = 'processing' AND (lease_expires_at IS NULL OR lease_expires_at < now())
       ORDER BY created_at LIMIT $3
       FOR UPDATE SKIP LOCKED)
     UPDATE clearance_requests c SET lease_owner = $1, lease_expires_at = ${leaseExpiry("$2")}
     FROM picked WHERE c.id = picked.id
     RETURNING c.id`,
    [lease.owner, lease.seconds, limit],
  );
  return rows.map((r) => r.id);
}

/** Extends this process's leases on the given requests; returns the ids it still holds undecided. */
export async function renewLeases(sql: Sql, ids: readonly string[], lease: Lease): Promise<string[]> {
  const rows = await sql.query<{ id: string }>(
    `UPDATE clearance_requests SET lease_expires_at = ${leaseExpiry("$3")}
     WHERE id = ANY($1) AND lease_owner = $2 AND status = 'processing' RETURNING id`,
    [ids, lease.owner, lease.seconds],
  );
  return rows.map((r) => r.id);
}

/** Gives up this process's leases (clean shutdown), so a peer or the next start takes them at once. */
export async function releaseLeases(sql: Sql, ids: readonly string[], owner: string): Promise<void> {
  await sql.query(
    "UPDATE clearance_requests SET lease_owner = NULL, lease_expires_at = NULL WHERE id = ANY($1) AND lease_owner = $2 AND status = 'processing'",
    [ids, owner],
  );
}

/** Pending reviews past their expiry, oldest first. */
export async function expiredReviewIds(sql: Sql, now: Date, limit: number): Promise<string[]> {
  const rows = await sql.query<{ id: string }>(
    "SELECT id FROM clearance_requests WHERE status = 'pending_review' AND expires_at <= $1 ORDER BY expires_at LIMIT $2",
    [now, limit],
  );
  return rows.map((r) => r.id);
}

/**
 * Marks up to `limit` pending requests whose rules' reminder (or escalation) time has come, each at
 * most once, and returns them. SKIP LOCKED lets several vault processes sweep at once.
 */
export async function markDueReminders(
  tx: Sql,
  column: "reminded_at" | "escalated_at",
  rule: "reminder_after_seconds" | "escalate_after_seconds",
  now: Date,
  limit: number,
): Promise<ClearanceRequest[]> {
  const rows = await tx.query<ClearanceRow>(
    `UPDATE clearance_requests SET ${column} = $1
      WHERE id IN (SELECT id FROM clearance_requests
                    WHERE status = 'pending_review' AND ${column} IS NULL AND (review_rules->>'${rule}') IS NOT NULL
                      AND decided_at + make_interval(secs => (review_rules->>'${rule}')::float8) <= $1
                    ORDER BY decided_at LIMIT $2 FOR UPDATE SKIP LOCKED)
      RETURNING *`,
    [now, limit],
  );
  return rows.map(toRequest);
}

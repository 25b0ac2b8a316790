import type { Sql } from "../db/sql.js";
import type { AppliedPolicy, ConfidenceBucket, EvidenceChunk } from "../judge/judge.js";
import type { ReviewRules } from "./review-rules.js";
import { ledgerInsertFromSql, type PreparedLedgerEvent } from "../ledger/store/ledger-writer.js";
import type { IssuedToken } from "./token-store.js";

export type ClearanceStatus = "processing" | "pending_review" | "approved" | "denied";
export type DecisionStatus = "approved" | "denied" | "approved_pending_review";

export interface ClearanceRow {
  id: string;
  kind: "clearance" | "mint";
  idempotency_key: string | null;
  body_hash: string;
  api_key_id: string;
  tool_name: string;
  tool_args: Record<string, unknown>;
  tool_args_hash: string;
  agent_id: string;
  session_id: string;
  human_principal: string | null;
  parent_jti: string | null;
  context: Record<string, unknown>;
  extras: Record<string, unknown>;
  status: ClearanceStatus;
  decision_status: DecisionStatus | null;
  reason: string;
  reason_code: string | null;
  confidence_bucket: ConfidenceBucket;
  policy_id: string | null;
  policy_version_id: string | null;
  policy_content_hash: string | null;
  applied_policies: AppliedPolicy[];
  matched_condition_ids: string[];
  /** The tenant threshold in force when this decision was made. */
  minimum_confidence_bucket: ConfidenceBucket;
  citations: EvidenceChunk[];
  evidence_chunks: EvidenceChunk[];
  judge_trace: Record<string, unknown>;
  /** The review rules in force when the request went to review, and when it expires. */
  review_rules: ReviewRules | null;
  expires_at: Date | null;
  original_request_id: string | null;
  attempts: number;
  created_at: Date;
  decided_at: Date | null;
}

export type NewClearanceRow = Omit<ClearanceRow, "attempts" | "created_at" | "decided_at"> & { created_at: Date; decided_at: Date | null };

/** What a decision sets on a request: its outcome, what it rests on, and (for a review) its rules. */
export type DecisionFields = Pick<
  ClearanceRow,
  | "status" | "reason" | "reason_code" | "confidence_bucket" | "policy_id" | "policy_version_id" | "policy_content_hash"
  | "applied_policies" | "matched_condition_ids" | "minimum_confidence_bucket" | "citations" | "evidence_chunks"
  | "judge_trace" | "review_rules" | "expires_at"
> & { decision_status: DecisionStatus };

const columns = [
  "id", "kind", "idempotency_key", "body_hash", "api_key_id", "tool_name", "tool_args", "tool_args_hash", "agent_id",
  "session_id", "human_principal", "parent_jti", "context", "extras", "status", "decision_status", "reason", "reason_code",
  "confidence_bucket", "policy_id", "policy_version_id", "policy_content_hash", "applied_policies", "matched_condition_ids",
  "minimum_confidence_bucket", "citations", "evidence_chunks", "judge_trace", "original_request_id", "created_at", "decided_at",
  "review_rules", "expires_at",
] as const;
const jsonColumns = new Set(["tool_args", "context", "extras", "applied_policies", "citations", "evidence_chunks", "judge_trace", "review_rules"]);
const insertSql = `INSERT INTO clearance_requests (${columns.join(", ")}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(", ")})
  ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`;

// JSON columns get their text (null stays SQL NULL); the rest go as they are.
const rowValues = (row: NewClearanceRow) => columns.map((c) => (jsonColumns.has(c) && row[c] !== null ? JSON.stringify(row[c]) : row[c]));

const n = columns.length;
const insertWithLedgerSql = `WITH r AS (${insertSql})
  ${ledgerInsertFromSql(n, "r")} RETURNING request_id`;

/**
 * Inserts a request; returns false when another request already holds its Idempotency-Key. A
 * decided request comes with its ledger event, written by the same statement.
 */
export async function insertRequest(sql: Sql, row: NewClearanceRow, ledger?: PreparedLedgerEvent): Promise<boolean> {
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
  row: NewClearanceRow,
  token: Omit<IssuedToken, "consumed_at" | "consumed_by">,
  ledger: PreparedLedgerEvent,
): Promise<boolean> {
  const values = [...rowValues(row), token.jti, token.kid, token.claims, token.issued_at, token.expires_at, ...ledger.values];
  return (await sql.query(insertWithTokenSql, values)).length === 1;
}

export async function getRequest(sql: Sql, id: string): Promise<ClearanceRow | undefined> {
  return (await sql.query<ClearanceRow>("SELECT * FROM clearance_requests WHERE id = $1", [id]))[0];
}

export async function getRequestByIdempotencyKey(sql: Sql, key: string): Promise<ClearanceRow | undefined> {
  return (await sql.query<ClearanceRow>("SELECT * FROM clearance_requests WHERE idempotency_key = $1", [key]))[0];
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
): Promise<ClearanceRow | undefined> {
  const rows = await sql.query<ClearanceRow>(
    `UPDATE clearance_requests SET status = $3, decision_status = $4, reason = $5, reason_code = $6, confidence_bucket = $7,
       policy_id = $8, policy_version_id = $9, policy_content_hash = $10, applied_policies = $11, matched_condition_ids = $12,
       decided_at = $13, minimum_confidence_bucket = $14, citations = $15, evidence_chunks = $16, judge_trace = $17,
       review_rules = $18, expires_at = $19
     WHERE id = $1 AND status = ANY($2) RETURNING *`,
    [
      id, from, d.status, d.decision_status, d.reason, d.reason_code, d.confidence_bucket, d.policy_id, d.policy_version_id,
      d.policy_content_hash, JSON.stringify(d.applied_policies), d.matched_condition_ids, decidedAt, d.minimum_confidence_bucket,
      JSON.stringify(d.citations), JSON.stringify(d.evidence_chunks), JSON.stringify(d.judge_trace),
      d.review_rules === null ? null : JSON.stringify(d.review_rules), d.expires_at,
    ],
  );
  return rows[0];
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
export async function insertLeasedRequest(sql: Sql, row: NewClearanceRow, lease: Lease): Promise<boolean> {
  return (await sql.query(insertLeasedSql, [...rowValues(row), lease.owner, lease.seconds])).length === 1;
}

/**
 * Takes (or keeps) the lease on one undecided request before judging it: succeeds when this process
 * already holds it or nobody does (unheld or lapsed). Returns the row, or undefined when it is
 * decided or another live process holds it.
 */
export async function claimRequest(sql: Sql, id: string, lease: Lease): Promise<ClearanceRow | undefined> {
  const rows = await sql.query<ClearanceRow>(
    `UPDATE clearance_requests SET lease_owner = $2, lease_expires_at = ${leaseExpiry("$3")}
     WHERE id = $1 AND status = 'processing'
       AND (lease_owner = $2 OR lease_expires_at IS NULL OR lease_expires_at < now())
     RETURNING *`,
    [id, lease.owner, lease.seconds],
  );
  return rows[0];
}

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

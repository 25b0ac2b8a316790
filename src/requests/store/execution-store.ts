import type { Sql } from "../../db/sql.js";
import { AppError } from "../../errors.js";
import { ledgerInsertFromSql, type PreparedLedgerEvent } from "../../ledger/store/ledger-writer.js";

/** How an executed action ended, as its consumer (or a reviewer closing a lost consume) reported it. */
export const EXECUTION_OUTCOMES = ["succeeded", "failed", "error", "unknown"] as const;
export type ExecutionOutcome = (typeof EXECUTION_OUTCOMES)[number];

/** One execution report, as stored on the token's row (tenant migration 0009). */
export interface ExecutionRecord {
  jti: string;
  request_id: string;
  status: number | null;
  outcome: ExecutionOutcome;
  /** Null only when a reviewer closed a burn that was never reported. */
  duration_ms: number | null;
  response_sha256: string | null;
  detail: string | null;
  reported_at: Date;
  /** The API key (or console session key) that reported or closed it. */
  reported_by: string;
  /** The reviewer who closed a lost consume; null for a consumer's report. */
  closed_by: string | null;
}

/** A token's row as the execution service reads it. */
export interface TokenExecutionRow {
  jti: string;
  request_id: string;
  consumed_at: Date | null;
  consumed_by: string | null;
  executed_at: Date | null;
  executed_by: string | null;
  execution_closed_by: string | null;
  execution_status: number | null;
  execution_outcome: ExecutionOutcome | null;
  execution_duration_ms: number | string | null;
  execution_response_sha256: string | null;
  execution_detail: string | null;
}

export async function tokenExecution(sql: Sql, jti: string): Promise<TokenExecutionRow | undefined> {
  return (
    await sql.query<TokenExecutionRow>(
      `SELECT jti, request_id, consumed_at, consumed_by, executed_at, executed_by, execution_closed_by, execution_status, execution_outcome,
              execution_duration_ms, execution_response_sha256, execution_detail
         FROM issued_tokens WHERE jti = $1`,
      [jti],
    )
  )[0];
}

/** The stored report of a row that has one. */
export function recordOf(row: TokenExecutionRow): ExecutionRecord | undefined {
  if (!row.executed_at || !row.execution_outcome || !row.executed_by) return undefined;
  return {
    jti: row.jti,
    request_id: row.request_id,
    status: row.execution_status === null ? null : Number(row.execution_status),
    outcome: row.execution_outcome,
    // bigint: node-postgres reads it as a string.
    duration_ms: row.execution_duration_ms === null ? null : Number(row.execution_duration_ms),
    response_sha256: row.execution_response_sha256,
    detail: row.execution_detail,
    reported_at: new Date(row.executed_at),
    reported_by: row.executed_by,
    closed_by: row.execution_closed_by,
  };
}

const executeWithLedgerSql = `WITH x AS (
    UPDATE issued_tokens SET executed_at = $2, executed_by = $3, execution_closed_by = $4, execution_status = $5, execution_outcome = $6,
           execution_duration_ms = $7, execution_response_sha256 = $8, execution_detail = $9, execution_event_uuid = $10
     WHERE jti = $1 AND consumed_at IS NOT NULL AND executed_at IS NULL RETURNING jti)
  ${ledgerInsertFromSql(10, "x")} RETURNING request_id`;

/**
 * Stores a burned token's execution report with its `token.executed` ledger event, in one statement:
 * the event exists iff the report was stored. A conditional UPDATE, like the burn: exactly one of
 * any number of concurrent reports wins. False when the jti already has a report or was never burned.
 */
export async function recordExecutionWithLedger(sql: Sql, r: ExecutionRecord, ledger: PreparedLedgerEvent): Promise<boolean> {
  const values = [r.jti, r.reported_at, r.reported_by, r.closed_by, r.status, r.outcome, r.duration_ms, r.response_sha256, r.detail, ledger.event.event_uuid];
  return (await sql.query(executeWithLedgerSql, [...values, ...ledger.values])).length === 1;
}

/** A burn never followed by an execution report (GET /tokens/unreported). */
export interface UnreportedBurn {
  jti: string;
  request_id: string;
  tool: string;
  agent_id: string;
  consumed_at: string;
  consumed_by: string;
}

/**
 * Burns consumed at or before `cutoff` that have no report yet, newest first, by keyset on
 * (consumed_at, jti): the partial index issued_tokens_unreported holds exactly these rows. Only
 * tokens issued after tenant migration 0009 (execution_expected): older burns were never reported.
 */
export async function listUnreported(sql: Sql, cutoff: Date, limit: number, cursor?: string): Promise<{ rows: UnreportedBurn[]; next_cursor: string | null }> {
  const after = cursor ? decodeCursor(cursor) : null;
  const rows = await sql.query<{ jti: string; request_id: string; tool_name: string; agent_id: string; consumed_at: Date; consumed_by: string }>(
    `SELECT t.jti, t.request_id, r.tool_name, r.agent_id, t.consumed_at, t.consumed_by
       FROM issued_tokens t JOIN clearance_requests r ON r.id = t.request_id
      WHERE t.consumed_at IS NOT NULL AND t.executed_at IS NULL AND t.execution_expected AND t.consumed_at <= $1
        AND ($2::timestamptz IS NULL OR (t.consumed_at, t.jti) < ($2::timestamptz, $3::text))
      ORDER BY t.consumed_at DESC, t.jti DESC LIMIT $4`,
    [cutoff, after?.[0] ?? null, after?.[1] ?? null, limit + 1],
  );
  const page = rows.slice(0, limit).map((r) => ({
    jti: r.jti,
    request_id: r.request_id,
    tool: r.tool_name,
    agent_id: r.agent_id,
    consumed_at: new Date(r.consumed_at).toISOString(),
    consumed_by: r.consumed_by,
  }));
  const last = page[page.length - 1];
  return { rows: page, next_cursor: rows.length > limit && last ? Buffer.from(JSON.stringify([last.consumed_at, last.jti])).toString("base64url") : null };
}

/** What listUnreported writes: a millisecond UTC timestamp with a four-digit year, and a jti. */
const CURSOR_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const CURSOR_JTI = /^[\x21-\x7e]{1,128}$/;

/**
 * Strict, since the values reach SQL as a timestamptz and text: a number, an expanded year or an
 * out-of-range date would make the database fail (a 500), so anything not issued here is a 400.
 * No burn predates 1970 (the year 0000 is not even a PostgreSQL date).
 */
function decodeCursor(cursor: string): [string, string] {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (Array.isArray(value) && value.length === 2) {
      const [at, jti] = value as unknown[];
      if (typeof at === "string" && CURSOR_TIME.test(at) && at >= "1970" && new Date(at).toISOString() === at && typeof jti === "string" && CURSOR_JTI.test(jti)) {
        return [at, jti];
      }
    }
  } catch {
    /* fall through to the error below */
  }
  throw new AppError("validation_failed", "cursor is not one this server issued");
}

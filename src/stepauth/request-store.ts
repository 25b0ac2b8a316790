import type { Sql } from "../db/sql.js";
import { ledgerInsertFromSql, type PreparedLedgerEvent } from "../ledger/store/ledger-writer.js";

/**
 * The one owner of `stepauth_requests`: each accepted AuthorizationRequest, byte for byte, linked to
 * the clearance request that decides it, with its signed decision and execution result once they
 * exist. Both are written once, by a conditional UPDATE that carries the ledger event in the same
 * statement: the event exists iff the value was stored.
 */
export interface StepAuthRequestRow {
  sender_id: string;
  request_id: string;
  clearance_request_id: string | null;
  payload: Uint8Array;
  request_digest: string;
  callback_url: string | null;
  hub_keyset_id: string;
  expires_at: Date;
  cancelled_at: Date | null;
  decision_payload: Uint8Array | null;
  decision_envelope: string | null;
  decision_keyset_id: string | null;
  execution: StoredExecution | null;
  created_at: Date;
}

/** The SP's ExecutionResult as stored (and in its stepauth.executed event). */
export interface StoredExecution {
  status: "success" | "error";
  error: string | null;
  at: string;
}

export interface NewStepAuthRequest {
  senderId: string;
  requestId: string;
  payload: Uint8Array;
  requestDigest: string;
  callbackUrl: string | null;
  hubKeysetId: string;
  expiresAt: Date;
  createdAt: Date;
}

/** Stores the request; false when this sender already used this requestId (the replay state). */
export async function insertStepAuthRequest(sql: Sql, r: NewStepAuthRequest): Promise<boolean> {
  const rows = await sql.query(
    `INSERT INTO stepauth_requests (sender_id, request_id, payload, request_digest, callback_url, hub_keyset_id, expires_at, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (sender_id, request_id) DO NOTHING RETURNING request_id`,
    [r.senderId, r.requestId, Buffer.from(r.payload), r.requestDigest, r.callbackUrl, r.hubKeysetId, r.expiresAt, r.createdAt],
  );
  return rows.length === 1;
}

/** Removes a request that never reached the judge (its submit was refused): the SP may send it again. */
export async function deleteUnlinked(sql: Sql, senderId: string, requestId: string): Promise<void> {
  await sql.query("DELETE FROM stepauth_requests WHERE sender_id = $1 AND request_id = $2 AND clearance_request_id IS NULL", [senderId, requestId]);
}

export async function linkClearance(sql: Sql, senderId: string, requestId: string, clearanceRequestId: string): Promise<void> {
  await sql.query("UPDATE stepauth_requests SET clearance_request_id = $3 WHERE sender_id = $1 AND request_id = $2 AND clearance_request_id IS NULL", [
    senderId, requestId, clearanceRequestId,
  ]);
}

export async function getStepAuthRequest(sql: Sql, senderId: string, requestId: string): Promise<StepAuthRequestRow | undefined> {
  return normalise((await sql.query<StepAuthRequestRow>("SELECT * FROM stepauth_requests WHERE sender_id = $1 AND request_id = $2", [senderId, requestId]))[0]);
}

export async function stepAuthRequestOfClearance(sql: Sql, clearanceRequestId: string): Promise<StepAuthRequestRow | undefined> {
  return normalise((await sql.query<StepAuthRequestRow>("SELECT * FROM stepauth_requests WHERE clearance_request_id = $1", [clearanceRequestId]))[0]);
}

/** Requests whose clearance submit never completed (a crash in between), older than `before`. */
export async function unlinkedRequests(sql: Sql, before: Date, limit: number): Promise<StepAuthRequestRow[]> {
  const rows = await sql.query<StepAuthRequestRow>(
    "SELECT * FROM stepauth_requests WHERE clearance_request_id IS NULL AND created_at < $1 ORDER BY created_at LIMIT $2",
    [before, limit],
  );
  return rows.map((r) => normalise(r)!);
}

export async function callbackUrlOf(sql: Sql, senderId: string, requestId: string): Promise<string | null> {
  const rows = await sql.query<{ callback_url: string | null }>("SELECT callback_url FROM stepauth_requests WHERE sender_id = $1 AND request_id = $2", [senderId, requestId]);
  return rows[0]?.callback_url ?? null;
}

/** Marks a request cancelled while it has no clearance request; false when it has one by now. */
export async function markUnlinkedCancelled(sql: Sql, senderId: string, requestId: string, at: Date): Promise<boolean> {
  const rows = await sql.query(
    "UPDATE stepauth_requests SET cancelled_at = COALESCE(cancelled_at, $3) WHERE sender_id = $1 AND request_id = $2 AND clearance_request_id IS NULL RETURNING request_id",
    [senderId, requestId, at],
  );
  return rows.length === 1;
}

export async function markCancelled(tx: Sql, senderId: string, requestId: string, at: Date): Promise<void> {
  await tx.query("UPDATE stepauth_requests SET cancelled_at = COALESCE(cancelled_at, $3) WHERE sender_id = $1 AND request_id = $2", [senderId, requestId, at]);
}

/** Stores the signed decision with its stepauth.decision event, unless one is stored already. */
export async function storeDecision(
  sql: Sql,
  key: { senderId: string; requestId: string },
  d: { payload: Uint8Array; envelope: string; keysetId: string },
  ledger: PreparedLedgerEvent,
): Promise<boolean> {
  const rows = await sql.query(
    `WITH d AS (
       UPDATE stepauth_requests SET decision_payload = $3, decision_envelope = $4, decision_keyset_id = $5
        WHERE sender_id = $1 AND request_id = $2 AND decision_payload IS NULL RETURNING request_id)
     ${ledgerInsertFromSql(5, "d")} RETURNING request_id`,
    [key.senderId, key.requestId, Buffer.from(d.payload), d.envelope, d.keysetId, ...ledger.values],
  );
  return rows.length === 1;
}

/** Stores the SP's ExecutionResult with its stepauth.executed event, unless one is stored already. */
export async function storeExecution(sql: Sql, key: { senderId: string; requestId: string }, execution: StoredExecution, ledger: PreparedLedgerEvent): Promise<boolean> {
  const rows = await sql.query(
    `WITH x AS (
       UPDATE stepauth_requests SET execution = $3
        WHERE sender_id = $1 AND request_id = $2 AND execution IS NULL AND decision_payload IS NOT NULL RETURNING request_id)
     ${ledgerInsertFromSql(3, "x")} RETURNING request_id`,
    [key.senderId, key.requestId, JSON.stringify(execution), ...ledger.values],
  );
  return rows.length === 1;
}

/** bytea comes back as a Buffer (node-postgres) or a Uint8Array (PGlite); timestamps as Dates. */
function normalise(row: StepAuthRequestRow | undefined): StepAuthRequestRow | undefined {
  if (!row) return undefined;
  return {
    ...row,
    payload: new Uint8Array(row.payload),
    decision_payload: row.decision_payload === null ? null : new Uint8Array(row.decision_payload),
    expires_at: new Date(row.expires_at),
    cancelled_at: row.cancelled_at === null ? null : new Date(row.cancelled_at),
    created_at: new Date(row.created_at),
  };
}

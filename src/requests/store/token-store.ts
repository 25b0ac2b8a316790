import type { Sql } from "../../db/sql.js";
import { ledgerInsertFromSql, type PreparedLedgerEvent } from "../../ledger/store/ledger-writer.js";

export interface IssuedToken {
  jti: string;
  request_id: string;
  kid: string;
  claims: string;
  issued_at: Date;
  expires_at: Date;
  consumed_at: Date | null;
  consumed_by: string | null;
}

export async function insertToken(sql: Sql, t: Omit<IssuedToken, "consumed_at" | "consumed_by">): Promise<void> {
  await sql.query("INSERT INTO issued_tokens (jti, request_id, kid, claims, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)", [
    t.jti, t.request_id, t.kid, t.claims, t.issued_at, t.expires_at,
  ]);
}

export async function tokenForRequest(sql: Sql, requestId: string): Promise<IssuedToken | undefined> {
  return (await sql.query<IssuedToken>("SELECT * FROM issued_tokens WHERE request_id = $1", [requestId]))[0];
}

const burnWithLedgerSql = `WITH b AS (
    UPDATE issued_tokens SET consumed_at = $3, consumed_by = $2 WHERE jti = $1 AND consumed_at IS NULL RETURNING jti)
  ${ledgerInsertFromSql(3, "b")} RETURNING request_id`;

/**
 * Burns a jti with its `token.consumed` ledger event, in one statement: the event exists iff the burn
 * happened. A conditional UPDATE is atomic under any number of concurrent callers and vault
 * processes: exactly one sees the row come back.
 */
export async function burnTokenWithLedger(sql: Sql, jti: string, consumedBy: string, at: Date, ledger: PreparedLedgerEvent): Promise<boolean> {
  return (await sql.query(burnWithLedgerSql, [jti, consumedBy, at, ...ledger.values])).length === 1;
}

export async function getToken(sql: Sql, jti: string): Promise<IssuedToken | undefined> {
  return (await sql.query<IssuedToken>("SELECT * FROM issued_tokens WHERE jti = $1", [jti]))[0];
}

import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import { loadTiles, tileIndexOver } from "./ledger-tables.js";
import { consistencyPlan, inclusionPlan, planNodes, proofFromPlan, type LeafRange } from "./merkle.js";
import { tilesNeeded } from "./tiles.js";
import { CHECKPOINT_COLUMNS, EVENT_COLUMNS, type CheckpointRow, type EventRow } from "./wire-rows.js";

/** Reads of the ledger tables and proofs built from stored tiles (never from all leaves). */

/** checkpoint_id of an event = the first checkpoint whose tree covers its leaf. */
const FIRST_COVERING = `(SELECT c.checkpoint_id FROM ledger_checkpoints c WHERE c.tree_size > e.leaf_index ORDER BY c.tree_size LIMIT 1)`;

export async function listEvents(sql: Sql, limit: number, afterSeq: number, descending: boolean): Promise<EventRow[]> {
  return sql.query<EventRow>(
    `SELECT ${prefixed(EVENT_COLUMNS)}, ${FIRST_COVERING} AS checkpoint_id FROM ledger_events e
      WHERE e.seq > $2 ORDER BY e.seq ${descending ? "DESC" : "ASC"} LIMIT $1`,
    [limit, afterSeq],
  );
}

/** The request's newest event, or the one named by event_uuid. */
export async function eventForRequest(sql: Sql, requestId: string, eventUuid?: string): Promise<EventRow> {
  const rows = await sql.query<EventRow>(
    `SELECT ${prefixed(EVENT_COLUMNS)}, ${FIRST_COVERING} AS checkpoint_id FROM ledger_events e
      WHERE e.request_id = $1 AND ($2::text IS NULL OR e.event_uuid = $2) ORDER BY e.seq DESC LIMIT 1`,
    [requestId, eventUuid ?? null],
  );
  if (!rows[0]) throw new AppError("ledger_event_not_found", `No ledger event for request ${requestId}${eventUuid ? ` with event_uuid ${eventUuid}` : ""}`);
  return rows[0];
}

export async function listCheckpoints(sql: Sql, limit: number, afterId: number, descending: boolean): Promise<CheckpointRow[]> {
  return sql.query<CheckpointRow>(
    `SELECT ${CHECKPOINT_COLUMNS} FROM ledger_checkpoints WHERE checkpoint_id > $2 ORDER BY checkpoint_id ${descending ? "DESC" : "ASC"} LIMIT $1`,
    [limit, afterId],
  );
}

export async function checkpointById(sql: Sql, id: number): Promise<CheckpointRow> {
  const rows = await sql.query<CheckpointRow>(`SELECT ${CHECKPOINT_COLUMNS} FROM ledger_checkpoints WHERE checkpoint_id = $1`, [id]);
  if (!rows[0]) throw new AppError("checkpoint_not_found", `No checkpoint ${id}`);
  return rows[0];
}

export async function latestCheckpoint(sql: Sql): Promise<CheckpointRow | undefined> {
  return (await sql.query<CheckpointRow>(`SELECT ${CHECKPOINT_COLUMNS} FROM ledger_checkpoints ORDER BY checkpoint_id DESC LIMIT 1`))[0];
}

export async function ledgerOrigin(sql: Sql): Promise<string | null> {
  return (await sql.query<{ origin: string | null }>("SELECT origin FROM ledger_state"))[0]?.origin ?? null;
}

/** PATH(leafIndex, D[treeSize]) as lowercase hex, from the tiles it touches (fetched in one query). */
export async function inclusionPath(sql: Sql, leafIndex: number, treeSize: number): Promise<string[]> {
  return proofFromTiles(sql, inclusionPlan(leafIndex, treeSize), treeSize);
}

/** PROOF(m, D[n]) as lowercase hex; empty when m = n (the SDK then compares the roots). */
export async function consistencyPath(sql: Sql, m: number, n: number): Promise<string[]> {
  if (m === n) return [];
  return proofFromTiles(sql, consistencyPlan(m, n), n);
}

async function proofFromTiles(sql: Sql, plan: LeafRange[], treeSize: number): Promise<string[]> {
  const tiles = await loadTiles(sql, tilesNeeded(planNodes(plan), treeSize));
  return proofFromPlan(plan, tileIndexOver(treeSize, tiles).hashAt).map((h) => Buffer.from(h).toString("hex"));
}

function prefixed(columns: string): string {
  return columns
    .split(",")
    .map((c) => `e.${c.trim()}`)
    .join(", ");
}

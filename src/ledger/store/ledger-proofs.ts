import type { Sql } from "../../db/sql.js";
import { AppError } from "../../errors.js";
import { loadTiles, tileIndexOver } from "./ledger-tables.js";
import { consistencyPlan, inclusionPlan, planNodes, proofFromPlan, type LeafRange } from "../core/merkle.js";
import type { TileCache } from "./tile-cache.js";
import { TileIndex, tilesNeeded } from "../core/tiles.js";
import { CHECKPOINT_COLUMNS, EVENT_COLUMNS, type CheckpointRow, type EventRow } from "./wire-rows.js";

/** Reads of the ledger tables and proofs built from stored tiles (never from all leaves). */

/** checkpoint_id of an event = the first checkpoint whose tree covers its leaf. */
const FIRST_COVERING = `(SELECT c.checkpoint_id FROM ledger_checkpoints c WHERE c.tree_size > e.leaf_index ORDER BY c.tree_size LIMIT 1)`;

/**
 * Events in tree order: sequenced ones by leaf index, then those still waiting, by seq (reversed for
 * `descending`). Tree order matters to the SDK's verifyLedgerProof: a page of N sequenced events is
 * then exactly leaves 0..N-1, never N events whose leaves merely number N. `afterLeaf` pages the
 * sequenced part (ascending only).
 */
export async function listEvents(sql: Sql, limit: number, afterLeaf: number, descending: boolean): Promise<EventRow[]> {
  const select = `SELECT ${prefixed(EVENT_COLUMNS)}, ${FIRST_COVERING} AS checkpoint_id FROM ledger_events e`;
  const sequenced = `(${select} WHERE e.leaf_index > $2 ORDER BY e.leaf_index ${descending ? "DESC" : "ASC"} LIMIT $1)`;
  const waiting = `(${select} WHERE e.leaf_index IS NULL ORDER BY e.seq ${descending ? "DESC" : "ASC"} LIMIT $1)`;
  const rows = await sql.query<EventRow>(descending ? `${waiting} UNION ALL ${sequenced}` : `${sequenced} UNION ALL ${waiting}`, [limit, afterLeaf]);
  return rows.slice(0, limit);
}

/**
 * The event named by event_uuid, or else the request's decision as it stands: its newest clearance
 * or review event (a later token.consumed does not hide the approval it consumed), or its newest
 * event of any type when it has no decision of its own (a /mint-token request). With a request_id
 * too, the event must belong to that request.
 */
export async function findEvent(sql: Sql, requestId: string | undefined, eventUuid: string | undefined): Promise<EventRow> {
  if (requestId === undefined && eventUuid === undefined) throw new AppError("bad_request", "Name the event with request_id, event_uuid or both");
  const rows =
    requestId === undefined
      ? // By event_uuid alone: the hash index ledger_events_uuid (tenant migration 0007) keeps this one lookup.
        await sql.query<EventRow>(`SELECT ${prefixed(EVENT_COLUMNS)}, ${FIRST_COVERING} AS checkpoint_id FROM ledger_events e WHERE e.event_uuid = $1 LIMIT 1`, [eventUuid])
      : await sql.query<EventRow>(
          `SELECT ${prefixed(EVENT_COLUMNS)}, ${FIRST_COVERING} AS checkpoint_id FROM ledger_events e
            WHERE e.request_id = $1 AND ($2::text IS NULL OR e.event_uuid = $2)
            ORDER BY (e.event_type LIKE 'token.%') ASC, e.seq DESC LIMIT 1`,
          [requestId, eventUuid ?? null],
        );
  if (!rows[0]) throw new AppError("ledger_event_not_found", notFound(requestId, eventUuid));
  return rows[0];
}

/** The request's first clearance.* event: the judge's decision as it was recorded, before any review. */
export async function judgeEvent(sql: Sql, requestId: string): Promise<EventRow | undefined> {
  const rows = await sql.query<EventRow>(
    `SELECT ${prefixed(EVENT_COLUMNS)}, NULL AS checkpoint_id FROM ledger_events e
      WHERE e.request_id = $1 AND e.event_type LIKE 'clearance.%' ORDER BY e.seq LIMIT 1`,
    [requestId],
  );
  return rows[0];
}

function notFound(requestId: string | undefined, eventUuid: string | undefined): string {
  if (requestId === undefined) return `No ledger event with event_uuid ${eventUuid}`;
  return `No ledger event for request ${requestId}${eventUuid ? ` with event_uuid ${eventUuid}` : ""}`;
}

/** Where a request's ledger events stand: how many there are, and the checkpoint that holds them all. */
export interface RequestLedgerStatus {
  events: number;
  /** True only when every event of the request is sequenced and a signed checkpoint covers the last. */
  in_checkpoint: boolean;
  /** The first checkpoint that covers every event of the request; null while one is not covered. */
  checkpoint_id: number | null;
}

/**
 * The ledger side of a request (the review console shows it): in a checkpoint only when every one
 * of its events is, since the newest vote or the token's burn may still be waiting to be sequenced.
 * The covering checkpoint is the first whose tree reaches past the request's highest leaf, which is
 * FIRST_COVERING's rule applied to the request's last event. One round trip.
 */
export async function requestLedgerStatus(sql: Sql, requestId: string): Promise<RequestLedgerStatus> {
  const [row] = await sql.query<{ events: number | string; sequenced: number | string; checkpoint_id: number | string | null }>(
    `SELECT count(*) AS events, count(e.leaf_index) AS sequenced,
            (SELECT min(c.checkpoint_id) FROM ledger_checkpoints c WHERE c.tree_size > max(e.leaf_index)) AS checkpoint_id
       FROM ledger_events e WHERE e.request_id = $1`,
    [requestId],
  );
  const events = Number(row?.events ?? 0);
  const all = events > 0 && Number(row?.sequenced) === events;
  const checkpointId = all && row?.checkpoint_id !== null && row?.checkpoint_id !== undefined ? Number(row.checkpoint_id) : null;
  return { events, in_checkpoint: checkpointId !== null, checkpoint_id: checkpointId };
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

/**
 * The checkpoint a bundle is proven in and the one with id `firstId`, in one round trip (a bundle
 * needs both). `first` is undefined when firstId is that checkpoint. The proving checkpoint is the
 * newest witnessed one whose tree holds leaf `maxLeaf` (every leaf the bundle proves), so an auditor
 * with a witness policy gets cosignatures without waiting for the newest head's; without one
 * (no witnesses, or none has cosigned that far yet) it is the newest checkpoint.
 */
export async function firstAndLatestCheckpoints(sql: Sql, firstId: number, maxLeaf = -1): Promise<{ first?: CheckpointRow; latest?: CheckpointRow }> {
  const rows = await sql.query<CheckpointRow>(
    `SELECT ${CHECKPOINT_COLUMNS} FROM ledger_checkpoints
      WHERE checkpoint_id = $1 OR checkpoint_id = COALESCE(
        (SELECT max(checkpoint_id) FROM ledger_checkpoints WHERE witness_status = 'witnessed' AND tree_size > $2 AND checkpoint_id >= $1),
        (SELECT max(checkpoint_id) FROM ledger_checkpoints))
      ORDER BY checkpoint_id`,
    [firstId, maxLeaf],
  );
  const latest = rows[rows.length - 1];
  return { latest, first: rows.length === 2 ? rows[0] : undefined };
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
  return (await proofsFromTiles(sql, [plan], treeSize))[0]!;
}

/**
 * Several proofs in one tree from at most one tile fetch: a bundle's inclusion and consistency
 * together. With a cache (scope = tenant), tiles it holds are not fetched and their inner nodes are
 * not hashed again.
 */
export async function proofsFromTiles(sql: Sql, plans: LeafRange[][], treeSize: number, cache?: { scope: string; tiles: TileCache }): Promise<string[][]> {
  const refs = tilesNeeded(planNodes(plans.flat()), treeSize);
  const missing = cache ? refs.filter((r) => !cache.tiles.get(cache.scope, r)) : refs;
  const loaded = await loadTiles(sql, missing);
  if (cache) for (const r of missing) {
    const hashes = loaded.get(`${r.level}/${r.index}`);
    if (hashes && hashes.length >= r.width) cache.tiles.put(cache.scope, r, hashes);
  }
  const index = cache
    ? new TileIndex(
        treeSize,
        (level, i, width) => cache.tiles.get(cache.scope, { level, index: i, width }) ?? loaded.get(`${level}/${i}`) ?? [],
        (tile, hashes) => cache.tiles.levels(cache.scope, tile, hashes),
      )
    : tileIndexOver(treeSize, loaded);
  return plans.map((plan) => proofFromPlan(plan, index.hashAt).map((h) => Buffer.from(h).toString("hex")));
}

export { consistencyPlan, inclusionPlan };

function prefixed(columns: string): string {
  return columns
    .split(",")
    .map((c) => `e.${c.trim()}`)
    .join(", ");
}

/** A stored event as another event names it: its uuid (which commits to its type) and its hash. */
export interface EventLink {
  event_uuid: string;
  event_type: string;
  event_hash: string;
}

/**
 * The events of a request that a later event links to, oldest first: uuid, type and hash only (the
 * columns are plaintext, so no body is opened). For `token.executed`, which names the approval and
 * the burn it follows.
 */
export async function requestEventLinks(sql: Sql, requestId: string): Promise<EventLink[]> {
  return sql.query<EventLink>("SELECT event_uuid, event_type, event_hash FROM ledger_events WHERE request_id = $1 ORDER BY seq", [requestId]);
}

/** Most events a bundle carries for its request (votes add up; a request has a handful). */
export const MAX_REQUEST_EVENTS = 100;

/**
 * A request's events, each with its first covering checkpoint (null while none covers it): every
 * event that is not a vote (decisions, approval, burn, execution: a handful), then votes in write
 * order up to MAX_REQUEST_EVENTS + 1 in all. So a request with hundreds of votes never loses its burn
 * or execution report from its bundle; only later votes are left out. Returned in write order.
 */
export async function requestEvents(sql: Sql, requestId: string): Promise<EventRow[]> {
  const rows = await sql.query<EventRow>(
    `SELECT ${prefixed(EVENT_COLUMNS)}, ${FIRST_COVERING} AS checkpoint_id FROM ledger_events e WHERE e.request_id = $1
      ORDER BY (e.event_type = 'review.vote'), e.seq LIMIT $2`,
    [requestId, MAX_REQUEST_EVENTS + 1],
  );
  return rows.sort((a, b) => Number(a.seq) - Number(b.seq));
}

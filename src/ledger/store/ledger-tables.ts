import type { Sql } from "../../db/sql.js";
import { HASH_SIZE, treeRootFrom } from "../core/merkle.js";
import { TileIndex, type Tile, type TileRef, type TileState } from "../core/tiles.js";

/**
 * SQL access to the tree's storage: tree state, full tiles (write-once) and the right-edge partial
 * tiles. Tiles are stored as concatenated 32-byte hashes, as C2SP tlog-tiles serves them.
 */

export interface StoredCheckpointHead {
  checkpoint_id: number;
  tree_size: number;
  checkpoint_hash: string;
}

export async function readTreeState(sql: Sql): Promise<{ treeSize: number; origin: string | null }> {
  const rows = await sql.query<{ tree_size: number; origin: string | null }>("SELECT tree_size, origin FROM ledger_state FOR UPDATE");
  if (!rows[0]) throw new Error("ledger_state row is missing");
  return { treeSize: Number(rows[0].tree_size), origin: rows[0].origin };
}

export function splitHashes(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i + HASH_SIZE <= bytes.length; i += HASH_SIZE) out.push(bytes.subarray(i, i + HASH_SIZE));
  return out;
}

export async function readRightEdge(sql: Sql, treeSize: number): Promise<TileState> {
  const rows = await sql.query<{ level: number; idx: number; hashes: Uint8Array }>("SELECT level, idx, hashes FROM ledger_partial_tiles ORDER BY level");
  const rightEdgeTiles: Tile[] = rows.map((r) => {
    const hashes = splitHashes(r.hashes);
    return { level: r.level, index: Number(r.idx), width: hashes.length, hashes };
  });
  return { treeSize, rightEdgeTiles };
}

/** Writes the tiles an append changed: full tiles are inserted once; partial tiles replace the edge. */
export async function writeTiles(sql: Sql, changed: readonly Tile[], rightEdge: readonly Tile[]): Promise<void> {
  // Issued together, run in this order on the connection (see the sequencer's batch).
  const writes: Promise<unknown>[] = [];
  const full = changed.filter((t) => t.width === 256);
  if (full.length > 0) {
    writes.push(sql.query(
      "INSERT INTO ledger_tiles (level, idx, hashes) SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])",
      [full.map((t) => t.level), full.map((t) => t.index), full.map((t) => Buffer.concat(t.hashes))],
    ));
  }
  // Upserts, so the database's only-grow rule on partial tiles applies to every change.
  if (rightEdge.length > 0) {
    writes.push(sql.query(
      `INSERT INTO ledger_partial_tiles (level, idx, hashes) SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])
       ON CONFLICT (level) DO UPDATE SET idx = EXCLUDED.idx, hashes = EXCLUDED.hashes
       WHERE (ledger_partial_tiles.idx, ledger_partial_tiles.hashes) IS DISTINCT FROM (EXCLUDED.idx, EXCLUDED.hashes)`,
      [rightEdge.map((t) => t.level), rightEdge.map((t) => t.index), rightEdge.map((t) => Buffer.concat(t.hashes))],
    ));
  }
  writes.push(sql.query("DELETE FROM ledger_partial_tiles WHERE NOT (level = ANY($1::smallint[]))", [rightEdge.map((t) => t.level)]));
  await Promise.all(writes);
}

/** The stored right edge does not match what the events and the last checkpoint say. */
export class LedgerIntegrityError extends Error {}

/**
 * Refuses to build on a right edge that was altered: the level-0 partial tile must hold exactly the
 * leaf hashes of its events, and when the tree is the size of the last checkpoint, the edge must
 * give that checkpoint's signed root. Otherwise a corrupted edge would be signed into the next
 * checkpoint, which can never be withdrawn.
 */
export async function checkRightEdge(sql: Sql, edge: TileState, last: { tree_size: number; root_hash: string } | undefined): Promise<void> {
  const level0 = edge.rightEdgeTiles.find((t) => t.level === 0);
  if (level0) {
    const first = level0.index * 256;
    const rows = await sql.query<{ leaf_hash: string }>(
      "SELECT leaf_hash FROM ledger_events WHERE leaf_index >= $1 AND leaf_index < $2 ORDER BY leaf_index",
      [first, first + level0.width],
    );
    const stored = Buffer.concat(level0.hashes).toString("hex");
    if (rows.map((r) => r.leaf_hash).join("") !== stored) {
      throw new LedgerIntegrityError(`the partial tile tile/0/${level0.index} differs from the leaf hashes of its events; run ledger fsck`);
    }
  }
  if (last && Number(last.tree_size) === edge.treeSize && edge.treeSize > 0 && edgeRootHex(edge) !== last.root_hash) {
    throw new LedgerIntegrityError(`the stored right edge does not give the root of checkpoint at tree size ${last.tree_size}; run ledger fsck`);
  }
}

/**
 * Loads the given tiles (full ones from ledger_tiles, the rest from the right edge, which may have
 * grown since: a smaller tree's partial tile is a prefix of the later one) in one round trip each.
 */
export async function loadTiles(sql: Sql, refs: readonly TileRef[]): Promise<Map<string, Uint8Array[]>> {
  const byKey = new Map<string, Uint8Array[]>();
  if (refs.length === 0) return byKey;
  const levels = refs.map((r) => r.level);
  const idxs = refs.map((r) => r.index);
  const rows = await sql.query<{ level: number; idx: number; hashes: Uint8Array }>(
    `SELECT t.level, t.idx, t.hashes FROM ledger_tiles t JOIN unnest($1::smallint[], $2::bigint[]) AS w(level, idx)
       ON t.level = w.level AND t.idx = w.idx
     UNION ALL
     SELECT p.level, p.idx, p.hashes FROM ledger_partial_tiles p JOIN unnest($1::smallint[], $2::bigint[]) AS w(level, idx)
       ON p.level = w.level AND p.idx = w.idx`,
    [levels, idxs],
  );
  for (const r of rows) {
    const key = `${r.level}/${Number(r.idx)}`;
    const hashes = splitHashes(r.hashes);
    // A full tile wins over a stale partial copy of it.
    if ((byKey.get(key)?.length ?? 0) < hashes.length) byKey.set(key, hashes);
  }
  return byKey;
}

/** The root of a tree from its right-edge tiles alone: every perfect subtree on the edge lies in one of them. */
export function edgeRootHex(edge: TileState): string {
  const tiles = new Map(edge.rightEdgeTiles.map((t) => [`${t.level}/${t.index}`, [...t.hashes]]));
  return Buffer.from(treeRootFrom(edge.treeSize, tileIndexOver(edge.treeSize, tiles).hashAt)).toString("hex");
}

/** A TileIndex over loaded tiles; a missing or short tile throws LedgerError("missing_tile"). */
export function tileIndexOver(treeSize: number, tiles: Map<string, Uint8Array[]>): TileIndex {
  return new TileIndex(treeSize, (level, index) => tiles.get(`${level}/${index}`) ?? []);
}

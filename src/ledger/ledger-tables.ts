import type { Sql } from "../db/sql.js";
import { HASH_SIZE } from "./merkle.js";
import { TileIndex, type Tile, type TileRef, type TileState } from "./tiles.js";

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
  const full = changed.filter((t) => t.width === 256);
  if (full.length > 0) {
    await sql.query(
      "INSERT INTO ledger_tiles (level, idx, hashes) SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])",
      [full.map((t) => t.level), full.map((t) => t.index), full.map((t) => Buffer.concat(t.hashes))],
    );
  }
  await sql.query("DELETE FROM ledger_partial_tiles");
  if (rightEdge.length > 0) {
    await sql.query(
      "INSERT INTO ledger_partial_tiles (level, idx, hashes) SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])",
      [rightEdge.map((t) => t.level), rightEdge.map((t) => t.index), rightEdge.map((t) => Buffer.concat(t.hashes))],
    );
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

/** A TileIndex over loaded tiles; a missing or short tile throws TileError("missing_tile"). */
export function tileIndexOver(treeSize: number, tiles: Map<string, Uint8Array[]>): TileIndex {
  return new TileIndex(treeSize, (level, index) => tiles.get(`${level}/${index}`) ?? []);
}

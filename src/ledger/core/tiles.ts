/**
 * C2SP tlog-tiles (https://c2sp.org/tlog-tiles) for the per-tenant ledger: which tiles a tree has, a tile-backed
 * `HashAt` for the merkle.ts proof generators, and incremental tile building for the sequencer. How tiles and
 * entry bundles are named and serialized is tile-codec.ts's. Pure functions, no I/O (ARCHITECTURE.md rule 7);
 * hashing is merkle.ts's.
 *
 * Geometry (tlog-tiles "Merkle Tree"): "the n-th tile at level l ... is the sequence of the Merkle Tree Hashes
 * MTH(D[(n·256 + i)·256^l : (n·256 + i + 1)·256^l])" for i < W <= 256, i.e. the perfect nodes of height 8·l
 * with indices [256·n, 256·n + W). Level-0 tiles hold leaf hashes; "at level 1 and above, each hash in a tile
 * is the Merkle Tree Hash of a full tile at the level below". Only perfect subtrees are stored; merkle.ts
 * recomputes right-edge subtrees from them.
 *
 * Partial tiles: "the partial tile at level l for a tree of size s has floor(s / 256^l) mod 256 entries", and
 * "MUST NOT be hashed into a tile at the level above". A full tile never changes; a smaller tree's partial
 * tile is a prefix of every later version of the same tile.
 */
import { checkCount } from "./merkle-proofs.js";
import { LedgerError } from "./ledger-error.js";
import { HASH_SIZE, rootFromLeafHashes, type HashAt, type NodeRef } from "./merkle.js";

export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 256; // 2^TILE_HEIGHT
/** tlog-tiles: "<L> is the level of the tile ... between 0 and 63". */
export const MAX_TILE_LEVEL = 63;
/** `tilesForTreeSize` refuses to list more tiles than this (about 268M leaves). */
export const MAX_LISTED_TILES = 1 << 20;

/** A tile's coordinates; width 256 is a full tile, 1..255 a partial one. */
export type TileRef = { readonly level: number; readonly index: number; readonly width: number };
export type Tile = TileRef & { readonly hashes: readonly Uint8Array[] };

/** For error messages; tile-codec.ts `tilePath` gives the canonical path. */
function describeTile(t: TileRef): string {
  return `tile level ${t.level} index ${t.index} width ${t.width}`;
}

export function checkLevel(level: unknown): number {
  const l = checkCount("tile level", level);
  if (l > MAX_TILE_LEVEL) throw new LedgerError("out_of_range", `tile level ${l} is above ${MAX_TILE_LEVEL}`);
  return l;
}

export function checkWidth(width: unknown): number {
  if (width === undefined) return TILE_WIDTH;
  const w = checkCount("tile width", width);
  if (w < 1 || w > TILE_WIDTH) throw new LedgerError("out_of_range", `tile width ${w} is not in 1..${TILE_WIDTH}`);
  return w;
}

export function checkHash(name: string, value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length !== HASH_SIZE) {
    throw new LedgerError("hash_length", `${name} must be a ${HASH_SIZE}-byte hash`);
  }
  return value;
}

/** Perfect nodes of height 8·level in a tree of treeSize: n_L = floor(s / 256^L) (exact: power-of-two divisor). */
function nodesAtLevel(treeSize: number, level: number): number {
  return Math.floor(treeSize / TILE_WIDTH ** level);
}

/** Width of tile (level, index) in a tree of treeSize, or 0 if the tree has no such tile yet. */
export function tileWidth(treeSize: number, level: number, index: number): number {
  const n = nodesAtLevel(checkCount("tree size", treeSize), checkLevel(level));
  const i = checkCount("tile index", index);
  return i < Math.floor(n / TILE_WIDTH) ? TILE_WIDTH : i === Math.floor(n / TILE_WIDTH) ? n % TILE_WIDTH : 0;
}

/** Every tile of a tree, or only its right-edge partials (a partial's index is floor(n_L / 256)). */
function listTiles(treeSize: number, partialOnly: boolean): TileRef[] {
  checkCount("tree size", treeSize);
  const refs: TileRef[] = [];
  for (let level = 0, n = treeSize; n > 0; level++, n = nodesAtLevel(treeSize, level)) {
    for (let index = partialOnly ? Math.floor(n / TILE_WIDTH) : 0; index * TILE_WIDTH < n; index++) {
      refs.push({ level, index, width: Math.min(TILE_WIDTH, n - index * TILE_WIDTH) });
    }
  }
  return refs;
}

/** The partial (right-edge) tiles of a tree, at most one per level, lowest level first. O(1) in treeSize. */
export function rightEdgeTileRefs(treeSize: number): TileRef[] {
  return listTiles(treeSize, true);
}

/** Every tile of a tree, full and partial, by level then index. Refuses more than MAX_LISTED_TILES. */
export function tilesForTreeSize(treeSize: number): TileRef[] {
  let total = 0;
  for (let level = 0, n = checkCount("tree size", treeSize); n > 0; n = nodesAtLevel(treeSize, ++level)) total += Math.ceil(n / TILE_WIDTH);
  if (total > MAX_LISTED_TILES) throw new LedgerError("too_many_tiles", `tree size ${treeSize} has ${total} tiles`);
  return listTiles(treeSize, false);
}

/**
 * Where perfect node (height h, index i) lives. With L = floor(h / 8) and r = h mod 8, the node is the root
 * over the 2^r height-8L nodes [i·2^r, (i+1)·2^r), which sit in one tile because 2^r divides 256: tile
 * (L, floor(i·2^r / 256)) at offset (i·2^r) mod 256. r = 0 reads one hash; r > 0 hashes up to 2^7 of them.
 */
export function locateNode(level: number, index: number, treeSize: number): { tile: TileRef; offset: number; count: number } {
  const h = checkCount("node level", level);
  const i = checkCount("node index", index);
  checkCount("tree size", treeSize);
  if (i >= Math.floor(treeSize / 2 ** h)) throw new LedgerError("out_of_range", `node (${h}, ${i}) is outside a tree of size ${treeSize}`);
  const tileLevel = Math.floor(h / TILE_HEIGHT);
  const count = 2 ** (h % TILE_HEIGHT);
  const first = i * count; // < n_L, so a safe integer
  const tileIndex = Math.floor(first / TILE_WIDTH);
  return { tile: { level: tileLevel, index: tileIndex, width: tileWidth(treeSize, tileLevel, tileIndex) }, offset: first % TILE_WIDTH, count };
}

/** Hashes of tile (level, index) at `width` (or a later version of it, i.e. a longer prefix-compatible tile). */
export type GetTile = (level: number, index: number, width: number) => readonly Uint8Array[];

/**
 * A merkle.ts `HashAt` over the tiles of a tree of `treeSize`, read through a synchronous `getTile` (for
 * pre-loaded tiles, e.g. the `tilesNeeded` of a plan fetched in one query). Node lookup as in `locateNode`.
 */
export class TileIndex {
  readonly hashAt: HashAt;
  /**
   * `levelsOf` (optional) returns a tile's perfect subtrees level by level (see tile-cache.ts `tileLevels`), e.g. from a
   * cache: every node inside a tile is then one lookup instead of up to 127 hashes.
   */
  constructor(readonly treeSize: number, getTile: GetTile, levelsOf?: (tile: TileRef, hashes: readonly Uint8Array[]) => readonly Uint8Array[][]) {
    checkCount("tree size", treeSize);
    this.hashAt = (level, index) => {
      const { tile, offset, count } = locateNode(level, index, treeSize);
      const hashes = getTile(tile.level, tile.index, tile.width);
      if (!Array.isArray(hashes) || hashes.length < tile.width) {
        throw new LedgerError("missing_tile", `${describeTile(tile)} is missing or short`);
      }
      if (count === 1) return checkHash(`hash ${offset} of ${describeTile(tile)}`, hashes[offset]);
      if (levelsOf) {
        const node = levelsOf(tile, hashes.slice(0, tile.width))[Math.log2(count)]?.[offset / count];
        if (node) return node;
      }
      // A perfect run of 2^r hashes folds pairwise, which is exactly MTH over them (RFC 6962 §2.1).
      return rootFromLeafHashes(hashes.slice(offset, offset + count));
    };
  }
}


/** The distinct tiles that the nodes of a proof plan (merkle.ts `planNodes`) live in, by level then index. */
export function tilesNeeded(nodes: readonly NodeRef[], treeSize: number): TileRef[] {
  checkCount("tree size", treeSize);
  if (!Array.isArray(nodes)) throw new LedgerError("bad_state", "nodes must be an array");
  const byKey = new Map<string, TileRef>();
  for (const node of nodes) {
    const { tile } = locateNode(node?.level, node?.index, treeSize);
    byKey.set(`${tile.level}/${tile.index}`, tile);
  }
  return [...byKey.values()].sort((a, b) => a.level - b.level || a.index - b.index);
}

/** The sequencer's tile state: tree size and its right-edge (partial) tiles, as `rightEdgeTileRefs` lists. */
export type TileState = { readonly treeSize: number; readonly rightEdgeTiles: readonly Tile[] };
/** `changed`: tiles whose content is new, by level then index: each newly full tile, each grown or new partial. */
export type AppendResult = TileState & { readonly changed: Tile[] };

function checkState(state: TileState): Map<number, readonly Uint8Array[]> {
  const size = checkCount("tree size", state?.treeSize);
  const expected = rightEdgeTileRefs(size);
  const given: unknown = state.rightEdgeTiles;
  if (!Array.isArray(given) || given.length !== expected.length) {
    throw new LedgerError("bad_state", `a tree of size ${size} has ${expected.length} right-edge tiles`);
  }
  const byLevel = new Map<number, readonly Uint8Array[]>();
  for (const ref of expected) {
    const t = (given as Tile[]).find((g) => g?.level === ref.level);
    if (!t || t.index !== ref.index || t.width !== ref.width || !Array.isArray(t.hashes) || t.hashes.length !== ref.width) {
      throw new LedgerError("bad_state", `expected right-edge ${describeTile(ref)}`);
    }
    t.hashes.forEach((h, i) => checkHash(`right-edge hash ${i}`, h));
    byLevel.set(ref.level, t.hashes);
  }
  return byLevel;
}

/**
 * Appends leaf hashes and returns the changed tiles and the new state, hashing only the roots of tiles that
 * become full (255 node hashes each): level L's new nodes are appended to its partial tile, every 256 of them
 * closes a full tile whose root is the next level's new node. A full tile appears in `changed` exactly once.
 */
export function appendLeaves(existing: TileState, newLeafHashes: readonly Uint8Array[]): AppendResult {
  const partials = checkState(existing);
  if (!Array.isArray(newLeafHashes)) throw new LedgerError("bad_state", "new leaf hashes must be an array");
  const size = existing.treeSize;
  const treeSize = checkCount("new tree size", size + newLeafHashes.length);
  const changed: Tile[] = [];
  const rightEdgeTiles: Tile[] = [];
  let added = newLeafHashes.map((h, i) => checkHash(`new leaf hash ${i}`, h));
  for (let level = 0; nodesAtLevel(size, level) > 0 || added.length > 0; level++) {
    const firstTile = Math.floor(nodesAtLevel(size, level) / TILE_WIDTH);
    const all = (partials.get(level) ?? []).concat(added);
    const next: Uint8Array[] = [];
    for (let start = 0; start < all.length; start += TILE_WIDTH) {
      const hashes = all.slice(start, start + TILE_WIDTH);
      const tile: Tile = { level, index: firstTile + start / TILE_WIDTH, width: hashes.length, hashes };
      if (added.length > 0) changed.push(tile);
      if (hashes.length === TILE_WIDTH) next.push(rootFromLeafHashes(hashes));
      else rightEdgeTiles.push(tile);
    }
    added = next;
  }
  return { treeSize, rightEdgeTiles, changed };
}

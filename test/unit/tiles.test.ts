/**
 * C2SP tlog-tiles module against: hand-worked tlog-tiles path and geometry examples, the real Tessera test log
 * (test/vectors/c2sp-tessera-log), and the merkle.ts leaf-list generators over a 70,000-leaf log built
 * incrementally with appendLeaves in seeded random batches.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  consistencyPlan, consistencyProof, consistencyProofFrom, inclusionPlan, inclusionProof, inclusionProofFrom,
  leafHash, nodeHash, planNodes, rootFromLeafHashes, treeRootFrom,
} from "../../src/ledger/core/merkle.js";
import { decodeEntryBundle, decodeTile, encodeEntryBundle, encodeTile, entriesPath, parseTilePath, tilePath } from "../../src/ledger/core/tile-codec.js";
import {
  appendLeaves, locateNode, rightEdgeTileRefs, TileIndex, tilesForTreeSize, tilesNeeded, tileWidth, type Tile,
  type TileState,
} from "../../src/ledger/core/tiles.js";
import type { LedgerErrorCode } from "../../src/ledger/core/ledger-error.js";

/** A LedgerError with one of `codes`: the tile codes, or the Merkle codes of the arithmetic tiles build on. */
const ledgerErrorIn = (...codes: LedgerErrorCode[]) =>
  expect.objectContaining({ name: "LedgerError", code: expect.stringMatching(new RegExp(`^(${codes.join("|")})$`)) });
const tileRefusal = ledgerErrorIn("bad_path", "bad_tile", "bad_bundle", "missing_tile", "bad_state", "too_many_tiles");
const merkleRefusal = ledgerErrorIn("invalid_number", "out_of_range", "hash_length", "proof_length");

const LOG = fileURLToPath(new URL("../vectors/c2sp-tessera-log/", import.meta.url));
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const hexList = (bs: readonly Uint8Array[]) => bs.map(hex).join(",");
const filled = (byte: number, length = 32) => new Uint8Array(length).fill(byte);
const key = (t: { level: number; index: number }) => `${t.level}/${t.index}`;

describe("tile paths", () => {
  it("groups the index in threes with x prefixes (tlog-tiles)", () => {
    expect(tilePath(0, 0)).toBe("tile/0/000");
    expect(tilePath(0, 999)).toBe("tile/0/999");
    expect(tilePath(1, 1000)).toBe("tile/1/x001/000");
    expect(tilePath(2, 1234067)).toBe("tile/2/x001/x234/067");
    expect(tilePath(0, 1234067, 5)).toBe("tile/0/x001/x234/067.p/5");
    expect(tilePath(0, 7, 256)).toBe("tile/0/007");
    expect(tilePath(0, 7, 255)).toBe("tile/0/007.p/255");
    expect(tilePath(0, Number.MAX_SAFE_INTEGER)).toBe("tile/0/x009/x007/x199/x254/x740/991");
    expect(entriesPath(0, 15)).toBe("tile/entries/000.p/15");
    expect(entriesPath(1234067)).toBe("tile/entries/x001/x234/067");
  });

  it("parses canonical paths and round-trips", () => {
    expect(parseTilePath("tile/2/x001/x234/067")).toEqual({ kind: "hashes", level: 2, index: 1234067, width: 256 });
    expect(parseTilePath("tile/0/000.p/1")).toEqual({ kind: "hashes", level: 0, index: 0, width: 1 });
    expect(parseTilePath("tile/entries/x001/000.p/255")).toEqual({ kind: "entries", index: 1000, width: 255 });
    for (const [l, n, w] of [[0, 0, 1], [63, 999, 256], [5, 1000, 17], [1, Number.MAX_SAFE_INTEGER, 256]] as const) {
      const p = parseTilePath(tilePath(l, n, w));
      expect(p).toEqual({ kind: "hashes", level: l, index: n, width: w });
    }
  });

  it("rejects non-canonical and hostile paths", () => {
    const bad = [
      "tile/0/1", "tile/0/0000", "tile/0/x000/001", "tile/0/001/002", "tile/0/x001", "tile/00/000", "tile/64/000",
      "tile/0/000.p/0", "tile/0/000.p/256", "tile/0/000.p/01", "tile/0/000.p/", "/tile/0/000", "tile/0/000/",
      "tile/-1/000", "tile/0/-01", "tile/x/000", "tile/entries/000.p/300", "tile/0/x009/x007/x199/x254/x740/992",
      `tile/0/${"x999/".repeat(30)}999`, "", "tile/0/000\n",
    ];
    for (const p of bad) expect(() => parseTilePath(p), p).toThrow(tileRefusal);
    expect(() => parseTilePath(42 as unknown as string)).toThrow(tileRefusal);
    const badArgs = [[-1, 0], [64, 0], [1.5, 0], [0, -1], [0, 2 ** 53], [0, NaN], [0, 0, 0], [0, 0, 257], [0, 0, 1.5]];
    for (const [l, n, w] of badArgs) {
      expect(() => tilePath(l!, n!, w), `${l},${n},${w}`).toThrow(merkleRefusal);
    }
    expect(() => entriesPath(0, 0)).toThrow(merkleRefusal);
  });
});

describe("tilesForTreeSize", () => {
  /** level -> [full tile count, ...partial (index, width)] */
  const summary = (s: number) => {
    const levels: Record<number, number[]> = {};
    for (const t of tilesForTreeSize(s)) {
      const e = (levels[t.level] ??= [0]);
      if (t.width === 256) e[0]!++;
      else e.push(t.index, t.width);
    }
    return levels;
  };

  it("lists full and right-edge tiles", () => {
    expect(tilesForTreeSize(0)).toEqual([]);
    expect(tilesForTreeSize(1)).toEqual([{ level: 0, index: 0, width: 1 }]);
    expect(tilesForTreeSize(255)).toEqual([{ level: 0, index: 0, width: 255 }]);
    expect(tilesForTreeSize(256)).toEqual([{ level: 0, index: 0, width: 256 }, { level: 1, index: 0, width: 1 }]);
    expect(tilesForTreeSize(257)).toEqual([
      { level: 0, index: 0, width: 256 }, { level: 0, index: 1, width: 1 }, { level: 1, index: 0, width: 1 },
    ]);
    expect(summary(65536)).toEqual({ 0: [256], 1: [1], 2: [0, 0, 1] });
    // The tlog-tiles example: 70,000 = 273·256 + 112; 273 = 256 + 17; floor(70,000 / 65,536) = 1.
    expect(summary(70000)).toEqual({ 0: [273, 273, 112], 1: [1, 1, 17], 2: [0, 0, 1] });
    expect(rightEdgeTileRefs(70000)).toEqual(tilesForTreeSize(70000).filter((t) => t.width < 256));
    expect(tileWidth(70000, 0, 272)).toBe(256);
    expect(tileWidth(70000, 0, 273)).toBe(112);
    expect(tileWidth(70000, 0, 274)).toBe(0);
    expect(tileWidth(70000, 3, 0)).toBe(0);
  });

  it("rejects bad sizes and refuses to list huge trees", () => {
    for (const s of [-1, 1.5, 2 ** 53, NaN, "5"]) expect(() => tilesForTreeSize(s as never)).toThrow(merkleRefusal);
    expect(() => tilesForTreeSize(Number.MAX_SAFE_INTEGER)).toThrow(tileRefusal);
    expect(rightEdgeTileRefs(Number.MAX_SAFE_INTEGER)).toHaveLength(7); // 2^53 - 1: every level 0..6 is partial
  });
});

describe("the Tessera test log", () => {
  const LEAVES = "one two three four five six seven eit nain ten ileven twelf threeten fourten fivten".split(" ");
  const hashes = LEAVES.map((l) => leafHash(new TextEncoder().encode(l)));
  const read = (p: string) => new Uint8Array(readFileSync(LOG + p));

  it("tile/0/000.p/N, tile/entries/000.p/N and checkpoint.N match our leaves for N = 1..15", () => {
    for (let n = 1; n <= 15; n++) {
      const tile = read(tilePath(0, 0, n));
      expect(hex(tile), `tile ${n}`).toBe(hex(encodeTile(hashes.slice(0, n))));
      expect(hexList(decodeTile(tile, n))).toBe(hexList(hashes.slice(0, n)));
      const bundle = read(entriesPath(0, n));
      expect(decodeEntryBundle(bundle, n).map((e) => new TextDecoder().decode(e))).toEqual(LEAVES.slice(0, n));
      expect(hex(encodeEntryBundle(decodeEntryBundle(bundle)))).toBe(hex(bundle));
      const root = readFileSync(`${LOG}checkpoint.${n}`, "utf8").split("\n")[2]!;
      const index = new TileIndex(n, (l, i, w) => decodeTile(read(tilePath(l, i, w)), w));
      expect(Buffer.from(treeRootFrom(n, index.hashAt)).toString("base64"), `root ${n}`).toBe(root);
    }
  });
});

/** mulberry32: a small seeded PRNG so batch sizes are random but reproducible. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("appendLeaves over a 70,000-leaf log", () => {
  const N = 70_000;
  const leaves = Array.from({ length: N }, (_, i) => leafHash(new TextEncoder().encode(`entry ${i}`)));
  const store = new Map<string, Tile>(); // latest version of every tile, as a tile backend would keep
  const fullEmits = new Map<string, number>();
  const violations: string[] = []; // checked in a test rather than thrown while the describe block collects
  const buildRoots: { size: number; root: string }[] = []; // roots read through the tiles as they were then
  const getTile = (level: number, index: number, width: number) => {
    const t = store.get(`${level}/${index}`);
    if (!t || t.width < width) throw new Error(`missing tile ${level}/${index}.p/${width}`);
    return t.hashes;
  };
  const rand = prng(6962);
  let state: TileState = { treeSize: 0, rightEdgeTiles: [] };
  while (state.treeSize < N) {
    const r = rand();
    const batch = r < 0.1 ? 0 : r < 0.5 ? 1 + Math.floor(rand() * 40) : Math.floor(rand() * 3000);
    const next = appendLeaves(state, leaves.slice(state.treeSize, Math.min(N, state.treeSize + batch)));
    for (const t of next.changed) {
      const old = store.get(key(t));
      if (old && t.width <= old.width) violations.push(`tile ${key(t)} re-emitted at width ${t.width} after ${old.width}`);
      const rewrote = old && hexList(t.hashes.slice(0, old.width)) !== hexList(old.hashes);
      if (rewrote) violations.push(`tile ${key(t)} rewrote hashes`);
      if (t.width === 256) fullEmits.set(key(t), (fullEmits.get(key(t)) ?? 0) + 1);
      store.set(key(t), t);
    }
    state = next;
    if (buildRoots.length < 12 && rand() < 0.15) {
      const root = treeRootFrom(state.treeSize, new TileIndex(state.treeSize, getTile).hashAt);
      buildRoots.push({ size: state.treeSize, root: hex(root) });
    }
  }
  const final = new TileIndex(N, getTile);

  it("emits every full tile exactly once and ends with the right tiles", () => {
    const ref = ({ level, index, width }: Tile) => ({ level, index, width });
    const expected = tilesForTreeSize(N);
    expect(violations).toEqual([]);
    expect(expected.filter((t) => t.width === 256).map(key).sort()).toEqual([...fullEmits.keys()].sort());
    expect([...fullEmits.values()].every((c) => c === 1)).toBe(true);
    expect([...store.values()].map(ref).sort((a, b) => a.level - b.level || a.index - b.index)).toEqual(expected);
    expect(state.rightEdgeTiles.map(ref)).toEqual(rightEdgeTileRefs(N));
    // Level-0 tiles are the leaves; each level-L hash is the root of the level-(L-1) tile below it.
    const level0 = expected.filter((t) => t.level === 0).flatMap((t) => store.get(key(t))!.hashes);
    expect(hexList(level0)).toBe(hexList(leaves));
    expect(hex(store.get("1/1")!.hashes[16]!)).toBe(hex(rootFromLeafHashes(leaves.slice(272 * 256, 273 * 256))));
    expect(hex(store.get("2/0")!.hashes[0]!)).toBe(hex(rootFromLeafHashes(leaves.slice(0, 65536))));
  });

  it("gives the same roots as the leaf list, both during the build and from the final tiles", () => {
    // Reference: MTH(D[0:s]) straight from the RFC 6962 §2.1 recursion over the leaves, caching perfect
    // subtrees (they recur across sizes); itself checked against rootFromLeafHashes at N and 1,000.
    const memo = new Map<string, Uint8Array>();
    const mth = (lo: number, hi: number): Uint8Array => {
      if (hi - lo === 1) return leaves[lo]!;
      let k = 1;
      while (k * 2 < hi - lo) k *= 2;
      const id = `${lo}:${hi}`;
      const cached = memo.get(id);
      if (cached) return cached;
      const h = nodeHash(mth(lo, lo + k), mth(lo + k, hi));
      if (k * 2 === hi - lo) memo.set(id, h);
      return h;
    };
    const reference = (s: number) => hex(mth(0, s));
    expect(reference(1000)).toBe(hex(rootFromLeafHashes(leaves.slice(0, 1000))));
    expect(reference(N)).toBe(hex(rootFromLeafHashes(leaves)));
    expect(buildRoots.length).toBeGreaterThan(3);
    for (const { size, root } of buildRoots) expect(root, `size ${size}`).toBe(reference(size));
    for (const s of [1, 255, 256, 257, 4095, 65536, 65537, 69887, 69888, 69999, N]) {
      expect(hex(treeRootFrom(s, new TileIndex(s, getTile).hashAt)), `size ${s}`).toBe(reference(s));
    }
  });

  it("gives the same inclusion and consistency proofs as the leaf list, fetching only tilesNeeded", () => {
    const rand2 = prng(9162);
    const pick = (max: number) => 1 + Math.floor(rand2() * max);
    // A large tree costs ~70k hashes per proof in the leaf-list generators, so two large sizes, ten small.
    for (let k = 0; k < 12; k++) {
      const size = k < 2 ? [N, 65_536 + pick(N - 65_536)][k]! : pick(k % 2 ? 3000 : 600);
      const index = Math.floor(rand2() * size);
      const m = pick(size);
      const inc = tilesNeeded(planNodes(inclusionPlan(index, size)), size);
      const con = tilesNeeded(planNodes(consistencyPlan(m, size)), size);
      // A getTile that only knows the listed tiles proves the list is complete.
      const only = (refs: ReturnType<typeof tilesNeeded>) =>
        new TileIndex(size, (l, i, w) => {
          if (!refs.some((r) => r.level === l && r.index === i && r.width === w)) throw new Error(`unlisted ${l}/${i}/${w}`);
          return getTile(l, i, w);
        }).hashAt;
      const label = `index ${index}, m ${m}, size ${size}`;
      expect(hexList(inclusionProofFrom(index, size, only(inc))), label).toBe(hexList(inclusionProof(leaves, index, size)));
      expect(hexList(consistencyProofFrom(m, size, only(con))), label).toBe(hexList(consistencyProof(leaves, m, size)));
    }
  });

  it("maps nodes to tiles as documented", () => {
    expect(locateNode(0, 300, N)).toEqual({ tile: { level: 0, index: 1, width: 256 }, offset: 44, count: 1 });
    expect(locateNode(8, 272, N)).toEqual({ tile: { level: 1, index: 1, width: 17 }, offset: 16, count: 1 });
    expect(locateNode(11, 33, N)).toEqual({ tile: { level: 1, index: 1, width: 17 }, offset: 8, count: 8 });
    expect(locateNode(16, 0, N)).toEqual({ tile: { level: 2, index: 0, width: 1 }, offset: 0, count: 1 });
    expect(hex(final.hashAt(11, 33))).toBe(hex(rootFromLeafHashes(leaves.slice(33 * 2048, 34 * 2048))));
    expect(() => locateNode(11, 34, N)).toThrow(merkleRefusal); // [69632, 71680) is past the tree
    expect(() => final.hashAt(17, 0)).toThrow(merkleRefusal);
    expect(() => final.hashAt(-1, 0)).toThrow(merkleRefusal);
    expect(() => tilesNeeded([{ level: 0, index: N }], N)).toThrow(merkleRefusal);
    expect(() => tilesNeeded({} as never, N)).toThrow(tileRefusal);
  });

  it("refuses inconsistent state and hostile leaf input", () => {
    const right = state.rightEdgeTiles;
    const bad: TileState[] = [
      { treeSize: N, rightEdgeTiles: right.slice(1) },
      { treeSize: N + 1, rightEdgeTiles: right },
      { treeSize: N, rightEdgeTiles: [{ ...right[0]!, index: 0 }, ...right.slice(1)] },
      { treeSize: N, rightEdgeTiles: [{ ...right[0]!, hashes: right[0]!.hashes.slice(1) }, ...right.slice(1)] },
      { treeSize: N, rightEdgeTiles: [right[0]!, right[0]!, right[2]!] },
      { treeSize: N, rightEdgeTiles: null as never },
      { treeSize: 1, rightEdgeTiles: [{ level: 0, index: 0, width: 1, hashes: [filled(1, 31)] }] },
    ];
    for (const s of bad) expect(() => appendLeaves(s, [leaves[0]!])).toThrow(/right-edge|must be|size/);
    expect(() => appendLeaves({ treeSize: -1, rightEdgeTiles: [] }, [])).toThrow(merkleRefusal);
    expect(() => appendLeaves({ treeSize: 0, rightEdgeTiles: [] }, [filled(1, 33)])).toThrow(merkleRefusal);
    expect(() => appendLeaves({ treeSize: 0, rightEdgeTiles: [] }, "x" as never)).toThrow(tileRefusal);
    const edge = rightEdgeTileRefs(Number.MAX_SAFE_INTEGER).map((r) => ({ ...r, hashes: Array(r.width).fill(filled(0)) }));
    const full = { treeSize: Number.MAX_SAFE_INTEGER, rightEdgeTiles: edge };
    expect(() => appendLeaves(full, [leaves[0]!])).toThrow(merkleRefusal); // 2^53 leaves is not a safe size
    expect(appendLeaves(state, [])).toEqual({ treeSize: N, rightEdgeTiles: state.rightEdgeTiles, changed: [] });
    expect(() => new TileIndex(N, () => getTile(0, 0, 256).slice(0, 10)).hashAt(0, 300)).toThrow(tileRefusal);
    expect(() => new TileIndex(N, () => [filled(1, 31)]).hashAt(16, 0)).toThrow(merkleRefusal);
  });
});

describe("tile and bundle encodings", () => {
  it("rejects malformed tiles", () => {
    for (const n of [0, 31, 33, 257 * 32]) expect(() => decodeTile(new Uint8Array(n)), `${n}`).toThrow(tileRefusal);
    expect(decodeTile(new Uint8Array(256 * 32))).toHaveLength(256);
    expect(() => decodeTile(new Uint8Array(64), 3)).toThrow(tileRefusal);
    expect(() => decodeTile("x" as never)).toThrow(tileRefusal);
    expect(() => encodeTile([])).toThrow(tileRefusal);
    expect(() => encodeTile(Array(257).fill(filled(1)))).toThrow(tileRefusal);
    expect(() => encodeTile([filled(1), filled(2, 31)])).toThrow(merkleRefusal);
  });

  it("round-trips bundles and rejects malformed ones", () => {
    const entries = [new Uint8Array(0), filled(7, 300), filled(9, 0xffff)];
    const bytes = encodeEntryBundle(entries);
    expect(bytes.length).toBe(6 + 300 + 0xffff);
    expect([...bytes.subarray(0, 4)]).toEqual([0, 0, 1, 44]);
    expect(decodeEntryBundle(bytes, 3).map((e) => e.length)).toEqual([0, 300, 0xffff]);
    for (const b of [new Uint8Array(0), Uint8Array.of(0), Uint8Array.of(0, 2, 1), new Uint8Array(257 * 2)]) {
      expect(() => decodeEntryBundle(b), `${b.length}`).toThrow(tileRefusal);
    }
    expect(() => decodeEntryBundle(bytes, 2)).toThrow(tileRefusal);
    expect(() => encodeEntryBundle([filled(1, 0x10000)])).toThrow(tileRefusal);
    expect(() => encodeEntryBundle([])).toThrow(tileRefusal);
    expect(() => encodeEntryBundle(Array(257).fill(new Uint8Array(0)))).toThrow(tileRefusal);
  });
});

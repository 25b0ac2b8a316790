/**
 * The RFC 6962 / RFC 9162 Merkle core against three independent sources of truth:
 * - the transparency-dev/merkle vectors (every file in test/vectors/rfc6962, loaded dynamically);
 * - a naive recursive implementation written here straight from the RFC 6962 §2.1 definitions, compared
 *   exhaustively for every 0 <= i < n <= 256 and 1 <= m <= n <= 256;
 * - a real C2SP tlog-tiles log written by Trillian Tessera (test/vectors/c2sp-tessera-log).
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  consistencyPlan,
  consistencyProof,
  consistencyProofFrom,
  emptyRoot,
  inclusionPlan,
  inclusionProof,
  inclusionProofFrom,
  leafHash,
  nodeHash,
  planNodes,
  rangeHash,
  rangeNodes,
  rootFromInclusionProof,
  rootFromLeafHashes,
  treeRootFrom,
  verifyConsistency,
  verifyInclusion,
  type HashAt,
} from "../../src/ledger/core/merkle.js";
import { isLedgerError } from "../../src/ledger/core/ledger-error.js";

const VECTORS = fileURLToPath(new URL("../vectors/", import.meta.url));
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const hexList = (bs: readonly Uint8Array[]) => bs.map(hex).join(",");
const fromHex = (s: string) => new Uint8Array(Buffer.from(s, "hex"));
const b64 = (s: string) => new Uint8Array(Buffer.from(s, "base64"));
const filled = (byte: number, length = 32) => new Uint8Array(length).fill(byte);

/** "accepted" or "rejected"; a malformed-input LedgerError with a Merkle code counts as rejected, any other error fails. */
function outcome(check: () => boolean): "accepted" | "rejected" {
  try {
    return check() ? "accepted" : "rejected";
  } catch (err) {
    if (isLedgerError(err, "invalid_number", "out_of_range", "hash_length", "proof_length")) return "rejected";
    throw err;
  }
}

// ---------- naive reference, straight from RFC 6962 §2.1 (independent of the module) ----------

const sha = (...parts: Uint8Array[]) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
const refLeaf = (d: Uint8Array) => sha(Uint8Array.of(0), d);
const refNode = (l: Uint8Array, r: Uint8Array) => sha(Uint8Array.of(1), l, r);
const refSplit = (n: number) => {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
};

const MAX = 256;
const D = Array.from({ length: MAX }, (_, i) => refLeaf(new TextEncoder().encode(`leaf ${i}`)));
const mthMemo = new Map<number, Uint8Array>();
/** MTH(D[lo:hi]). Memoised only for speed: it does not depend on the tree size the range is part of. */
function mth(lo: number, hi: number): Uint8Array {
  const n = hi - lo;
  if (n === 0) return sha();
  if (n === 1) return D[lo]!;
  const key = lo * 1024 + hi;
  let r = mthMemo.get(key);
  if (!r) {
    const k = refSplit(n);
    r = refNode(mth(lo, lo + k), mth(lo + k, hi));
    mthMemo.set(key, r);
  }
  return r;
}
/** PATH(m, D[lo:hi]), m relative to lo (RFC 6962 §2.1.1). */
function refPath(m: number, lo: number, hi: number): Uint8Array[] {
  const n = hi - lo;
  if (n === 1) return [];
  const k = refSplit(n);
  return m < k ? [...refPath(m, lo, lo + k), mth(lo + k, hi)] : [...refPath(m - k, lo + k, hi), mth(lo, lo + k)];
}
/** SUBPROOF(m, D[lo:hi], b), m relative to lo (RFC 6962 §2.1.2). */
function refSubproof(m: number, lo: number, hi: number, b: boolean): Uint8Array[] {
  const n = hi - lo;
  if (m === n) return b ? [] : [mth(lo, hi)];
  const k = refSplit(n);
  return m <= k
    ? [...refSubproof(m, lo, lo + k, b), mth(lo + k, hi)]
    : [...refSubproof(m - k, lo + k, hi, false), mth(lo, lo + k)];
}

/** A node store for the first n leaves of D, holding only perfect subtrees, as a tile backend would. */
function storedNodes(n: number): HashAt {
  return (level, index) => {
    const width = 2 ** level;
    const lo = index * width;
    if (!Number.isSafeInteger(lo) || lo + width > n) throw new Error(`asked for node (${level}, ${index}) outside size ${n}`);
    return mth(lo, lo + width);
  };
}

// ---------- official vectors ----------

interface InclusionVector { leafIdx: number; treeSize: number; root: string; leafHash: string; proof: string[] | null; wantErr: boolean }
interface ConsistencyVector { size1: number; size2: number; root1: string; root2: string; proof: string[] | null; wantErr: boolean }

function jsonFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? jsonFiles(join(dir, e.name)) : e.name.endsWith(".json") ? [join(dir, e.name)] : []))
    .sort();
}
const RFC_DIR = join(VECTORS, "rfc6962");
const load = <T>(kind: string) =>
  jsonFiles(join(RFC_DIR, kind)).map((f) => ({ name: relative(RFC_DIR, f), v: JSON.parse(readFileSync(f, "utf8")) as T }));
const inclusionVectors = load<InclusionVector>("inclusion");
const consistencyVectors = load<ConsistencyVector>("consistency");

describe("RFC 6962 vectors (transparency-dev/merkle)", () => {
  it("loads the vector files", () => {
    expect(inclusionVectors.length).toBeGreaterThan(0);
    expect(consistencyVectors.length).toBeGreaterThan(0);
    expect(inclusionVectors.some((c) => c.v.wantErr) && consistencyVectors.some((c) => c.v.wantErr)).toBe(true);
  });

  it.each(inclusionVectors)("$name", ({ v }) => {
    const result = outcome(() =>
      verifyInclusion(b64(v.leafHash), v.leafIdx, v.treeSize, (v.proof ?? []).map(b64), b64(v.root)),
    );
    expect(result).toBe(v.wantErr ? "rejected" : "accepted");
  });

  it.each(consistencyVectors)("$name", ({ v }) => {
    const result = outcome(() =>
      verifyConsistency(v.size1, v.size2, (v.proof ?? []).map(b64), b64(v.root1), b64(v.root2)),
    );
    expect(result).toBe(v.wantErr ? "rejected" : "accepted");
  });
});

// ---------- hashes and roots ----------

describe("hashes and roots", () => {
  it("uses the RFC 6962 §2.1 prefixes and the SHA-256 empty root", () => {
    expect(hex(emptyRoot())).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(hex(leafHash(new Uint8Array()))).toBe("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
    expect(hex(nodeHash(D[0]!, D[1]!))).toBe(hex(refNode(D[0]!, D[1]!)));
    expect(rootFromLeafHashes([])).toEqual(emptyRoot());
  });

  it("computes MTH for every size 0..256, from a leaf list and from stored subtrees", () => {
    const bad: number[] = [];
    for (let n = 0; n <= MAX; n++) {
      const want = hex(mth(0, n));
      if (hex(rootFromLeafHashes(D.slice(0, n))) !== want || hex(treeRootFrom(n, storedNodes(n))) !== want) bad.push(n);
    }
    expect(bad).toEqual([]);
  });

  it("reproduces the Ledgix §4.13 leaves, roots and proofs", () => {
    const leaves = [
      "bdb76519fc78b38f1ccaa067b5387e6a11028a7de6545ea4db5b82d245e4e3b4",
      "d2e299de53b259b4c66a78eae29e3d6822bcd709805b2843e7195255efab475f",
      "5ccc7fe0c705458fe8107e6be62470612e0049dfa9c16e4b01ce349326108f9e",
    ].map((eventHash) => leafHash(fromHex(eventHash)));
    expect(leaves.map(hex)).toEqual([
      "e2e77a51bcbc42b93302aafc08e2294da3a07533aeca20f83220a3a66e4d1e1e",
      "9fa3679c5fc148bb8ae13b00d2bfc4385ddc57ac0f1377adb220d2f1fea0d35e",
      "9ea04c24115a9acd25cad1fe589d5a1ce693ca32ca2a1a302e6bdf39ee4df11b",
    ]);
    const root2 = rootFromLeafHashes(leaves.slice(0, 2));
    const root3 = rootFromLeafHashes(leaves);
    expect(hex(root2)).toBe("1fbd28ecaf23091d59e14f27f43cade7c43231c42238bf9a99cc15af35bf9c7a");
    expect(hex(root3)).toBe("aba498ba5805e0bb72ea3ac4f31f77a7355427f5226d61e0f3c8a5a3877b8dac");
    expect(hexList(inclusionProof(leaves, 0, 3))).toBe(hexList([leaves[1]!, leaves[2]!]));
    expect(hexList(inclusionProof(leaves, 2, 3))).toBe(hex(root2));
    expect(hexList(consistencyProof(leaves, 2, 3))).toBe(hex(leaves[2]!));
    expect(verifyConsistency(2, 3, [leaves[2]!], root2, root3)).toBe(true);
  });
});

// ---------- generators against the naive reference ----------

describe("proof generation agrees with the RFC definitions", () => {
  it("inclusion: every 0 <= i < n <= 256, from stored subtrees, and every proof verifies", () => {
    const bad: string[] = [];
    let count = 0;
    for (let n = 1; n <= MAX; n++) {
      const hashAt = storedNodes(n);
      const root = mth(0, n);
      for (let i = 0; i < n; i++, count++) {
        const proof = inclusionProofFrom(i, n, hashAt);
        if (hexList(proof) !== hexList(refPath(i, 0, n))) bad.push(`path ${i}/${n}`);
        if (!verifyInclusion(D[i]!, i, n, proof, root)) bad.push(`verify ${i}/${n}`);
      }
    }
    expect(count).toBe((MAX * (MAX + 1)) / 2);
    expect(bad).toEqual([]);
  });

  it("consistency: every 1 <= m <= n <= 256, from stored subtrees, and every proof verifies", () => {
    const bad: string[] = [];
    let count = 0;
    for (let n = 1; n <= MAX; n++) {
      const hashAt = storedNodes(n);
      for (let m = 1; m <= n; m++, count++) {
        const proof = consistencyProofFrom(m, n, hashAt);
        if (hexList(proof) !== hexList(refSubproof(m, 0, n, true))) bad.push(`proof ${m}->${n}`);
        if (!verifyConsistency(m, n, proof, mth(0, m), mth(0, n))) bad.push(`verify ${m}->${n}`);
      }
    }
    expect(count).toBe((MAX * (MAX + 1)) / 2);
    expect(bad).toEqual([]);
  });

  it("the leaf-list generators agree too (exhaustive to 32, sampled to 256, older trees from a longer list)", () => {
    const bad: string[] = [];
    const sizes = [...Array.from({ length: 32 }, (_, i) => i + 1), 63, 64, 65, 127, 200, 255, 256];
    for (const n of sizes) {
      const points = n <= 32 ? Array.from({ length: n }, (_, i) => i) : [0, 1, n >> 1, n - 2, n - 1];
      for (const i of points) {
        if (hexList(inclusionProof(D, i, n)) !== hexList(refPath(i, 0, n))) bad.push(`path ${i}/${n}`);
        if (hexList(consistencyProof(D, i + 1, n)) !== hexList(refSubproof(i + 1, 0, n, true))) bad.push(`proof ${i + 1}->${n}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it("rejects every single-bit change to a proof, root or leaf (all trees up to 24)", () => {
    const accepted: string[] = [];
    const flip = (b: Uint8Array, bit: number) => {
      const c = b.slice();
      c[bit >> 3]! ^= 1 << (bit & 7);
      return c;
    };
    for (let n = 1; n <= 24; n++) {
      for (let i = 0; i < n; i++) {
        const proof = refPath(i, 0, n);
        const bit = (i * 37 + n) % 256;
        proof.forEach((_, j) => {
          const tampered = proof.map((p, k) => (k === j ? flip(p, bit) : p));
          if (outcome(() => verifyInclusion(D[i]!, i, n, tampered, mth(0, n))) !== "rejected") accepted.push(`incl ${i}/${n}@${j}`);
        });
        if (outcome(() => verifyInclusion(flip(D[i]!, bit), i, n, proof, mth(0, n))) !== "rejected") accepted.push(`leaf ${i}/${n}`);
        if (i + 1 < n && outcome(() => verifyInclusion(D[i]!, i + 1, n, proof, mth(0, n))) !== "rejected") accepted.push(`index ${i}/${n}`);
        const m = i + 1;
        const cproof = refSubproof(m, 0, n, true);
        cproof.forEach((_, j) => {
          const tampered = cproof.map((p, k) => (k === j ? flip(p, bit) : p));
          if (outcome(() => verifyConsistency(m, n, tampered, mth(0, m), mth(0, n))) !== "rejected") accepted.push(`cons ${m}->${n}@${j}`);
        });
        if (outcome(() => verifyConsistency(m, n, cproof, flip(mth(0, m), bit), mth(0, n))) !== "rejected") accepted.push(`old ${m}->${n}`);
        if (outcome(() => verifyConsistency(m, n, cproof, mth(0, m), flip(mth(0, n), bit))) !== "rejected") accepted.push(`new ${m}->${n}`);
      }
    }
    expect(accepted).toEqual([]);
  });

  it("plans name only perfect, in-tree subtrees that a tile store can serve", () => {
    expect(rangeNodes({ start: 8, end: 15 })).toEqual([
      { level: 2, index: 2 },
      { level: 1, index: 6 },
      { level: 0, index: 14 },
    ]);
    expect(planNodes(inclusionPlan(5, 13))).toEqual([
      { level: 0, index: 4 },
      { level: 1, index: 3 },
      { level: 2, index: 0 },
      { level: 2, index: 2 },
      { level: 0, index: 12 },
    ]);
    expect(consistencyPlan(7, 7)).toEqual([]);
    expect(() => rangeNodes({ start: 1, end: 4 })).toThrow(expect.objectContaining({ name: "LedgerError", code: "out_of_range" })); // not a node of any RFC 6962 tree
  });
});

// ---------- hostile input ----------

describe("hostile input throws LedgerError with a Merkle code or returns false, and never hangs", () => {
  const leaf = filled(1);
  const root = filled(2);
  const notCounts: unknown[] = [-1, -0.5, 1.5, NaN, Infinity, -Infinity, 2 ** 53, 2 ** 64, Number.MAX_VALUE, "3", null, undefined, 3n, {}];
  const expectCode = (f: () => unknown, code: string) =>
    expect(f).toThrow(expect.objectContaining({ name: "LedgerError", code }));

  it("refuses sizes and indices that are not safe non-negative integers", () => {
    for (const bad of notCounts as number[]) {
      expectCode(() => verifyInclusion(leaf, bad, 8, [], root), "invalid_number");
      expectCode(() => verifyInclusion(leaf, 0, bad, [], root), "invalid_number");
      expectCode(() => verifyConsistency(bad, 8, [], root, root), "invalid_number");
      expectCode(() => verifyConsistency(1, bad, [], root, root), "invalid_number");
      expectCode(() => inclusionProof(D, bad, 8), "invalid_number");
      expectCode(() => consistencyProof(D, 1, bad), "invalid_number");
      expectCode(() => treeRootFrom(bad, storedNodes(8)), "invalid_number");
    }
  });

  it("refuses index >= size, m > n and m = 0 (the SDK would loop forever on m = 0)", () => {
    expectCode(() => verifyInclusion(leaf, 8, 8, [], root), "out_of_range");
    expectCode(() => verifyInclusion(leaf, 0, 0, [], root), "out_of_range");
    expectCode(() => rootFromInclusionProof(leaf, 2 ** 53 - 1, 2 ** 53 - 1, []), "out_of_range");
    expectCode(() => verifyConsistency(5, 4, [], root, root), "out_of_range");
    expectCode(() => verifyConsistency(0, 5, [root], root, root), "out_of_range");
    expectCode(() => verifyConsistency(0, 0, [], root, root), "out_of_range");
    expectCode(() => inclusionProof(D, 3, 3), "out_of_range");
    expectCode(() => inclusionProof(D, 0, MAX + 1), "out_of_range"); // more leaves than given
    expectCode(() => consistencyProof(D, 0, 5), "out_of_range");
    expectCode(() => consistencyProof(D, 6, 5), "out_of_range");
  });

  it("refuses proofs that are too long or too short, checking the length before any element", () => {
    const proof = refPath(13, 0, 37);
    expect(verifyInclusion(D[13]!, 13, 37, proof, mth(0, 37))).toBe(true);
    expectCode(() => verifyInclusion(D[13]!, 13, 37, [...proof, root], mth(0, 37)), "proof_length");
    expectCode(() => verifyInclusion(D[13]!, 13, 37, proof.slice(1), mth(0, 37)), "proof_length");
    expectCode(() => verifyInclusion(D[13]!, 13, 37, [], mth(0, 37)), "proof_length");
    const cproof = refSubproof(11, 0, 37, true);
    expectCode(() => verifyConsistency(11, 37, [...cproof, root], mth(0, 11), mth(0, 37)), "proof_length");
    expectCode(() => verifyConsistency(11, 37, cproof.slice(0, -1), mth(0, 11), mth(0, 37)), "proof_length");
    expectCode(() => verifyConsistency(11, 11, [root], mth(0, 11), mth(0, 11)), "proof_length");
    const huge: Uint8Array[] = [];
    huge.length = 2 ** 32 - 1; // a sparse array as long as JavaScript allows
    expectCode(() => verifyInclusion(leaf, 1, 3, huge, root), "proof_length");
    expectCode(() => verifyConsistency(3, 7, huge, root, root), "proof_length");
    expectCode(() => verifyInclusion(leaf, 0, 2, "x" as unknown as Uint8Array[], root), "proof_length");
  });

  it("refuses hashes that are not 32-byte Uint8Arrays", () => {
    const proof = refPath(2, 0, 5);
    for (const bad of [filled(1, 31), filled(1, 33), new Uint8Array(), "00".repeat(32), null] as Uint8Array[]) {
      expectCode(() => verifyInclusion(bad, 2, 5, proof, mth(0, 5)), "hash_length");
      expectCode(() => verifyInclusion(D[2]!, 2, 5, proof, bad), "hash_length");
      expectCode(() => verifyInclusion(D[2]!, 2, 5, [bad, ...proof.slice(1)], mth(0, 5)), "hash_length");
      const cproof = refSubproof(3, 0, 5, true);
      expectCode(() => verifyConsistency(3, 5, [bad, ...cproof.slice(1)], mth(0, 3), mth(0, 5)), "hash_length");
      expectCode(() => verifyConsistency(3, 5, cproof, bad, mth(0, 5)), "hash_length");
      expectCode(() => nodeHash(bad, root), "hash_length");
      expectCode(() => rootFromLeafHashes([root, bad]), "hash_length");
      expectCode(() => inclusionProofFrom(1, 5, () => bad), "hash_length"); // a corrupt node store
    }
  });

  it("terminates at the largest sizes, asking only for in-tree nodes", () => {
    const top = Number.MAX_SAFE_INTEGER;
    const asked: string[] = [];
    const anyNode: HashAt = (level, index) => {
      if (!((index + 1) * 2 ** level <= top)) asked.push(`${level}/${index}`);
      return filled(level);
    };
    const incl = inclusionProofFrom(top - 2, top, anyNode);
    expect(incl.length).toBeLessThanOrEqual(54);
    expect(verifyInclusion(leaf, top - 2, top, incl, root)).toBe(false);
    expect(verifyInclusion(leaf, 0, top, inclusionProofFrom(0, top, anyNode), root)).toBe(false);
    const cons = consistencyProofFrom(2 ** 52 + 1, top, anyNode);
    expect(verifyConsistency(2 ** 52 + 1, top, cons, root, root)).toBe(false);
    expect(verifyConsistency(1, top, consistencyProofFrom(1, top, anyNode), leaf, root)).toBe(false);
    expect(verifyConsistency(top - 1, top, consistencyProofFrom(top - 1, top, anyNode), leaf, root)).toBe(false);
    expect(hex(treeRootFrom(top, anyNode))).toHaveLength(64);
    expect(asked).toEqual([]);
    expect(() => rangeHash({ start: 0, end: 2 ** 53 }, anyNode)).toThrow(expect.objectContaining({ name: "LedgerError", code: "invalid_number" }));
  });
});

// ---------- a real C2SP tlog-tiles log (Trillian Tessera test data) ----------

describe("C2SP tlog-tiles log from Tessera", () => {
  const dir = join(VECTORS, "c2sp-tessera-log");
  const names = "one two three four five six seven eit nain ten ileven twelf threeten fourten fivten".split(" ");
  const checkpoint = (file: string) => {
    const [origin, size, root] = readFileSync(join(dir, file), "utf8").split("\n");
    return { origin, size: Number(size), root: b64(root!) };
  };
  /** An entry bundle: each entry is a 2-byte big-endian length then the entry bytes (C2SP tlog-tiles). */
  const parseBundle = (bytes: Uint8Array) => {
    const entries: Uint8Array[] = [];
    for (let pos = 0; pos < bytes.length; ) {
      if (pos + 2 > bytes.length) throw new Error("truncated length prefix");
      const len = (bytes[pos]! << 8) | bytes[pos + 1]!;
      if (pos + 2 + len > bytes.length) throw new Error("truncated entry");
      entries.push(bytes.subarray(pos + 2, pos + 2 + len));
      pos += 2 + len;
    }
    return entries;
  };
  const read = (path: string) => new Uint8Array(readFileSync(join(dir, path)));
  const tileHashes = (bytes: Uint8Array) =>
    Array.from({ length: bytes.length / 32 }, (_, i) => bytes.subarray(i * 32, i * 32 + 32));
  const checkpoints = Array.from({ length: 16 }, (_, n) => checkpoint(`checkpoint.${n}`));

  it("recomputes every checkpoint root from the entry bundles, and level-0 tiles are the leaf hashes", () => {
    expect(checkpoints.map((c) => c.size)).toEqual(Array.from({ length: 16 }, (_, n) => n));
    expect(checkpoints[0]!.root).toEqual(emptyRoot());
    expect(checkpoint("checkpoint")).toEqual(checkpoints[15]);
    for (let n = 1; n <= 15; n++) {
      const entries = parseBundle(read(`tile/entries/000.p/${n}`));
      expect(entries.map((e) => Buffer.from(e).toString("ascii"))).toEqual(names.slice(0, n));
      const leaves = entries.map(leafHash);
      expect(hexList(tileHashes(read(`tile/0/000.p/${n}`)))).toBe(hexList(leaves));
      expect(hex(rootFromLeafHashes(leaves))).toBe(hex(checkpoints[n]!.root));
    }
  });

  it("proves every entry into and every checkpoint consistent with every later one, from the tile alone", () => {
    const tile = tileHashes(read("tile/0/000.p/15"));
    for (let n = 1; n <= 15; n++) {
      const { root } = checkpoints[n]!;
      for (let i = 0; i < n; i++) expect(verifyInclusion(tile[i]!, i, n, inclusionProof(tile, i, n), root)).toBe(true);
      for (let m = 1; m <= n; m++) {
        expect(verifyConsistency(m, n, consistencyProof(tile, m, n), checkpoints[m]!.root, root)).toBe(true);
      }
    }
  });
});

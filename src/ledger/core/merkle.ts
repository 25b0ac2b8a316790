/**
 * RFC 6962 / RFC 9162 Merkle tree core for the per-tenant ledger: hashes, roots, proof generation and proof
 * verification. Pure functions, no I/O (ARCHITECTURE.md rule 7).
 *
 * Conventions:
 * - Hashes are 32-byte Uint8Arrays (SHA-256, the only hash RFC 6962 §2.1 defines).
 * - Sizes and indices are numbers that must be safe non-negative integers; anything else throws.
 * - Verifiers throw LedgerError for malformed input (bad numbers, index >= size, wrong hash or proof
 *   length) and return false only for a well-formed proof that does not reproduce the root. Callers that
 *   just want "valid or not" treat both as invalid.
 *
 * Proof generation comes in two forms:
 * - from a full list of leaf hashes (`inclusionProof`, `consistencyProof`): O(n) hashing, for tests, small
 *   trees and fsck;
 * - from a node accessor `hashAt(level, index)` returning the hash of the PERFECT subtree
 *   [index·2^level, (index+1)·2^level) (`inclusionProofFrom`, `consistencyProofFrom`). Only perfect subtrees
 *   are asked for because they are immutable once written, which is what stored-subtree and C2SP tile
 *   backends keep; right-edge subtrees of a growing tree are recomputed from them (`rangeHash`). A backend
 *   that must fetch asynchronously calls `inclusionPlan` / `consistencyPlan` + `planNodes` first, loads those
 *   nodes in one query, then calls `proofFromPlan` with a synchronous lookup.
 */
import { sha256 } from "./crypto.js";
import { LedgerError } from "./ledger-error.js";
import { checkCount, consistencyPlan, inclusionPlan, isPowerOfTwo, rangeNodes, type LeafRange } from "./merkle-proofs.js";

export {
  consistencyPlan,
  inclusionPlan,
  planNodes,
  rangeNodes,
  type LeafRange,
  type NodeRef,
} from "./merkle-proofs.js";

export const HASH_SIZE = 32;

/** Returns the hash of the perfect subtree [index·2^level, (index+1)·2^level). */
export type HashAt = (level: number, index: number) => Uint8Array;

// RFC 6962 §2.1 domain separation: leaves and interior nodes hash under different prefixes, so a leaf can
// never be passed off as an interior node (second-preimage defence).
const LEAF_PREFIX = Uint8Array.of(0x00);
const NODE_PREFIX = Uint8Array.of(0x01);

function checkHash(name: string, value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length !== HASH_SIZE) {
    const got = value instanceof Uint8Array ? `${value.length} bytes` : typeof value;
    throw new LedgerError("hash_length", `${name} must be a ${HASH_SIZE}-byte hash, got ${got}`);
  }
  return value;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** MTH({d}) = SHA-256(0x00 || d) (RFC 6962 §2.1). Leaf data may be any length, including empty. */
export function leafHash(data: Uint8Array): Uint8Array {
  if (!(data instanceof Uint8Array)) throw new LedgerError("hash_length", "leaf data must be a Uint8Array");
  return sha256(LEAF_PREFIX, data);
}

// One buffer hashed in one call: with node:crypto that is crypto.hash (crypto.ts), about a third faster
// than a Hash object fed three parts; proofs and tile building spend most of their time here.
const nodeInput = new Uint8Array(1 + 2 * HASH_SIZE);
nodeInput.set(NODE_PREFIX);

/** SHA-256(0x01 || left || right) (RFC 6962 §2.1). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  checkHash("left child", left);
  checkHash("right child", right);
  nodeInput.set(left, 1);
  nodeInput.set(right, 1 + HASH_SIZE);
  return sha256(nodeInput);
}

/** MTH({}) = SHA-256() (RFC 6962 §2.1). Note: the Ledgix SDK represents the empty root as "" instead. */
export function emptyRoot(): Uint8Array {
  return sha256();
}

/**
 * MTH(D[n]) from leaf hashes (RFC 6962 §2.1), iteratively: hash adjacent pairs level by level and carry an
 * odd last node up unchanged. That yields the §2.1 split at the largest power of two below n, because pairs
 * never straddle that boundary and the right part (at most as large as the left) finishes no later.
 */
export function rootFromLeafHashes(hashes: readonly Uint8Array[]): Uint8Array {
  if (!Array.isArray(hashes)) throw new LedgerError("hash_length", "leaf hashes must be an array");
  if (hashes.length === 0) return emptyRoot();
  let level = hashes.map((h, i) => checkHash(`leaf hash ${i}`, h));
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(nodeHash(level[i]!, level[i + 1]!));
    if (level.length % 2 === 1) next.push(level[level.length - 1]!);
    level = next;
  }
  return level[0]!;
}

/** MTH(D[start:end]) as the right fold of its perfect subtrees (see `rangeNodes`). */
export function rangeHash(range: LeafRange, hashAt: HashAt): Uint8Array {
  const hashes = rangeNodes(range).map(({ level, index }) =>
    checkHash(`hashAt(${level}, ${index})`, hashAt(level, index)),
  );
  let acc = hashes[hashes.length - 1]!; // rangeNodes never returns an empty list
  for (let i = hashes.length - 2; i >= 0; i--) acc = nodeHash(hashes[i]!, acc);
  return acc;
}

/** Turns a plan from `inclusionPlan` / `consistencyPlan` into proof hashes. */
export function proofFromPlan(plan: readonly LeafRange[], hashAt: HashAt): Uint8Array[] {
  return plan.map((range) => rangeHash(range, hashAt));
}

/** MTH(D[treeSize]) from stored perfect subtrees. */
export function treeRootFrom(treeSize: number, hashAt: HashAt): Uint8Array {
  checkCount("tree size", treeSize);
  return treeSize === 0 ? emptyRoot() : rangeHash({ start: 0, end: treeSize }, hashAt);
}

/** PATH(index, D[treeSize]) (RFC 6962 §2.1.1) from stored perfect subtrees. */
export function inclusionProofFrom(index: number, treeSize: number, hashAt: HashAt): Uint8Array[] {
  return proofFromPlan(inclusionPlan(index, treeSize), hashAt);
}

/** PROOF(m, D[n]) (RFC 6962 §2.1.2) from stored perfect subtrees. */
export function consistencyProofFrom(m: number, n: number, hashAt: HashAt): Uint8Array[] {
  return proofFromPlan(consistencyPlan(m, n), hashAt);
}

/** A HashAt over an in-memory leaf list; each node costs O(2^level) hashes, with no caching. */
function leafListHashAt(leafHashes: readonly Uint8Array[], treeSize: number): HashAt {
  if (!Array.isArray(leafHashes)) throw new LedgerError("hash_length", "leaf hashes must be an array");
  if (treeSize > leafHashes.length) {
    throw new LedgerError("out_of_range", `tree size ${treeSize} exceeds the ${leafHashes.length} leaves given`);
  }
  return (level, index) => {
    const width = 2 ** level;
    const start = index * width;
    // The planners only ask for subtrees inside the tree; this guards against a planner bug.
    if (start + width > treeSize) throw new LedgerError("out_of_range", `node (${level}, ${index}) is outside the tree`);
    return rootFromLeafHashes(leafHashes.slice(start, start + width));
  };
}

/** PATH(index, D[treeSize]) from the first treeSize entries of a full leaf-hash list. */
export function inclusionProof(leafHashes: readonly Uint8Array[], index: number, treeSize: number): Uint8Array[] {
  const plan = inclusionPlan(index, treeSize);
  return proofFromPlan(plan, leafListHashAt(leafHashes, treeSize));
}

/** PROOF(m, D[n]) from the first n entries of a full leaf-hash list. */
export function consistencyProof(leafHashes: readonly Uint8Array[], m: number, n: number): Uint8Array[] {
  const plan = consistencyPlan(m, n);
  return proofFromPlan(plan, leafListHashAt(leafHashes, n));
}

/**
 * Checks the proof container and its exact length before touching any element: a hostile array of a
 * million entries is refused in O(1), and a truncated or padded proof is an error, not a silent mismatch.
 */
function checkProof(proof: unknown, expected: number): Uint8Array[] {
  if (!Array.isArray(proof)) throw new LedgerError("proof_length", "proof must be an array of hashes");
  if (proof.length !== expected) {
    throw new LedgerError("proof_length", `proof has ${proof.length} hashes, expected ${expected}`);
  }
  return proof.map((p, i) => checkHash(`proof hash ${i}`, p));
}

/**
 * Halves fn and sn until fn is odd or zero: skips the levels where the node on fn's path is the last node of
 * its level, which RFC 6962 carries up without a sibling. Bounded: fn at least halves each step.
 */
function shiftPastRightEdge(fn: number, sn: number): [number, number] {
  while (fn > 0 && fn % 2 === 0) {
    fn /= 2;
    sn = Math.floor(sn / 2);
  }
  return [fn, sn];
}

/**
 * The root implied by an inclusion proof, per RFC 9162 §2.1.3.2. Throws on malformed input; the caller
 * compares the result with a trusted root.
 */
export function rootFromInclusionProof(
  leaf: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
): Uint8Array {
  checkHash("leaf hash", leaf);
  const path = checkProof(proof, inclusionPlan(index, treeSize).length); // also validates index < treeSize
  // fn walks the leaf's position up the tree, sn the last node's; they meet at the root (sn = 0).
  let fn = index;
  let sn = treeSize - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) throw new LedgerError("proof_length", "proof is longer than the path to the root");
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r); // we are a right child (or the lone right-edge node): sibling on the left
      if (fn % 2 === 0) [fn, sn] = shiftPastRightEdge(fn, sn);
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // RFC 9162 §2.1.3.2 step 3: without this final check a short proof would "verify" against an inner node.
  if (sn !== 0) throw new LedgerError("proof_length", "proof is shorter than the path to the root");
  return r;
}

/** RFC 9162 §2.1.3.2: does `proof` show that `leaf` is at `index` in the tree of `treeSize` with `root`? */
export function verifyInclusion(
  leaf: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  checkHash("root", root);
  return bytesEqual(rootFromInclusionProof(leaf, index, treeSize, proof), root);
}

/**
 * RFC 9162 §2.1.4.2: does `proof` show that the tree of size n with `newRoot` extends the tree of size m
 * with `oldRoot`?
 *
 * Edge cases follow the reference verifier (transparency-dev/merkle) and its vectors:
 * - m > n and m = 0 (even m = n = 0) are errors; some clients loop forever on m = 0 (fn = m - 1 = -1).
 * - m = n needs an empty proof and equal roots. This shortcut runs before the 32-byte length checks, as in
 *   the reference: equal sizes with equal root bytes is consistent whatever the encoding.
 */
export function verifyConsistency(
  m: number,
  n: number,
  proof: readonly Uint8Array[],
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
): boolean {
  const expected = consistencyPlan(m, n).length; // validates m, n: 0 < m <= n
  if (m === n) {
    checkProof(proof, 0);
    if (!(oldRoot instanceof Uint8Array) || !(newRoot instanceof Uint8Array)) {
      throw new LedgerError("hash_length", "roots must be Uint8Arrays");
    }
    return bytesEqual(oldRoot, newRoot);
  }
  checkHash("old root", oldRoot);
  checkHash("new root", newRoot);
  const given = checkProof(proof, expected);
  // When m is a power of two the old tree is a complete left subtree, so its root is the proof's first
  // node and the generator leaves it out (RFC 9162 §2.1.4.2 step 2).
  const path = isPowerOfTwo(m) ? [oldRoot, ...given] : given;
  let fn = m - 1;
  let sn = n - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // fr rebuilds the old root, sr the new one, from the same walk up the tree.
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) throw new LedgerError("proof_length", "proof is longer than the path to the root");
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) [fn, sn] = shiftPastRightEdge(fn, sn);
    } else {
      sr = nodeHash(sr, c); // a node that exists only in the new tree
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // The final sn = 0 check matters: without it a truncated proof can match an inner node of the new tree.
  return sn === 0 && bytesEqual(fr, oldRoot) && bytesEqual(sr, newRoot);
}

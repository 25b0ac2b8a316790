/**
 * The shape of RFC 6962 proofs: which subtrees an inclusion or consistency proof is made of.
 *
 * Pure index arithmetic: no hashing, no I/O. Splitting the "which nodes" question from the "what are their
 * hashes" question lets a storage backend (stored subtrees, C2SP tiles, a database) list every node a proof
 * needs, fetch them all in one round trip, and only then hand them to `proofFromPlan` in merkle.ts. The
 * planners below are the single source of truth for proof shape: the generators use them to build proofs
 * and the verifiers use them to know the exact proof length to expect.
 *
 * Every size and index is treated as hostile input (it may come from a URL or a proof file). They must be
 * safe non-negative integers, so that all arithmetic stays exact in a double. JavaScript bitwise operators
 * truncate to 32 bits, which would silently corrupt trees past 2^31 leaves, so this file uses only
 * multiplication, division and modulo. Every loop is bounded by about 2·53 iterations.
 */

// Malformed input throws LedgerError (invalid_number, out_of_range, hash_length, proof_length); a
// well-formed proof that simply does not match a root is `false`, not an error.
import { LedgerError } from "./ledger-error.js";

/** Leaves [start, end) of a tree. The hash of the range is MTH(D[start:end]) (RFC 6962 §2.1). */
export interface LeafRange {
  readonly start: number;
  readonly end: number;
}

/**
 * A perfect (complete, power-of-two) subtree: leaves [index·2^level, (index+1)·2^level). Level 0 is the
 * leaf hashes. These nodes never change once the tree has grown past them, which is why they are the unit
 * that stored-subtree and tile backends keep (C2SP tlog-tiles stores levels 0, 8, 16, ...).
 */
export interface NodeRef {
  readonly level: number;
  readonly index: number;
}

function describe(value: unknown): string {
  return typeof value === "number" ? String(value) : typeof value;
}

/** Validates a size or index from untrusted input. */
export function checkCount(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new LedgerError("invalid_number", `${name} must be a safe non-negative integer, got ${describe(value)}`);
  }
  return value;
}

/** k in RFC 6962 §2.1: the largest power of two strictly smaller than n, for n >= 2. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** The smallest power of two >= n, for n >= 1. */
function ceilPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

export function isPowerOfTwo(n: number): boolean {
  return n >= 1 && ceilPowerOfTwo(n) === n;
}

/**
 * The subtrees whose hashes form PATH(index, D[treeSize]) (RFC 6962 §2.1.1; RFC 9162 §2.1.3.1), in proof
 * order: from the leaf's sibling up to the child of the root.
 *
 * The RFC recursion descends from the root, appending each sibling after the deeper part of the path; this
 * walks the same descent iteratively and reverses. Each step at least halves the range, so the loop runs at
 * most ~54 times even for hostile sizes.
 */
export function inclusionPlan(index: number, treeSize: number): LeafRange[] {
  checkCount("leaf index", index);
  checkCount("tree size", treeSize);
  if (index >= treeSize) {
    throw new LedgerError("out_of_range", `leaf index ${index} is not below tree size ${treeSize}`);
  }
  const siblings: LeafRange[] = [];
  let lo = 0;
  let hi = treeSize;
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (index < lo + k) {
      siblings.push({ start: lo + k, end: hi });
      hi = lo + k;
    } else {
      siblings.push({ start: lo, end: lo + k });
      lo += k;
    }
  }
  return siblings.reverse();
}

/**
 * The subtrees whose hashes form PROOF(m, D[n]) = SUBPROOF(m, D[n], true) (RFC 6962 §2.1.2; RFC 9162
 * §2.1.4.1), in proof order.
 *
 * RFC 6962 defines PROOF only for 0 < m; m = 0 is refused (every tree trivially extends the empty tree, and
 * the reference verifier rejects size 0, see verifyConsistency). m = n gives the empty proof.
 */
export function consistencyPlan(m: number, n: number): LeafRange[] {
  checkCount("old tree size", m);
  checkCount("new tree size", n);
  if (m > n) throw new LedgerError("out_of_range", `old tree size ${m} is larger than new tree size ${n}`);
  if (m === 0) throw new LedgerError("out_of_range", "no consistency proof exists from the empty tree (RFC 6962 §2.1.2 needs 0 < m)");
  // SUBPROOF(m, D[lo:hi], b) walked top-down. Each RFC step appends one subtree *after* the deeper result, so
  // the appended subtrees come out in reverse; the terminal element of the recursion goes first.
  const appended: LeafRange[] = [];
  let lo = 0;
  let hi = n;
  let startedAtRoot = true; // "b" in the RFC: true while m is still the size of a left-aligned prefix
  while (m < hi) {
    const k = splitPoint(hi - lo);
    if (m - lo <= k) {
      // Old tree lies in the left subtree; the right one, D[k:n], exists only in the new tree.
      appended.push({ start: lo + k, end: hi });
      hi = lo + k;
    } else {
      // Left subtree D[0:k] is complete in both trees; recurse right with b = false.
      appended.push({ start: lo, end: lo + k });
      lo += k;
      startedAtRoot = false;
    }
  }
  // Now m = hi: SUBPROOF(m, D[m], true) = {} because the verifier already knows MTH(D[0:m]) (the old root),
  // while SUBPROOF(m, D[m], false) = {MTH(D[lo:hi])}, a subtree the verifier cannot derive.
  const head: LeafRange[] = startedAtRoot ? [] : [{ start: lo, end: hi }];
  return head.concat(appended.reverse());
}

/**
 * Decomposes a range into the perfect subtrees whose right fold node(n0, node(n1, ...)) is
 * MTH(D[start:end]). That identity holds when start is a multiple of the smallest power of two >= the range
 * size, which is true of every node of an RFC 6962 tree (by induction over the §2.1 split) and so of every
 * range a plan returns; other ranges are refused rather than silently hashed differently.
 */
export function rangeNodes(range: LeafRange): NodeRef[] {
  const start = checkCount("range start", range.start);
  const end = checkCount("range end", range.end);
  if (end <= start) throw new LedgerError("out_of_range", `empty or inverted leaf range [${start}, ${end})`);
  let width = ceilPowerOfTwo(end - start);
  if (start % width !== 0) {
    throw new LedgerError("out_of_range", `leaf range [${start}, ${end}) is not a subtree of an RFC 6962 tree`);
  }
  let level = Math.round(Math.log2(width)); // exact: width is a power of two <= 2^53
  const nodes: NodeRef[] = [];
  // Greedy from the left with halving widths: the position stays a multiple of the current width.
  for (let pos = start; pos < end; width /= 2, level -= 1) {
    if (pos + width <= end) {
      nodes.push({ level, index: pos / width });
      pos += width;
    }
  }
  return nodes;
}

/** Every stored node a plan needs, for fetching in one batch. Ranges of one proof are disjoint. */
export function planNodes(plan: readonly LeafRange[]): NodeRef[] {
  return plan.flatMap(rangeNodes);
}

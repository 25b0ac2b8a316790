/**
 * The console's in-browser inclusion check (console/merkle.js, WebCrypto) against the vault's own
 * RFC 9162 implementation, for every leaf of trees of size 1..33, plus tampered proofs. Runs in Node,
 * whose global crypto.subtle is the same WebCrypto API the browser has.
 */
import { createHash } from "node:crypto";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { inclusionProof, leafHash, rootFromLeafHashes } from "../../src/ledger/core/merkle.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const eventHash = (i: number) => createHash("sha256").update(`event ${i}`).digest();

type Outcome = { ok: boolean; checkpointId?: number; message: string };
let verifyBundleInclusion: (bundle: unknown) => Promise<Outcome>;

beforeAll(async () => {
  // A plain browser module without type declarations, so it is loaded by URL.
  const url = pathToFileURL(path.resolve(import.meta.dirname, "../../console/merkle.js")).href;
  ({ verifyBundleInclusion } = await import(url));
});

function bundle(treeSize: number, index: number) {
  const leaves = Array.from({ length: treeSize }, (_, i) => leafHash(eventHash(i)));
  const root = rootFromLeafHashes(leaves);
  return {
    event: { event_hash: hex(eventHash(index)), leaf_hash: hex(leaves[index]!) },
    inclusion: {
      leaf_hash: hex(leaves[index]!),
      leaf_index: index,
      tree_size: treeSize,
      path: inclusionProof(leaves, index, treeSize).map(hex),
      checkpoint: { checkpoint_id: 7, tree_size: treeSize, root_hash: hex(root) },
    },
  };
}

describe("console/merkle.js inclusion check", () => {
  it("accepts every leaf of trees of size 1 to 33", async () => {
    for (let n = 1; n <= 33; n++) {
      for (let i = 0; i < n; i++) {
        const outcome = await verifyBundleInclusion(bundle(n, i));
        expect(outcome, `leaf ${i} of ${n}`).toMatchObject({ ok: true, checkpointId: 7 });
      }
    }
    expect((await verifyBundleInclusion(bundle(5, 3))).message).toBe("verified in checkpoint 7 (leaf 3 of 5)");
  });

  it("refuses tampered bundles without throwing", async () => {
    const cases: Array<[string, (b: ReturnType<typeof bundle>) => void, RegExp]> = [
      ["wrong root", (b) => (b.inclusion.checkpoint.root_hash = "00".repeat(32)), /does not lead to the root/],
      ["flipped path node", (b) => (b.inclusion.path[0] = "ff".repeat(32)), /does not lead to the root/],
      ["short path", (b) => b.inclusion.path.pop(), /shorter than the path/],
      ["long path", (b) => b.inclusion.path.push("00".repeat(32)), /longer than the path/],
      ["other index", (b) => (b.inclusion.leaf_index = 4), /does not lead to the root|shorter|longer/],
      ["index past the tree", (b) => (b.inclusion.leaf_index = 11), /not below tree size/],
      ["negative index", (b) => (b.inclusion.leaf_index = -1), /not below tree size/],
      ["fractional size", (b) => ((b.inclusion.tree_size = 10.5), (b.inclusion.checkpoint.tree_size = 10.5)), /not below tree size/],
      ["sizes disagree", (b) => (b.inclusion.tree_size = 9), /not the checkpoint's/],
      ["leaf not from event hash", (b) => (b.event.event_hash = "11".repeat(32)), /SHA-256\(0x00/],
      ["uppercase hex", (b) => (b.inclusion.path[0] = b.inclusion.path[0]!.toUpperCase()), /lowercase hex/],
      ["path not a list", (b) => ((b.inclusion as { path: unknown }).path = "abc"), /not a list/],
    ];
    for (const [name, tamper, message] of cases) {
      const b = bundle(10, 3);
      tamper(b);
      const outcome = await verifyBundleInclusion(b);
      expect(outcome.ok, name).toBe(false);
      expect(outcome.message, name).toMatch(message);
    }
    expect((await verifyBundleInclusion({})).ok).toBe(false);
    expect((await verifyBundleInclusion(null)).ok).toBe(false);
  });
});

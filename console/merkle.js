// In-browser check of a proof bundle's inclusion proof (RFC 9162 §2.1.3.2, the RFC 6962 tree) with
// WebCrypto SHA-256. It shows that the event's leaf is in the tree whose root the checkpoint names.
// It does NOT check the Ed25519 signatures of the checkpoint or the receipt: that needs a trusted
// key, and `countersign verify-bundle` or the SDK does it offline. Every number and hash in the
// bundle is treated as hostile input.

const HEX64 = /^[0-9a-f]{64}$/;

function unhex(hex, what) {
  if (typeof hex !== "string" || !HEX64.test(hex)) throw new Error(`${what} is not 32 bytes of lowercase hex`);
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

async function sha256(...parts) {
  const len = parts.reduce((n, p) => n + p.length, 0);
  const buf = new Uint8Array(len);
  let at = 0;
  for (const p of parts) {
    buf.set(p, at);
    at += p.length;
  }
  return new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
}

const LEAF = Uint8Array.of(0x00);
const NODE = Uint8Array.of(0x01);
/** RFC 6962 §2.1: leaves and interior nodes are hashed with different prefixes (second-preimage defence). */
export const leafHash = (entry) => sha256(LEAF, entry);
const nodeHash = (left, right) => sha256(NODE, left, right);

function equal(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

const isIndex = (n) => Number.isSafeInteger(n) && n >= 0;

/** RFC 9162 §2.1.3.2: the root that `path` leads to from `leaf` at `index` in a tree of `treeSize`. */
export async function rootFromInclusionProof(leaf, index, treeSize, path) {
  if (!isIndex(index) || !isIndex(treeSize) || index >= treeSize) throw new Error(`leaf index ${index} is not below tree size ${treeSize}`);
  if (!Array.isArray(path) || path.length > 64) throw new Error("the proof path is not a list of at most 64 hashes");
  let fn = index;
  let sn = treeSize - 1;
  let r = leaf;
  for (const [i, hex] of path.entries()) {
    const p = unhex(hex, `path[${i}]`);
    if (sn === 0) throw new Error("the proof is longer than the path to the root");
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      // Step 2.b.ii: a lone right-edge node moves up until it is a right child or the root.
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // Step 3: without this, a short proof would "verify" against an inner node.
  if (sn !== 0) throw new Error("the proof is shorter than the path to the root");
  return r;
}

/**
 * Checks a §2.11 proof bundle: the event's leaf hash is SHA-256(0x00 || event_hash), and the inclusion
 * path leads from it to the checkpoint's root. Resolves to { ok, checkpointId, treeSize, leafIndex, message }.
 */
export async function verifyBundleInclusion(bundle) {
  const inclusion = bundle?.inclusion;
  const checkpoint = inclusion?.checkpoint;
  const event = bundle?.event;
  if (!inclusion || !checkpoint || !event) return { ok: false, message: "the bundle has no event, inclusion proof or checkpoint" };
  const checkpointId = checkpoint.checkpoint_id;
  try {
    const leaf = unhex(event.leaf_hash, "event.leaf_hash");
    if (!equal(await leafHash(unhex(event.event_hash, "event.event_hash")), leaf)) {
      return { ok: false, checkpointId, message: "the leaf hash is not SHA-256(0x00 || event_hash)" };
    }
    if (inclusion.leaf_hash !== undefined && inclusion.leaf_hash !== event.leaf_hash) {
      return { ok: false, checkpointId, message: "the inclusion proof is for another leaf" };
    }
    if (inclusion.tree_size !== checkpoint.tree_size) {
      return { ok: false, checkpointId, message: `the proof's tree size ${inclusion.tree_size} is not the checkpoint's ${checkpoint.tree_size}` };
    }
    const root = unhex(checkpoint.root_hash, "checkpoint.root_hash");
    const computed = await rootFromInclusionProof(leaf, inclusion.leaf_index, inclusion.tree_size, inclusion.path);
    if (!equal(computed, root)) return { ok: false, checkpointId, message: `the path does not lead to the root of checkpoint ${checkpointId}` };
    return {
      ok: true,
      checkpointId,
      treeSize: inclusion.tree_size,
      leafIndex: inclusion.leaf_index,
      message: `verified in checkpoint ${checkpointId} (leaf ${inclusion.leaf_index} of ${inclusion.tree_size})`,
    };
  } catch (err) {
    return { ok: false, checkpointId, message: err instanceof Error ? err.message : String(err) };
  }
}

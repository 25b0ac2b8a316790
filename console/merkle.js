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

// ---- witness cosignatures (C2SP tlog-cosignature) --------------------------------------------------
// Which of the vault's configured witnesses (GET /ledger/witnesses) cosigned a checkpoint note. Each
// cosignature is verified here with WebCrypto Ed25519 when the browser has it; a browser without it
// shows the witnesses as "listed" only, never as verified. The authoritative check stays offline:
// `countersign verify-bundle --witness KEY --require-witnesses N`.

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const MAX_NOTE_CHARS = 1 << 20;

function fromBase64(text) {
  if (typeof text !== "string" || !B64.test(text)) return null;
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

const hexOf = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const utf8 = (s) => new TextEncoder().encode(s);

/** `<name>+<hex key id>+<base64(0x04 || key)>` with its key ID checked; null when it is not a cosignature key. */
async function parseWitnessKey(vkey) {
  if (typeof vkey !== "string") return null;
  const first = vkey.indexOf("+");
  const second = first < 0 ? -1 : vkey.indexOf("+", first + 1);
  if (second < 0) return null;
  const name = vkey.slice(0, first);
  const keyId = vkey.slice(first + 1, second).toLowerCase();
  const typed = fromBase64(vkey.slice(second + 1));
  if (!name || !typed || typed.length !== 33 || typed[0] !== 0x04) return null;
  const id = hexOf((await sha256(utf8(name), Uint8Array.of(0x0a), typed)).subarray(0, 4));
  return id === keyId ? { name, keyId, publicKey: typed.subarray(1) } : null;
}

async function ed25519Verify(publicKey, message, signature) {
  const key = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
  return crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
}

/**
 * For each configured witness ({name, key}), whether `note` carries its cosignature: "verified" (the
 * signature checks out here), "invalid" (it does not), "listed" (a line under its key, but this browser
 * cannot check Ed25519) or "absent". Resolves to [{ name, state, timestamp }] in the given order.
 */
export async function witnessCosignatures(note, witnesses) {
  if (typeof note !== "string" || note.length > MAX_NOTE_CHARS || !Array.isArray(witnesses)) return [];
  const cut = note.lastIndexOf("\n\n");
  if (cut < 0) return [];
  const body = note.slice(0, cut + 1);
  const lines = note.slice(cut + 2).split("\n").filter(Boolean);
  const out = [];
  for (const w of witnesses.slice(0, 64)) {
    const key = await parseWitnessKey(w?.key);
    if (!key) {
      out.push({ name: String(w?.name ?? "?"), state: "absent" });
      continue;
    }
    let entry = { name: key.name, state: "absent" };
    for (const line of lines) {
      const prefix = `\u2014 ${key.name} `;
      if (!line.startsWith(prefix)) continue;
      const sig = fromBase64(line.slice(prefix.length));
      if (!sig || sig.length !== 76 || hexOf(sig.subarray(0, 4)) !== key.keyId) continue;
      const view = new DataView(sig.buffer, sig.byteOffset + 4, 8);
      const timestamp = view.getUint32(0) * 2 ** 32 + view.getUint32(4);
      const message = utf8(`cosignature/v1\ntime ${timestamp}\n${body}`);
      let state;
      try {
        state = (await ed25519Verify(key.publicKey, message, sig.subarray(12))) ? "verified" : "invalid";
      } catch {
        state = "listed";
      }
      entry = { name: key.name, state, timestamp };
      if (state === "verified") break;
    }
    out.push(entry);
  }
  return out;
}

/**
 * Why the C2SP note's tree head is not the inclusion checkpoint's (tree size and root hash), or "" when it
 * is. A cosignature is a statement about the note's head: over any other head it says nothing about this
 * proof, as `countersign verify-bundle --witness` also refuses.
 */
function cosignedHeadMismatch(bundle) {
  const note = bundle?.c2sp_checkpoint;
  const checkpoint = bundle?.inclusion?.checkpoint;
  if (typeof note !== "string" || note.length > MAX_NOTE_CHARS) return "";
  const cut = note.lastIndexOf("\n\n");
  if (cut < 0) return "";
  const [, size, root] = note.slice(0, cut + 1).split("\n");
  const rootBytes = fromBase64(root ?? "");
  if (size === String(checkpoint?.tree_size) && rootBytes && rootBytes.length === 32 && hexOf(rootBytes) === checkpoint?.root_hash) return "";
  return `the cosigned checkpoint (tree size ${String(size).slice(0, 20)}) is not the one the proof leads to (tree size ${String(checkpoint?.tree_size).slice(0, 20)}), so its cosignatures prove nothing here`;
}

/**
 * One sentence on who cosigned the bundle's checkpoint, from `view` (GET /ledger/witnesses): empty when
 * the vault has no witnesses. Names only those verified in this browser, unless it cannot check Ed25519.
 */
export async function witnessSummary(bundle, view) {
  if (!view || !Array.isArray(view.witnesses) || view.witnesses.length === 0) return "";
  const mismatch = cosignedHeadMismatch(bundle);
  if (mismatch) return `Witnesses: ${mismatch}.`;
  const results = await witnessCosignatures(bundle?.c2sp_checkpoint, view.witnesses);
  const named = (state) => results.filter((r) => r.state === state).map((r) => r.name);
  const verified = named("verified");
  const listed = named("listed");
  const invalid = named("invalid");
  const checkpoint = bundle?.inclusion?.checkpoint?.checkpoint_id;
  const parts = [];
  if (verified.length > 0) parts.push(`cosigned by ${verified.join(", ")} (${verified.length} of ${view.witnesses.length}; quorum ${view.quorum})`);
  if (listed.length > 0) parts.push(`cosignatures listed by ${listed.join(", ")} (this browser cannot check Ed25519; use countersign verify-bundle --witness)`);
  if (invalid.length > 0) parts.push(`INVALID cosignature from ${invalid.join(", ")}`);
  if (parts.length === 0) parts.push(`no witness has cosigned checkpoint ${checkpoint} yet (quorum ${view.quorum})`);
  return `Witnesses: ${parts.join("; ")}.`;
}

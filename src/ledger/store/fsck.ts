import { createPublicKey, verify, type KeyObject } from "node:crypto";
import type { Sql } from "../../db/sql.js";
import { eventHash, checkpointHash, checkpointPayload, receiptPayload } from "../core/event-hash.js";
import { eventTypeOfUuid } from "../core/event-uuid.js";
import { edgeRootHex, loadTiles, readRightEdge } from "./ledger-tables.js";
import { leafHash } from "../core/merkle.js";
import { noteVerifier } from "../core/signed-note.js";
import { appendLeaves, TILE_WIDTH, type Tile, type TileState } from "../core/tiles.js";
import { openCheckpoint } from "../core/tlog-checkpoint.js";
import { CHECKPOINT_COLUMNS, EVENT_COLUMNS, storedEvent, type CheckpointRow, type EventRow } from "./wire-rows.js";

/**
 * Re-derives a tenant's ledger from its events alone and checks everything stored against it: each
 * event's hash, leaf hash and receipt; every full and partial tile; every checkpoint's root, payload,
 * hash, signature, chain link and C2SP note. Reads in pages, so memory stays flat at any size.
 */

export interface FsckProblem {
  kind: "event" | "tile" | "checkpoint" | "tree" | "anchor";
  where: string;
  detail: string;
}

export interface FsckReport {
  ok: boolean;
  events: number;
  unsequenced: number;
  tiles: number;
  checkpoints: number;
  treeSize: number;
  anchorChecked: boolean;
  problems: FsckProblem[];
}

const PAGE = 5000;

/**
 * `anchoredNote`: the `checkpoint` note from the tenant's anchor store, if any. The database must
 * still hold that tree head: a database rolled back behind its anchor is the one thing the rows
 * alone cannot show.
 */
export async function fsckLedger(
  sql: Sql,
  publicKeys: Map<string, Uint8Array>,
  /** Every key the tenant's bodies may be sealed with, in the order tried (see TenantKeys). */
  openKeys: Buffer | readonly Buffer[] | undefined,
  anchoredNote?: string,
): Promise<FsckReport> {
  const problems: FsckProblem[] = [];
  const report = (kind: FsckProblem["kind"], where: string, detail: string) => problems.push({ kind, where, detail });
  const keyObjects = new Map([...publicKeys].map(([kid, raw]) => [kid, createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(raw).toString("base64url") }, format: "jwk" })]));
  const [state] = await sql.query<{ tree_size: number; origin: string | null }>("SELECT tree_size, origin FROM ledger_state");
  const treeSize = Number(state?.tree_size ?? 0);
  const checkpoints = await sql.query<CheckpointRow>(`SELECT ${CHECKPOINT_COLUMNS} FROM ledger_checkpoints ORDER BY checkpoint_id`);
  const roots = new Map<number, string>(); // tree size -> recomputed root
  const wanted = new Set(checkpoints.map((c) => Number(c.tree_size)));

  // Events in leaf order: re-derive the tree as we go and compare every full tile the moment it closes.
  let tree: TileState = { treeSize: 0, rightEdgeTiles: [] };
  let events = 0;
  let tilesChecked = 0;
  for (let next = 0; ; ) {
    const page = await sql.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM ledger_events WHERE leaf_index >= $1 ORDER BY leaf_index LIMIT $2`, [next, PAGE]);
    if (page.length === 0) break;
    const leaves: Uint8Array[] = [];
    for (const row of page) {
      const index = Number(row.leaf_index);
      if (index !== next) report("tree", `leaf ${next}`, `expected leaf index ${next}, found ${index} (seq ${row.seq}): a gap or a duplicate`);
      next = index + 1;
      leaves.push(checkEvent(row, keyObjects, openKeys, report));
      events++;
    }
    // Split at checkpoint sizes so each checkpoint's root is computed from exactly its leaves.
    let start = 0;
    while (start < leaves.length) {
      let end = leaves.length;
      for (let size = tree.treeSize + 1; size <= tree.treeSize + leaves.length - start; size++) {
        if (wanted.has(size)) {
          end = start + (size - tree.treeSize);
          break;
        }
      }
      const appended = appendLeaves(tree, leaves.slice(start, end));
      tilesChecked += await compareFullTiles(sql, appended.changed.filter((t) => t.width === TILE_WIDTH), report);
      tree = appended;
      if (wanted.has(tree.treeSize)) roots.set(tree.treeSize, edgeRootHex(tree));
      start = end;
    }
  }
  if (tree.treeSize !== treeSize) report("tree", "ledger_state", `tree_size is ${treeSize} but ${tree.treeSize} events carry leaf indexes 0..${tree.treeSize - 1}`);
  tilesChecked += await compareRightEdge(sql, tree, report);

  const unsequenced = await sql.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM ledger_events WHERE leaf_index IS NULL ORDER BY seq`);
  for (const row of unsequenced) checkEvent(row, keyObjects, openKeys, report);

  const [total] = await sql.query<{ n: number }>("SELECT count(*) AS n FROM ledger_events");
  if (Number(total?.n) !== events + unsequenced.length) {
    report("tree", "ledger_events", `${total?.n} rows, but only ${events} are leaves 0..${events - 1} and ${unsequenced.length} wait unsequenced`);
  }
  checkCheckpoints(checkpoints, roots, state?.origin ?? null, keyObjects, publicKeys, report);
  if (anchoredNote !== undefined) checkAnchor(anchoredNote, checkpoints, state?.origin ?? null, publicKeys, report);
  return { ok: problems.length === 0, events, unsequenced: unsequenced.length, tiles: tilesChecked, checkpoints: checkpoints.length, treeSize, anchorChecked: anchoredNote !== undefined, problems };
}

type Report = (kind: FsckProblem["kind"], where: string, detail: string) => void;

/** Returns the leaf hash re-derived from the body (what the tree must contain), whatever is stored. */
function checkEvent(row: EventRow, keys: Map<string, KeyObject>, openKeys: Buffer | readonly Buffer[] | undefined, report: Report): Uint8Array {
  const where = `event seq ${row.seq} (${row.event_uuid})`;
  const committedType = eventTypeOfUuid(row.event_uuid);
  if (committedType !== row.event_type) report("event", where, `event_type ${row.event_type} differs from the type its signed event_uuid commits to (${committedType ?? "none"})`);
  let hash = row.event_hash;
  try {
    const event = storedEvent(row, openKeys);
    if (event.event_uuid !== row.event_uuid || event.request_id !== row.request_id || event.accepted_at !== row.accepted_at) {
      report("event", where, "body does not belong to this row (event_uuid, request_id or accepted_at differ)");
    }
    if (event.canonical_version !== Number(row.canonical_version)) report("event", where, `canonical_version column ${row.canonical_version} differs from the body's ${event.canonical_version}`);
    hash = eventHash(event);
    if (hash !== row.event_hash) report("event", where, `event hash recomputed from the body is ${hash}, stored ${row.event_hash}`);
  } catch (err) {
    report("event", where, `body unreadable: ${err instanceof Error ? err.message : String(err)}`);
  }
  const leaf = leafHash(Buffer.from(hash, "hex"));
  const leafHex = Buffer.from(leaf).toString("hex");
  if (leafHex !== row.leaf_hash) report("event", where, `leaf hash should be ${leafHex}, stored ${row.leaf_hash}`);
  const key = keys.get(row.receipt_key_id);
  if (!key) {
    report("event", where, `receipt key ${row.receipt_key_id} is not published`);
  } else {
    const payload = receiptPayload({ ...row, leaf_hash: row.leaf_hash, event_hash: row.event_hash });
    if (!verify(null, payload, key, Buffer.from(row.receipt_signature, "base64url"))) report("event", where, "receipt signature does not verify");
  }
  return leaf;
}

async function compareFullTiles(sql: Sql, tiles: Tile[], report: Report): Promise<number> {
  if (tiles.length === 0) return 0;
  const stored = await loadTiles(sql, tiles);
  for (const t of tiles) {
    const got = stored.get(`${t.level}/${t.index}`);
    if (!got || got.length !== TILE_WIDTH) report("tile", `tile/${t.level}/${t.index}`, "full tile missing from ledger_tiles");
    else if (!Buffer.concat(got).equals(Buffer.concat(t.hashes))) report("tile", `tile/${t.level}/${t.index}`, "stored tile differs from the tile re-derived from the events");
  }
  return tiles.length;
}

async function compareRightEdge(sql: Sql, tree: TileState, report: Report): Promise<number> {
  const stored = await readRightEdge(sql, tree.treeSize);
  for (const t of tree.rightEdgeTiles) {
    const got = stored.rightEdgeTiles.find((s) => s.level === t.level && s.index === t.index);
    if (!got || !Buffer.concat(got.hashes).equals(Buffer.concat(t.hashes))) report("tile", `tile/${t.level}/${t.index}.p/${t.width}`, "partial tile missing or different from the re-derived one");
  }
  if (stored.rightEdgeTiles.length !== tree.rightEdgeTiles.length) report("tile", "ledger_partial_tiles", `holds ${stored.rightEdgeTiles.length} partial tiles, expected ${tree.rightEdgeTiles.length}`);
  return tree.rightEdgeTiles.length;
}


function checkCheckpoints(
  rows: CheckpointRow[],
  roots: Map<number, string>,
  origin: string | null,
  keys: Map<string, KeyObject>,
  rawKeys: Map<string, Uint8Array>,
  report: Report,
): void {
  let prevHash = "";
  let prevSize = 0;
  rows.forEach((cp, i) => {
    const where = `checkpoint ${cp.checkpoint_id}`;
    const size = Number(cp.tree_size);
    if (Number(cp.checkpoint_id) !== i + 1) report("checkpoint", where, `expected checkpoint id ${i + 1}: ids must run 1, 2, 3, ...`);
    if (cp.prev_checkpoint_hash !== prevHash) report("checkpoint", where, `chain broken: prev_checkpoint_hash ${cp.prev_checkpoint_hash || '""'}, expected ${prevHash || '""'}`);
    if (size <= prevSize && i > 0) report("checkpoint", where, `tree size ${size} does not grow past ${prevSize}`);
    const root = roots.get(size);
    if (root === undefined) report("checkpoint", where, `covers ${size} leaves, but the events re-derive a tree of only ${Math.max(0, ...roots.keys())}`);
    else if (root !== cp.root_hash) report("checkpoint", where, `root ${cp.root_hash} differs from the root ${root} re-derived from the events`);
    try {
      const payload = checkpointPayload({ ...cp, tree_size: size, mmd_seconds: Number(cp.mmd_seconds) });
      if (!Buffer.from(payload).equals(Buffer.from(cp.payload))) report("checkpoint", where, "stored signed payload differs from the one rebuilt from its fields");
      if (checkpointHash(cp.payload) !== cp.checkpoint_hash) report("checkpoint", where, "checkpoint_hash is not the hash of the signed payload");
    } catch (err) {
      report("checkpoint", where, `fields do not encode: ${err instanceof Error ? err.message : String(err)}`);
    }
    const key = keys.get(cp.signer_key_id);
    const raw = rawKeys.get(cp.signer_key_id);
    if (!key || !raw) {
      report("checkpoint", where, `signer key ${cp.signer_key_id} is not published`);
    } else {
      if (!verify(null, cp.payload, key, Buffer.from(cp.signature, "base64url"))) report("checkpoint", where, "CBOR checkpoint signature does not verify");
      checkNote(cp, origin, raw, where, report);
    }
    prevHash = cp.checkpoint_hash;
    prevSize = size;
  });
}

function checkAnchor(note: string, checkpoints: CheckpointRow[], origin: string | null, keys: Map<string, Uint8Array>, report: Report): void {
  const verifiers = origin ? [...keys.values()].map((k) => noteVerifier(origin, k)) : [];
  let size: number;
  let root: string;
  try {
    const opened = openCheckpoint(note, verifiers, origin ? { origin } : {});
    size = opened.checkpoint.size;
    root = Buffer.from(opened.checkpoint.rootHash).toString("hex");
  } catch (err) {
    return void report("anchor", "anchored checkpoint", `does not verify with this log's keys: ${err instanceof Error ? err.message : String(err)}`);
  }
  const held = checkpoints.find((c) => Number(c.tree_size) === size);
  if (!held) report("anchor", "anchored checkpoint", `the anchor holds a signed tree of ${size} leaves that the database has no checkpoint for: the database was rolled back or rewritten`);
  else if (held.root_hash !== root) report("anchor", "anchored checkpoint", `the anchor's root for ${size} leaves differs from checkpoint ${held.checkpoint_id}'s: the history was rewritten`);
}

function checkNote(cp: CheckpointRow, origin: string | null, key: Uint8Array, where: string, report: Report): void {
  if (!origin) return report("checkpoint", where, "the ledger has checkpoints but no origin");
  try {
    const opened = openCheckpoint(cp.note, [noteVerifier(origin, key)], { origin });
    if (opened.checkpoint.size !== Number(cp.tree_size) || Buffer.from(opened.checkpoint.rootHash).toString("hex") !== cp.root_hash) {
      report("checkpoint", where, "C2SP note signs another tree head than the CBOR checkpoint");
    }
  } catch (err) {
    report("checkpoint", where, `C2SP note does not verify: ${err instanceof Error ? err.message : String(err)}`);
  }
}


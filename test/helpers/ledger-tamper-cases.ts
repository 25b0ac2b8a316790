import { expect } from "vitest";
import type { Sql } from "../../src/db/sql.js";
import type { FsckProblem } from "../../src/ledger/store/fsck.js";
import { flipByte, flipChar } from "./ledger-fixture.js";

/**
 * One-byte tamper cases for ledger-tamper-db.test.ts. Each names exactly which fsck problems it must
 * cause (`required`) and which others are acceptable consequences (`allowed`); any other problem,
 * for instance about an untouched event or an older checkpoint, fails the test.
 */

export interface EventRow {
  seq: number;
  leaf: number;
  event_uuid: string;
  body: string;
  event_hash: string;
  leaf_hash: string;
  receipt_signature: string;
}

export interface CheckpointRow {
  id: number;
  size: number;
  root_hash: string;
  prev_checkpoint_hash: string;
  signature: string;
  payload: Buffer;
  note: string;
}

export interface Layout {
  size: number;
  /** By leaf index. */
  events: EventRow[];
  checkpoints: CheckpointRow[];
}

export async function loadLayout(sql: Sql): Promise<Layout> {
  const events = (await sql.query("SELECT seq, leaf_index, event_uuid, body, event_hash, leaf_hash, receipt_signature FROM ledger_events ORDER BY leaf_index")).map((r) => ({
    seq: Number(r.seq), leaf: Number(r.leaf_index), event_uuid: r.event_uuid, body: r.body, event_hash: r.event_hash, leaf_hash: r.leaf_hash, receipt_signature: r.receipt_signature,
  }));
  const checkpoints = (await sql.query("SELECT checkpoint_id, tree_size, root_hash, prev_checkpoint_hash, signature, payload, note FROM ledger_checkpoints ORDER BY checkpoint_id")).map((r) => ({
    id: Number(r.checkpoint_id), size: Number(r.tree_size), root_hash: r.root_hash, prev_checkpoint_hash: r.prev_checkpoint_hash, signature: r.signature, payload: Buffer.from(r.payload), note: r.note,
  }));
  return { size: events.length, events, checkpoints };
}

export interface Matcher {
  kind: FsckProblem["kind"];
  where: string | RegExp;
  detail?: RegExp;
}

const matches = (p: FsckProblem, m: Matcher) =>
  p.kind === m.kind && (typeof m.where === "string" ? p.where === m.where : m.where.test(p.where)) && (!m.detail || m.detail.test(p.detail));

/** Every required problem is reported, and nothing outside required + allowed is. */
export function expectProblems(problems: FsckProblem[], required: Matcher[], allowed: Matcher[] = []): void {
  const shown = JSON.stringify(problems, null, 1);
  for (const m of required) expect(problems.some((p) => matches(p, m)), `missing ${m.kind} ${m.where} ${m.detail ?? ""} in ${shown}`).toBe(true);
  const stray = problems.filter((p) => ![...required, ...allowed].some((m) => matches(p, m)));
  expect(stray, "problems reported about parts that were not touched").toEqual([]);
}

export const eventAt = (e: EventRow, detail?: RegExp): Matcher => ({ kind: "event", where: `event seq ${e.seq} (${e.event_uuid})`, detail });
export const checkpointAt = (id: number, detail?: RegExp): Matcher => ({ kind: "checkpoint", where: `checkpoint ${id}`, detail });

/**
 * A changed leaf `leaf` changes its level-0 tile, the level-1 tile holding that tile's root when the
 * tile is full, and the root of every checkpoint that covers it; no other checkpoint.
 */
export function treeDamage(l: Layout, leaf: number): Matcher[] {
  const tileIndex = Math.floor(leaf / 256);
  const full = (tileIndex + 1) * 256 <= l.size;
  const out: Matcher[] = [{ kind: "tile", where: full ? `tile/0/${tileIndex}` : `tile/0/${tileIndex}.p/${l.size % 256}`, detail: /differ/ }];
  if (full) out.push({ kind: "tile", where: `tile/1/0.p/${Math.floor(l.size / 256)}`, detail: /different from the re-derived/ });
  for (const cp of l.checkpoints.filter((c) => c.size > leaf)) out.push(checkpointAt(cp.id, /^root [0-9a-f]{64} differs from the root [0-9a-f]{64} re-derived/));
  return out;
}

export interface TamperCase {
  name: string;
  tables: string[];
  /** Changes one thing and returns what puts the original back. */
  apply(tx: Sql, l: Layout): Promise<(tx: Sql) => Promise<void>>;
  required(l: Layout): Matcher[];
  allowed?(l: Layout): Matcher[];
}

/** Leaves chosen so that earlier checkpoints do not cover them (A: first leaf after checkpoint 2, in the full tile). */
export const leafA = (l: Layout) => l.checkpoints[1]!.size;
/** In the right-edge (partial) tile, after checkpoint 4. */
export const leafB = (l: Layout) => l.checkpoints[3]!.size + 40;
/** Checkpoint tampered with: one in the middle of the chain. */
export const CP = 3;

const setEvent = (column: string, e: EventRow, value: string) => async (tx: Sql) => void (await tx.query(`UPDATE ledger_events SET ${column} = $1 WHERE seq = $2`, [value, e.seq]));
const setCheckpoint = (column: string, value: unknown) => async (tx: Sql) => void (await tx.query(`UPDATE ledger_checkpoints SET ${column} = $1 WHERE checkpoint_id = $2`, [value, CP]));
const cp = (l: Layout) => l.checkpoints[CP - 1]!;

/** One digit of the `amount` in tool_args, in the stored JSON body. */
function flipAmount(body: string): string {
  const at = body.indexOf('"amount":') + '"amount":'.length;
  expect(body[at]).toMatch(/[0-9]/);
  return flipChar(body, at);
}

function bodyCase(name: string, pick: (l: Layout) => number): TamperCase {
  return {
    name,
    tables: ["ledger_events"],
    async apply(tx, l) {
      const e = l.events[pick(l)]!;
      await setEvent("body", e, flipAmount(e.body))(tx);
      return setEvent("body", e, e.body);
    },
    required: (l) => {
      const e = l.events[pick(l)]!;
      return [eventAt(e, /^event hash recomputed from the body is/), eventAt(e, /^leaf hash should be/), ...treeDamage(l, pick(l))];
    },
  };
}

export const tamperCases: TamperCase[] = [
  bodyCase("an event body (tool_args amount) in the full tile", leafA),
  bodyCase("an event body (tool_args amount) in the right-edge tile", leafB),
  {
    name: "an event_hash",
    tables: ["ledger_events"],
    async apply(tx, l) {
      const e = l.events[leafA(l)]!;
      await setEvent("event_hash", e, flipChar(e.event_hash, 10))(tx);
      return setEvent("event_hash", e, e.event_hash);
    },
    required: (l) => [eventAt(l.events[leafA(l)]!, /^event hash recomputed/), eventAt(l.events[leafA(l)]!, /receipt signature does not verify/)],
  },
  {
    name: "a leaf_hash",
    tables: ["ledger_events"],
    async apply(tx, l) {
      const e = l.events[leafA(l)]!;
      await setEvent("leaf_hash", e, flipChar(e.leaf_hash, 10))(tx);
      return setEvent("leaf_hash", e, e.leaf_hash);
    },
    required: (l) => [eventAt(l.events[leafA(l)]!, /^leaf hash should be/), eventAt(l.events[leafA(l)]!, /receipt signature does not verify/)],
  },
  {
    name: "a receipt_signature",
    tables: ["ledger_events"],
    async apply(tx, l) {
      const e = l.events[leafB(l)]!;
      await setEvent("receipt_signature", e, flipChar(e.receipt_signature, 30))(tx);
      return setEvent("receipt_signature", e, e.receipt_signature);
    },
    required: (l) => [eventAt(l.events[leafB(l)]!, /^receipt signature does not verify$/)],
  },
  {
    name: "a full tile's hashes",
    tables: ["ledger_tiles"],
    async apply(tx, l) {
      const [row] = await tx.query<{ hashes: Uint8Array }>("SELECT hashes FROM ledger_tiles WHERE level = 0 AND idx = 0");
      const set = (b: Uint8Array) => async (t: Sql) => void (await t.query("UPDATE ledger_tiles SET hashes = $1 WHERE level = 0 AND idx = 0", [Buffer.from(b)]));
      await set(flipByte(row!.hashes, 32 * leafA(l) + 7))(tx);
      return set(row!.hashes);
    },
    required: () => [{ kind: "tile", where: "tile/0/0", detail: /^stored tile differs from the tile re-derived from the events$/ }],
  },
  {
    name: "a partial tile's hashes",
    tables: ["ledger_partial_tiles"],
    async apply(tx, l) {
      const [row] = await tx.query<{ hashes: Uint8Array }>("SELECT hashes FROM ledger_partial_tiles WHERE level = 0");
      const set = (b: Uint8Array) => async (t: Sql) => void (await t.query("UPDATE ledger_partial_tiles SET hashes = $1 WHERE level = 0", [Buffer.from(b)]));
      await set(flipByte(row!.hashes, 32 * (leafB(l) - 256) + 7))(tx);
      return set(row!.hashes);
    },
    required: (l) => [{ kind: "tile", where: `tile/0/1.p/${l.size - 256}`, detail: /partial tile missing or different/ }],
  },
  {
    name: "a checkpoint payload",
    tables: ["ledger_checkpoints"],
    async apply(tx, l) {
      await setCheckpoint("payload", flipByte(cp(l).payload, 40))(tx);
      return setCheckpoint("payload", cp(l).payload);
    },
    required: () => [checkpointAt(CP, /^stored signed payload differs/), checkpointAt(CP, /^checkpoint_hash is not the hash/), checkpointAt(CP, /^CBOR checkpoint signature does not verify$/)],
  },
  {
    name: "a checkpoint signature",
    tables: ["ledger_checkpoints"],
    async apply(tx, l) {
      await setCheckpoint("signature", flipChar(cp(l).signature, 30))(tx);
      return setCheckpoint("signature", cp(l).signature);
    },
    required: () => [checkpointAt(CP, /^CBOR checkpoint signature does not verify$/)],
  },
  {
    name: "a checkpoint root_hash",
    tables: ["ledger_checkpoints"],
    async apply(tx, l) {
      await setCheckpoint("root_hash", flipChar(cp(l).root_hash, 10))(tx);
      return setCheckpoint("root_hash", cp(l).root_hash);
    },
    required: () => [checkpointAt(CP, /^root [0-9a-f]{64} differs from the root/), checkpointAt(CP, /^stored signed payload differs/), checkpointAt(CP, /^C2SP note signs another tree head/)],
  },
  {
    name: "a checkpoint's prev_checkpoint_hash",
    tables: ["ledger_checkpoints"],
    async apply(tx, l) {
      await setCheckpoint("prev_checkpoint_hash", flipChar(cp(l).prev_checkpoint_hash, 10))(tx);
      return setCheckpoint("prev_checkpoint_hash", cp(l).prev_checkpoint_hash);
    },
    required: () => [checkpointAt(CP, /^chain broken: prev_checkpoint_hash [0-9a-f]{64}, expected [0-9a-f]{64}$/), checkpointAt(CP, /^stored signed payload differs/)],
  },
  {
    name: "the signature line of a C2SP checkpoint note",
    tables: ["ledger_checkpoints"],
    async apply(tx, l) {
      const note = cp(l).note;
      const line = note.lastIndexOf("\n\u2014 ") + 1;
      const sig = note.indexOf(" ", line + 2) + 1;
      await setCheckpoint("note", flipChar(note, sig + 30))(tx);
      return setCheckpoint("note", note);
    },
    required: () => [checkpointAt(CP, /^C2SP note does not verify: bad_signature: signature line 1: signature by known key .* does not verify$/)],
  },
  {
    name: "two leaf indexes, swapped",
    tables: ["ledger_events"],
    async apply(tx, l) {
      const [a, b] = [l.events[leafA(l)]!, l.events[leafA(l) + 1]!];
      // leaf_index is UNIQUE (and never negative): park one row at NULL while the other takes its place.
      const assign = async (t: Sql, x: EventRow, xLeaf: number, y: EventRow, yLeaf: number) => {
        await t.query("UPDATE ledger_events SET leaf_index = NULL WHERE seq = $1", [x.seq]);
        await t.query("UPDATE ledger_events SET leaf_index = $1 WHERE seq = $2", [yLeaf, y.seq]);
        await t.query("UPDATE ledger_events SET leaf_index = $1 WHERE seq = $2", [xLeaf, x.seq]);
      };
      await assign(tx, a, b.leaf, b, a.leaf);
      return (t) => assign(t, b, b.leaf, a, a.leaf);
    },
    required: (l) => treeDamage(l, leafA(l)),
  },
  {
    name: "a deleted event",
    tables: ["ledger_events"],
    async apply(tx, l) {
      const e = l.events[leafB(l)]!;
      const [row] = await tx.query("SELECT * FROM ledger_events WHERE seq = $1", [e.seq]);
      await tx.query("DELETE FROM ledger_events WHERE seq = $1", [e.seq]);
      const cols = Object.keys(row!);
      return async (t) => void (await t.query(`INSERT INTO ledger_events (${cols.join(", ")}) OVERRIDING SYSTEM VALUE VALUES (${cols.map((_, i) => `$${i + 1}`).join(", ")})`, cols.map((c) => row![c])));
    },
    required: (l) => [
      { kind: "tree", where: `leaf ${leafB(l)}`, detail: /a gap or a duplicate/ },
      { kind: "tree", where: "ledger_state", detail: new RegExp(`^tree_size is ${l.size} but ${l.size - 1} events`) },
      ...l.checkpoints.filter((c) => c.size > leafB(l)).map((c) => checkpointAt(c.id)),
    ],
    allowed: () => [{ kind: "tile", where: /^tile\/0\/1\.p\/\d+$/ }],
  },
  {
    name: "a deleted checkpoint in the middle of the chain",
    tables: ["ledger_checkpoints"],
    async apply(tx) {
      const [row] = await tx.query("SELECT * FROM ledger_checkpoints WHERE checkpoint_id = $1", [CP]);
      await tx.query("DELETE FROM ledger_checkpoints WHERE checkpoint_id = $1", [CP]);
      const cols = Object.keys(row!);
      return async (t) => void (await t.query(`INSERT INTO ledger_checkpoints (${cols.join(", ")}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(", ")})`, cols.map((c) => row![c])));
    },
    required: () => [checkpointAt(CP + 1, new RegExp(`^expected checkpoint id ${CP}`)), checkpointAt(CP + 1, /^chain broken/)],
    allowed: (l) => l.checkpoints.filter((c) => c.id > CP + 1).map((c) => checkpointAt(c.id, new RegExp(`^expected checkpoint id ${c.id - 1}`))),
  },
];

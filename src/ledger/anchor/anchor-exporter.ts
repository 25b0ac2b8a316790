import type { Clock } from "../../clock.js";
import type { Sql } from "../../db/sql.js";
import type { AnchorObject, AnchorStore } from "./anchor-store.js";
import { loadTiles } from "../store/ledger-tables.js";
import { encodeEntryBundle, encodeTile, entriesPath, tilePath } from "../core/tile-codec.js";
import { TILE_WIDTH, type TileRef } from "../core/tiles.js";
import { CHECKPOINT_COLUMNS, checkpointWire, servedNote, type CheckpointRow } from "../store/wire-rows.js";

/**
 * Exports checkpoints, oldest first, to the anchor store in the C2SP tlog-tiles layout: the entry
 * bundles (each entry is the 32-byte event hash, so leaf = SHA-256(0x00 || entry) as RFC 6962 and
 * tlog-tiles define it) and hash tiles added since the last exported checkpoint, the Ledgix JSON
 * checkpoint, and last the `checkpoint` note, so a reader never sees a checkpoint without its tiles.
 * The note is the cosigned one once witnesses have cosigned it; a checkpoint exported before that is
 * exported again, note only, when it becomes witnessed while still the newest exported.
 * A failure is retried with exponential backoff and never touches the decision path.
 */

const MAX_BACKOFF_MS = 300_000;
const CHECKPOINTS_PER_PASS = 20;
// "expo" in ASCII; a different key from the sequencer's, so exporting never holds up sequencing.
const EXPORT_LOCK = 0x6578706f;

export interface ExportResult {
  exported: number;
  failed?: { checkpointId: number; error: string };
}

export class AnchorExporter {
  /**
   * `exclusive`: several processes share the database (PostgreSQL), so a pass holds an advisory lock
   * in a transaction: two processes exporting at once could leave an older `checkpoint` note last.
   * An embedded database has one process, and a transaction held over file writes would stall it.
   */
  constructor(
    private readonly store: AnchorStore,
    private readonly clock: Clock,
    private readonly exclusive: boolean,
  ) {}

  async run(tenantId: string, sql: Sql): Promise<ExportResult> {
    if (!this.exclusive) return this.pass(tenantId, sql);
    return sql.transaction(async (tx) => {
      const [lock] = await tx.query<{ locked: boolean }>("SELECT pg_try_advisory_xact_lock($1) AS locked", [EXPORT_LOCK]);
      return lock?.locked ? this.pass(tenantId, tx) : { exported: 0 };
    });
  }

  private async pass(tenantId: string, sql: Sql): Promise<ExportResult> {
    const pending = await sql.query<CheckpointRow & { due: boolean }>(
      `SELECT ${CHECKPOINT_COLUMNS}, next_export_at <= $2 AS due FROM ledger_checkpoints
        WHERE export_status <> 'exported' ORDER BY checkpoint_id LIMIT $1`,
      [CHECKPOINTS_PER_PASS, this.clock.now()],
    );
    let exported = 0;
    for (const cp of pending) {
      // In order: a later checkpoint's tiles build on the earlier ones', so a backing-off one holds the rest.
      if (!cp.due) break;
      try {
        await this.checkReady(tenantId);
        const uri = await this.store.put(tenantId, await this.objectsFor(sql, cp));
        // cosigned_exported records which note went out, as read above: a cosignature that lands meanwhile is re-exported.
        await sql.query(
          `UPDATE ledger_checkpoints SET export_status = 'exported', export_uri = $2, exported_at = $3, export_error = NULL, cosigned_exported = $4
            WHERE checkpoint_id = $1`,
          [cp.checkpoint_id, uri, this.clock.now(), cp.cosigned_note != null],
        );
        exported++;
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        await sql.query(
          `UPDATE ledger_checkpoints SET export_status = 'failed', export_attempts = export_attempts + 1, export_error = $2,
             next_export_at = $3::timestamptz + make_interval(secs => LEAST($4::float8, 1000 * power(2, export_attempts)) / 1000)
           WHERE checkpoint_id = $1`,
          [cp.checkpoint_id, error.slice(0, 2000), this.clock.now(), MAX_BACKOFF_MS],
        );
        return { exported, failed: { checkpointId: Number(cp.checkpoint_id), error } };
      }
    }
    await this.reexportCosigned(tenantId, sql);
    return { exported };
  }

  /**
   * The newest exported checkpoint, when witnesses cosigned it after its export: its `checkpoint`
   * object again, now with the cosignatures. Only the newest: an older note must never replace a newer one.
   */
  private async reexportCosigned(tenantId: string, sql: Sql): Promise<void> {
    const [cp] = await sql.query<{ checkpoint_id: number; cosigned_note: string | null; cosigned_exported: boolean }>(
      "SELECT checkpoint_id, cosigned_note, cosigned_exported FROM ledger_checkpoints WHERE export_status = 'exported' ORDER BY checkpoint_id DESC LIMIT 1",
    );
    if (!cp || cp.cosigned_note === null || cp.cosigned_exported) return;
    await this.store.put(tenantId, [noteObject(cp.cosigned_note)]);
    await sql.query("UPDATE ledger_checkpoints SET cosigned_exported = true WHERE checkpoint_id = $1", [cp.checkpoint_id]);
  }

  private readyTenants = new Set<string>();
  private async checkReady(tenantId: string): Promise<void> {
    if (this.readyTenants.has(tenantId)) return;
    await this.store.checkReady(tenantId);
    this.readyTenants.add(tenantId);
  }

  private async objectsFor(sql: Sql, cp: CheckpointRow): Promise<AnchorObject[]> {
    const size = Number(cp.tree_size);
    const [prev] = await sql.query<{ tree_size: number }>(
      "SELECT tree_size FROM ledger_checkpoints WHERE export_status = 'exported' AND checkpoint_id < $1 ORDER BY checkpoint_id DESC LIMIT 1",
      [cp.checkpoint_id],
    );
    const from = Number(prev?.tree_size ?? 0);
    const refs = changedTiles(from, size);
    const tiles = await loadTiles(sql, refs);
    const objects: AnchorObject[] = [];
    for (const ref of refs) {
      const hashes = tiles.get(`${ref.level}/${ref.index}`)?.slice(0, ref.width);
      if (!hashes || hashes.length < ref.width) throw new Error(`tile ${tilePath(ref.level, ref.index, ref.width)} is missing from the database`);
      objects.push(tileObject(tilePath(ref.level, ref.index, partialWidth(ref)), encodeTile(hashes)));
    }
    for (const ref of refs.filter((r) => r.level === 0)) {
      const rows = await sql.query<{ event_hash: string }>(
        "SELECT event_hash FROM ledger_events WHERE leaf_index >= $1 AND leaf_index < $2 ORDER BY leaf_index",
        [ref.index * TILE_WIDTH, ref.index * TILE_WIDTH + ref.width],
      );
      if (rows.length !== ref.width) throw new Error(`entries of ${entriesPath(ref.index, partialWidth(ref))} are missing from the database`);
      objects.push(tileObject(entriesPath(ref.index, partialWidth(ref)), encodeEntryBundle(rows.map((r) => Buffer.from(r.event_hash, "hex")))));
    }
    const ledgix = Buffer.from(JSON.stringify(checkpointWire({ ...cp, export_status: "exported", exported_at: null })) + "\n");
    objects.push({ path: `ledgix/checkpoints/${cp.checkpoint_id}.json`, body: ledgix, contentType: "application/json", immutable: true });
    objects.push(noteObject(servedNote(cp)));
    return objects;
  }
}

function noteObject(note: string): AnchorObject {
  return { path: "checkpoint", body: Buffer.from(note, "utf8"), contentType: "text/plain; charset=utf-8", immutable: false };
}

function partialWidth(ref: TileRef): number | undefined {
  return ref.width === TILE_WIDTH ? undefined : ref.width;
}

function tileObject(path: string, body: Uint8Array): AnchorObject {
  return { path, body, contentType: "application/octet-stream", immutable: true };
}

/** The tiles of a tree of `size` that a tree of `from` did not already have in this form. */
export function changedTiles(from: number, size: number): TileRef[] {
  const refs: TileRef[] = [];
  for (let level = 0; Math.floor(size / TILE_WIDTH ** level) > 0; level++) {
    const nodes = Math.floor(size / TILE_WIDTH ** level);
    const before = Math.floor(from / TILE_WIDTH ** level);
    for (let index = Math.floor(before / TILE_WIDTH); index * TILE_WIDTH < nodes; index++) {
      const width = Math.min(TILE_WIDTH, nodes - index * TILE_WIDTH);
      const widthBefore = Math.max(0, Math.min(TILE_WIDTH, before - index * TILE_WIDTH));
      if (width > widthBefore) refs.push({ level, index, width });
    }
  }
  return refs;
}

import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Config } from "../config/config.js";
import { NewerSchemaError } from "../db/migrate.js";
import { assertNotWritableByOthers, PRIVATE_FILE_MODE, restrictUmask } from "../private-files.js";
import { VERSION } from "../version.js";

/**
 * The layout of the data directory (keys/, control/, tenants/, anchors/, and how each is written) that
 * this binary reads and writes. Raise it when a version changes that layout in a way an older binary
 * would misread; each database's schema is versioned separately, by its migrations (db/migrate.ts).
 */
export const DATA_DIR_FORMAT = 1;
export const DATA_DIR_MARKER = "countersign.json";

interface DataDirMarker {
  format: number;
  written_by: string;
}

/**
 * Start-up check of the vault's own directories, before anything is created in them. A directory
 * that group or others can write lets another local user replace the signing key, a database file or
 * a lock, so the vault refuses to start there (UnsafeDirectoryError, exit 1) instead of fixing it
 * silently: the operator should learn how it got that way. A data directory a newer Countersign
 * wrote (its countersign.json names a higher format) is refused too (NewerSchemaError).
 */
export function checkDataDir(config: Config): void {
  // Everything created from here on (PGlite files included) is private to the vault's user.
  restrictUmask();
  if (config.dataDir !== "memory://") {
    assertNotWritableByOthers(config.dataDir, "VAULT_DATA_DIR");
    for (const sub of ["keys", "control", "tenants", "anchors"]) assertNotWritableByOthers(path.join(config.dataDir, sub), "VAULT_DATA_DIR");
    checkDataDirFormat(config.dataDir);
  }
  const anchor = config.ledger.anchor;
  if (anchor.kind === "local" && anchor.dir !== "memory://") assertNotWritableByOthers(anchor.dir, "VAULT_LEDGER_ANCHOR_DIR");
}

/** Refuses a data directory whose countersign.json this binary cannot vouch for; a missing one is fine (first start, or older). */
export function checkDataDirFormat(dataDir: string): void {
  const file = path.join(dataDir, DATA_DIR_MARKER);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  let marker: Partial<DataDirMarker>;
  try {
    marker = JSON.parse(text) as Partial<DataDirMarker>;
  } catch {
    marker = {};
  }
  // Fail closed: a marker we cannot read could be a newer one.
  if (typeof marker !== "object" || marker === null || !Number.isSafeInteger(marker.format) || marker.format! < 1) {
    throw new NewerSchemaError(`${file} is not a Countersign data directory marker (expected {"format": <integer>, ...}); restore it from a backup, or remove it if this directory was never used by a newer Countersign`);
  }
  if (marker.format! > DATA_DIR_FORMAT) {
    const by = typeof marker.written_by === "string" ? ` (written by Countersign ${marker.written_by})` : "";
    throw new NewerSchemaError(
      `The data directory ${dataDir} has format ${marker.format}${by}, newer than this Countersign (${VERSION}), which reads format ${DATA_DIR_FORMAT}. ` +
        "Run the newer version, or restore a backup taken before the upgrade.",
    );
  }
}

/**
 * Writes countersign.json when the data directory has none (its first start, or the first of a version
 * that marks it), once the control database is open: a start refused before leaves the directory as it
 * was. A directory that does not exist holds nothing to mark (a server-backed vault with its keys
 * elsewhere) and is not created for the marker alone.
 */
export function markDataDir(config: Config): void {
  if (config.dataDir === "memory://" || !existsSync(config.dataDir)) return;
  const file = path.join(config.dataDir, DATA_DIR_MARKER);
  if (existsSync(file)) return;
  const marker: DataDirMarker = { format: DATA_DIR_FORMAT, written_by: VERSION };
  // Written aside and renamed: a crash never leaves a half-written marker that the next start would refuse.
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(marker, null, 2)}\n`, { mode: PRIVATE_FILE_MODE });
  renameSync(tmp, file);
}

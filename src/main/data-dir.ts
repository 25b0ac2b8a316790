import path from "node:path";
import type { Config } from "../config/config.js";
import { assertNotWritableByOthers, restrictUmask } from "../private-files.js";

/**
 * Start-up check of the vault's own directories, before anything is created in them. A directory
 * that group or others can write lets another local user replace the signing key, a database file or
 * a lock, so the vault refuses to start there (UnsafeDirectoryError, exit 1) instead of fixing it
 * silently: the operator should learn how it got that way.
 */
export function checkDataDir(config: Config): void {
  // Everything created from here on (PGlite files included) is private to the vault's user.
  restrictUmask();
  if (config.dataDir !== "memory://") {
    assertNotWritableByOthers(config.dataDir, "VAULT_DATA_DIR");
    for (const sub of ["keys", "control", "tenants", "anchors"]) assertNotWritableByOthers(path.join(config.dataDir, sub), "VAULT_DATA_DIR");
  }
  const anchor = config.ledger.anchor;
  if (anchor.kind === "local" && anchor.dir !== "memory://") assertNotWritableByOthers(anchor.dir, "VAULT_LEDGER_ANCHOR_DIR");
}

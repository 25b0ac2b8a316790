import { chmodSync, lstatSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { isMainThread } from "node:worker_threads";

/** Modes for everything the vault writes: keys, databases, anchors and locks are the vault's alone. */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/**
 * PGlite writes its data files through Node's fs with default modes (0666 & ~umask), and offers no
 * option to change them: with the usual umask 0022 every database file would be readable by every
 * local user. A process-wide umask of 0077 is the one lever that covers files we do not write
 * ourselves; our own mkdir/writeFile calls pass explicit modes as well. Worker threads may not change
 * the umask (Node throws there), and they write no files of ours.
 */
export function restrictUmask(): void {
  if (isMainThread) process.umask(0o077);
}

/**
 * Removes group and other bits from everything under `dir`. PGlite unpacks its initial database with
 * explicit 0666 modes and rewrites relcache files (pg_internal.init) 0644 at each start, so neither
 * the umask nor our own modes reach them; a sweep after open and after close does (about 1,100 files,
 * a few milliseconds). Symlinks are skipped: chmod would follow them out of the directory.
 */
export function tightenTree(dir: string): void {
  const st = lstatSync(dir);
  if (st.isSymbolicLink()) return;
  if (st.mode & 0o077) chmodSync(dir, st.mode & 0o700);
  if (!st.isDirectory()) return;
  for (const entry of readdirSync(dir)) tightenTree(path.join(dir, entry));
}

export class UnsafeDirectoryError extends Error {}

/**
 * Refuses an existing directory that group or others can write: they could replace a database file,
 * the signing key or a lock. Missing directories are fine (the vault creates them 0700).
 */
export function assertNotWritableByOthers(dir: string, variable: string): void {
  let mode: number;
  try {
    const st = statSync(dir);
    if (!st.isDirectory()) throw new UnsafeDirectoryError(`${variable}: ${dir} is not a directory`);
    mode = st.mode & 0o777;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  if (mode & 0o022) {
    throw new UnsafeDirectoryError(
      `${variable}: ${dir} can be written by group or others (mode ${mode.toString(8).padStart(4, "0")}); ` +
        `the vault keeps its databases and keys there. Fix it with: chmod -R go-rwx ${dir}`,
    );
  }
}

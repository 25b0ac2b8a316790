import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { PGlite, type Transaction } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite-pgvector";
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, restrictUmask, tightenTree } from "../private-files.js";
import { CommitHooks, notInTransaction, type Database, type Sql } from "./sql.js";

class PgliteTransaction implements Sql {
  constructor(
    private readonly tx: Transaction,
    private readonly hooks: CommitHooks,
  ) {}
  async query<T>(text: string, params?: readonly unknown[]): Promise<T[]> {
    return (await this.tx.query<T>(text, params as unknown[])).rows;
  }
  async exec(script: string): Promise<void> {
    await this.tx.exec(script);
  }
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    return fn(this);
  }
  onCommit(fn: () => void): void {
    this.hooks.add(fn);
  }
}

/**
 * Embedded PostgreSQL (WASM). One session: transactions run one after another, so this engine
 * is for laptops and tests of behaviour, never for concurrency claims.
 */
export class PgliteDatabase implements Database {
  readonly engine = "pglite" as const;
  private constructor(
    private readonly db: PGlite,
    private readonly lockFile: string | null,
    private readonly dataDir: string | null = null,
  ) {}

  static async open(dataDir: string): Promise<PgliteDatabase> {
    if (dataDir === "memory://") return new PgliteDatabase(await createCluster(dataDir, true), null);
    // Database files are the vault's alone (0700/0600): the umask covers the files Postgres creates
    // later, the sweep the ones PGlite writes with its own modes (see private-files.ts).
    restrictUmask();
    mkdirSync(dataDir, { recursive: true, mode: PRIVATE_DIR_MODE });
    const lockFile = takeDirectoryLock(dataDir);
    let pglite: PGlite;
    try {
      // Empty: a new database (a directory left half-made by a crash is PGlite's to deal with, as before).
      pglite = await createCluster(dataDir, readdirSync(dataDir).length === 0);
    } catch (err) {
      rmSync(lockFile, { force: true });
      throw err;
    }
    const db = new PgliteDatabase(pglite, lockFile, dataDir);
    try {
      tightenTree(dataDir);
    } catch (err) {
      await db.close().catch(() => {});
      throw err;
    }
    return db;
  }

  async query<T>(text: string, params?: readonly unknown[]): Promise<T[]> {
    return (await this.db.query<T>(text, params as unknown[])).rows;
  }

  async exec(script: string): Promise<void> {
    await this.db.exec(script);
  }

  async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    const hooks = new CommitHooks();
    const result = await this.db.transaction((tx) => fn(new PgliteTransaction(tx, hooks)));
    hooks.run();
    return result;
  }

  onCommit(): void {
    notInTransaction();
  }

  async close(): Promise<void> {
    try {
      if (!this.db.closed) await this.db.close();
      // Closing may rewrite files with PGlite's own modes; tighten them before the lock is released.
      if (this.dataDir) tightenTree(this.dataDir);
    } finally {
      if (this.lockFile) rmSync(this.lockFile, { force: true });
    }
  }
}

/**
 * A fresh cluster (initdb's output, before any migration) as a tarball, kept for a minute after the
 * last use. initdb is most of a new PGlite database's cost (2-4 s of WASM on the main thread); unpacking
 * this takes ~0.5 s. A first start creates two databases back to back (control, then tenant
 * "default"), and tests many: the first pays initdb, the ones soon after reuse its output. Held in
 * memory only (~40 MB), never written anywhere, and dropped when idle.
 */
let freshCluster: { tarball: Blob; dropTimer: NodeJS.Timeout } | undefined;
const FRESH_CLUSTER_KEEP_MS = 60_000;

function keepFreshCluster(tarball: Blob): void {
  if (freshCluster) clearTimeout(freshCluster.dropTimer);
  const dropTimer = setTimeout(() => (freshCluster = undefined), FRESH_CLUSTER_KEEP_MS);
  dropTimer.unref();
  freshCluster = { tarball, dropTimer };
}

/** Opens a cluster, or creates one in an empty directory (`isNew`): unpacked from a kept fresh cluster when there is one. */
async function createCluster(dataDir: string, isNew: boolean): Promise<PGlite> {
  // pgvector ships with the embedded engine, so retrieval on a laptop uses the HNSW index too.
  const options = { extensions: { vector } };
  if (!isNew) return PGlite.create(dataDir, options);
  const template = freshCluster?.tarball;
  if (template) {
    keepFreshCluster(template);
    return PGlite.create(dataDir, { ...options, loadDataDir: template });
  }
  const pglite = await PGlite.create(dataDir, options);
  // Dumped before the caller runs anything: the tarball holds initdb's output and nothing of ours.
  try {
    keepFreshCluster(await pglite.dumpDataDir("none"));
  } catch {
    // Only an optimisation: the next new database runs initdb itself.
  }
  return pglite;
}

export class DirectoryInUseError extends Error {}

/**
 * A PGlite directory must be opened by one process at a time: a second writer (say the CLI while
 * the vault runs) would silently lose its writes. A lock file beside the directory holds the pid;
 * a lock whose process is gone is stale and taken over.
 */
function takeDirectoryLock(dataDir: string): string {
  const lockFile = `${dataDir}.lock`;
  try {
    writeFileSync(lockFile, String(process.pid), { flag: "wx", mode: PRIVATE_FILE_MODE });
    return lockFile;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  const holder = Number(readFileSync(lockFile, "utf8"));
  if (Number.isInteger(holder) && holder > 0 && processAlive(holder)) {
    throw new DirectoryInUseError(`${dataDir} is in use by process ${holder}; the embedded database allows one process at a time (stop the vault first)`);
  }
  writeFileSync(lockFile, String(process.pid), { mode: PRIVATE_FILE_MODE });
  return lockFile;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

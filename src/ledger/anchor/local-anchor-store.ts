/**
 * AnchorStore on a local directory: `<dir>/<tenantId>/` holds the tenant's log in the C2SP tlog-tiles layout
 * (`checkpoint`, `tile/<L>/<N>[.p/<W>]`, `tile/entries/<N>[.p/<W>]`), so the directory can be served as-is
 * by any static file server and read by existing tlog tools.
 *
 * Every write is atomic (temporary file in the same directory, fsync, then rename or link) so a reader never
 * sees a torn file, and the directory entries are fsynced so an exported checkpoint survives a crash.
 */
import { createHash, randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import {
  AnchorConfigError,
  AnchorConflictError,
  checkObjectPath,
  checkTenantId,
  type AnchorObject,
  type AnchorStore,
} from "./anchor-store.js";

export class LocalAnchorStore implements AnchorStore {
  readonly kind = "local";
  readonly dir: string;
  private readonly ready = new Set<string>();

  /** removeOnClose: for the throwaway directory of a memory:// data dir, which must not outlive the process. */
  constructor(dir: string, private readonly removeOnClose = false) {
    this.dir = path.resolve(dir);
  }

  target(tenantId: string): string {
    return `${pathToFileURL(this.tenantDir(tenantId)).href}/`;
  }

  async checkReady(tenantId?: string): Promise<void> {
    const dir = tenantId === undefined ? this.dir : this.tenantDir(tenantId);
    if (this.ready.has(dir)) return;
    // A real write (not just access()) catches read-only mounts and full disks as well as permissions.
    const probe = path.join(dir, `.probe-${randomBytes(6).toString("hex")}`);
    try {
      // 0700/0600 whatever the umask: the vault's own files are nobody else's to read or replace.
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      await fs.writeFile(probe, "probe", { mode: 0o600 });
      await fs.rm(probe);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new AnchorConfigError(
        `VAULT_LEDGER_ANCHOR_DIR: the anchor directory ${dir} is not writable (${e.code ?? e.name}: ${e.message}); ` +
          "create it with write access for the vault or point VAULT_LEDGER_ANCHOR_DIR at a writable directory",
      );
    }
    this.ready.add(dir);
  }

  async put(tenantId: string, objects: readonly AnchorObject[]): Promise<string> {
    const base = this.tenantDir(tenantId);
    // Every path is checked before the first write, so a bad one never leaves half a batch behind.
    const files = objects.map((o) => ({ object: o, file: path.join(base, checkObjectPath(o.path)) }));
    let last = this.target(tenantId);
    for (const { object, file } of files) {
      const created = await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      const wrote = object.immutable ? await createOnce(file, object.body) : await replace(file, object.body);
      if (wrote) await syncDirs(path.dirname(file), created);
      last = pathToFileURL(file).href;
    }
    return last;
  }

  async get(tenantId: string, objectPath: string): Promise<Uint8Array | undefined> {
    const file = path.join(this.tenantDir(tenantId), checkObjectPath(objectPath));
    return readIfExists(file);
  }

  async close(): Promise<void> {
    if (this.removeOnClose) await fs.rm(this.dir, { recursive: true, force: true });
  }

  private tenantDir(tenantId: string): string {
    return path.join(this.dir, checkTenantId(tenantId));
  }
}

async function readIfExists(file: string): Promise<Uint8Array | undefined> {
  try {
    return new Uint8Array(await fs.readFile(file));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw err;
  }
}

/** Writes and fsyncs a temporary file beside `file`; its name starts with "." so it is never a valid object path. */
async function writeTemp(file: string, body: Uint8Array): Promise<string> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString("hex")}.tmp`);
  const handle = await fs.open(tmp, "wx", 0o600);
  try {
    await handle.writeFile(body);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await handle.close();
  return tmp;
}

/** Mutable objects (checkpoint, partial tiles): rename() atomically replaces the old file. */
async function replace(file: string, body: Uint8Array): Promise<boolean> {
  const tmp = await writeTemp(file, body);
  try {
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  return true;
}

/**
 * Immutable objects: link() creates the name only if it does not exist yet (atomically, unlike a check then
 * rename), so two racing writers can never replace each other's bytes; the loser compares instead.
 * Returns false when an identical file was already there.
 */
async function createOnce(file: string, body: Uint8Array): Promise<boolean> {
  const existing = await readIfExists(file);
  if (existing) return sameOrConflict(file, existing, body);
  const tmp = await writeTemp(file, body);
  try {
    await fs.link(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    return sameOrConflict(file, new Uint8Array(await fs.readFile(file)), body);
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

function sameOrConflict(file: string, existing: Uint8Array, body: Uint8Array): false {
  if (Buffer.from(existing).equals(body)) return false;
  const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
  throw new AnchorConflictError(
    `immutable anchor object ${pathToFileURL(file).href} already exists with different bytes ` +
      `(existing sha256 ${sha(existing)}, new ${sha(body)}); the exported log disagrees with the database`,
  );
}

/**
 * fsyncs the file's directory and, when mkdir created directories, each parent that gained a new entry, so
 * the new names themselves are durable (POSIX: rename/link durability needs the directory fsynced).
 */
async function syncDirs(dir: string, firstCreated: string | undefined): Promise<void> {
  const stop = firstCreated ? path.dirname(firstCreated) : dir;
  for (let d = dir; ; d = path.dirname(d)) {
    const handle = await fs.open(d, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (d === stop || d === path.dirname(d)) break;
  }
}

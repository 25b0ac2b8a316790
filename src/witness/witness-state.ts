/**
 * What a witness remembers: for each log origin, the latest checkpoint it verified and cosigned. That
 * record is the witness's whole security value (a witness that forgets can be made to cosign a fork or
 * a rollback), so:
 *  - each origin is one JSON file under <state-dir>/logs/, written atomically (temporary file, fsync,
 *    rename, fsync of the directory) before the cosignature is returned (tlog-witness: "MUST persist");
 *  - every file is read and checked at startup; one that cannot be read stops the witness rather than
 *    silently starting that log over at size 0;
 *  - a lock file keeps a second witness process off the same directory (two writers could roll a log
 *    back; within one process, add-checkpoint.ts serializes per origin).
 * Refused checkpoints that carry a valid log signature (a fork, a bad proof) are kept under evidence/:
 * they may prove the log misbehaved. Their number is capped so a misbehaving log cannot fill the disk.
 */
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { decodeBase64Strict } from "../ledger/core/signed-note.js";
import { assertNotWritableByOthers, PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from "../private-files.js";

export class WitnessStateError extends Error {}

/** The latest checkpoint the witness cosigned for one log. */
export interface LogState {
  readonly origin: string;
  readonly size: number;
  readonly rootHash: Uint8Array;
  /** The signed checkpoint note as the log submitted it (the log's own signatures: evidence). */
  readonly note: string;
  /** When it was stored (ISO 8601). */
  readonly updatedAt: string;
}

const fileSchema = z.strictObject({
  version: z.literal(1),
  origin: z.string().min(1),
  size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  root_hash: z.string(),
  note: z.string(),
  updated_at: z.string(),
});

const MAX_EVIDENCE_FILES = 1000;
const LOCK = "witness.lock";
/** State directories this process holds open (the lock file's pid cannot tell two stores of one process apart). */
const OPEN_DIRS = new Set<string>();

const sha256Hex = (text: string | Uint8Array) => createHash("sha256").update(text).digest("hex");
/** Origins are arbitrary text: the file name is a hash of it, the origin itself is inside. */
const fileOf = (origin: string) => `${sha256Hex(origin).slice(0, 32)}.json`;

async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes `body` to `file` atomically: a reader (or a crash) sees the old bytes or the new, never a mix. */
async function writeAtomically(file: string, body: string): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString("hex")}.tmp`);
  const handle = await fs.open(tmp, "wx", PRIVATE_FILE_MODE);
  try {
    await handle.writeFile(body);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await handle.close();
  try {
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await syncDir(path.dirname(file));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export class WitnessStateStore {
  private readonly logs = new Map<string, LogState>();
  private evidenceCount = 0;
  private closed = false;

  private constructor(readonly dir: string) {}

  /** Opens (creating it 0700 if missing) and locks `dir`, and reads every stored log. */
  static async open(dir: string): Promise<WitnessStateStore> {
    const root = path.resolve(dir);
    try {
      assertNotWritableByOthers(root, "--state-dir");
    } catch (err) {
      throw new WitnessStateError((err as Error).message);
    }
    for (const d of [root, path.join(root, "logs"), path.join(root, "evidence")]) await fs.mkdir(d, { recursive: true, mode: PRIVATE_DIR_MODE });
    const store = new WitnessStateStore(root);
    await store.lock();
    try {
      await store.load();
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  private async lock(): Promise<void> {
    const file = path.join(this.dir, LOCK);
    const unique = (suffix: string) => path.join(this.dir, `.${LOCK}.${randomBytes(6).toString("hex")}.${suffix}`);
    for (let attempt = 0; attempt < 3; attempt++) {
      // Created whole: written to a temporary file, then hard-linked into place (link fails when the lock
      // exists). A lock opened empty and written afterwards could be read, in between, by a second witness
      // starting at the same moment, which would take the empty file for a dead process's and break it.
      const tmp = unique("tmp");
      await fs.writeFile(tmp, `${process.pid}\n`, { flag: "wx", mode: PRIVATE_FILE_MODE });
      try {
        await fs.link(tmp, file);
        OPEN_DIRS.add(this.dir);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      } finally {
        await fs.rm(tmp, { force: true });
      }
      const text = await fs.readFile(file, "utf8").catch(() => undefined);
      if (text === undefined) continue; // released meanwhile
      if (!/^[1-9][0-9]{0,9}\n$/.test(text)) {
        throw new WitnessStateError(`${file} is not a lock a witness wrote; if no witness runs on ${this.dir}, remove the file and start again`);
      }
      const pid = Number(text);
      // Our own pid: held by this process (another store) or left by an earlier process that had the same
      // pid (a restarted container's pid 1); only the first is in use.
      const held = pid === process.pid ? OPEN_DIRS.has(this.dir) : isAlive(pid);
      if (held) {
        throw new WitnessStateError(`${this.dir} is in use by another witness (pid ${pid}); two witnesses on one state directory could roll a log back`);
      }
      // Left by a process that is gone. Moved aside (atomically) and dropped only if it is still that stale
      // lock: a witness starting at the same moment may have broken it and put its own in place already.
      const aside = unique("stale");
      try {
        await fs.rename(file, aside);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw err;
      }
      const moved = await fs.readFile(aside, "utf8").catch(() => "");
      if (moved !== text) {
        await fs.link(aside, file).catch(() => undefined); // give the other witness its lock back
        await fs.rm(aside, { force: true });
        throw new WitnessStateError(`${this.dir} is in use by another witness that started at the same time; two witnesses on one state directory could roll a log back`);
      }
      await fs.rm(aside, { force: true });
    }
    throw new WitnessStateError(`cannot lock ${this.dir}`);
  }


  private async load(): Promise<void> {
    const logsDir = path.join(this.dir, "logs");
    for (const entry of await fs.readdir(logsDir)) {
      if (entry.startsWith(".") && entry.endsWith(".tmp")) {
        await fs.rm(path.join(logsDir, entry), { force: true }); // a write that never reached its rename
        continue;
      }
      if (!entry.endsWith(".json")) continue;
      const file = path.join(logsDir, entry);
      const state = this.readState(file, await fs.readFile(file, "utf8"));
      if (fileOf(state.origin) !== entry) throw new WitnessStateError(`${file} holds the state of another origin (${JSON.stringify(state.origin.slice(0, 200))})`);
      this.logs.set(state.origin, state);
    }
    this.evidenceCount = (await fs.readdir(path.join(this.dir, "evidence"))).length;
  }

  private readState(file: string, text: string): LogState {
    let parsed: z.infer<typeof fileSchema>;
    try {
      parsed = fileSchema.parse(JSON.parse(text));
    } catch (err) {
      throw new WitnessStateError(`${file} is not a readable witness state file (${(err as Error).message.split("\n")[0]}); restore it from a backup: starting that log over would let it roll back`);
    }
    const rootHash = decodeBase64Strict(parsed.root_hash);
    if (!rootHash || rootHash.length !== 32) throw new WitnessStateError(`${file}: root_hash is not base64 of 32 bytes`);
    return { origin: parsed.origin, size: parsed.size, rootHash, note: parsed.note, updatedAt: parsed.updated_at };
  }

  /** The stored state of `origin`, or undefined when the witness never cosigned a checkpoint of it. */
  get(origin: string): LogState | undefined {
    return this.logs.get(origin);
  }

  /** Every stored log (for the operator's status line). */
  all(): LogState[] {
    return [...this.logs.values()];
  }

  /** Persists `state` durably, then makes it the current one. Callers serialize per origin. */
  async put(state: LogState): Promise<void> {
    if (this.closed) throw new WitnessStateError("the witness state is closed");
    const body = JSON.stringify({
      version: 1,
      origin: state.origin,
      size: state.size,
      root_hash: Buffer.from(state.rootHash).toString("base64"),
      note: state.note,
      updated_at: state.updatedAt,
    });
    await writeAtomically(path.join(this.dir, "logs", fileOf(state.origin)), `${body}\n`);
    this.logs.set(state.origin, state);
  }

  /**
   * Keeps `evidence` of a refused request whose checkpoint (`checkpointBody`) the log really signed. One
   * file per checkpoint and reason: the name is derived from the checkpoint, not from the request, so
   * the same signed checkpoint resubmitted with other proofs or extra unknown signature lines (anyone
   * can do that with a public checkpoint) never takes a second file, and the cap is left for what only
   * the log can produce. Returns the file written, or undefined when that checkpoint is already kept
   * or the cap is reached. Never throws: evidence is best effort and must not turn a refusal into a 500.
   */
  async keepEvidence(origin: string, reason: string, checkpointBody: string, evidence: string): Promise<string | undefined> {
    if (this.closed || this.evidenceCount >= MAX_EVIDENCE_FILES) return undefined;
    const file = path.join(this.dir, "evidence", `${sha256Hex(origin).slice(0, 16)}-${reason}-${sha256Hex(checkpointBody).slice(0, 16)}.txt`);
    try {
      const handle = await fs.open(file, "wx", PRIVATE_FILE_MODE);
      try {
        await handle.writeFile(evidence);
        await handle.sync();
      } finally {
        await handle.close();
      }
      this.evidenceCount++;
      return file;
    } catch {
      return undefined;
    }
  }

  /** Releases the lock. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!OPEN_DIRS.delete(this.dir)) return; // never locked (open failed): the lock is someone else's
    await fs.rm(path.join(this.dir, LOCK), { force: true });
  }
}

import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { AppError } from "../errors.js";
import { VERSION } from "../version.js";
import type { Sql } from "./sql.js";

export type MigrationSet = "control" | "tenant";

interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

const migrationsRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../migrations");

function loadMigrations(set: MigrationSet): Migration[] {
  const dir = path.join(migrationsRoot, set);
  return readdirSync(dir)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((file) => {
      const sql = readFileSync(path.join(dir, file), "utf8");
      return {
        version: Number(file.slice(0, 4)),
        name: file,
        sql,
        checksum: createHash("sha256").update(sql).digest("hex"),
      };
    });
}

/**
 * The data on disk was written by a newer Countersign than this one (a database holding migrations
 * this binary does not know, or a data directory of a newer format). Running on would mean reading
 * and writing a schema it does not understand, so it refuses: the start (control database, data
 * directory), or a tenant's requests (503 schema_too_new). The message says what to do.
 */
export class NewerSchemaError extends AppError {
  constructor(detail: string) {
    super("schema_too_new", detail);
  }
}

// Advisory lock keys are per database, so one constant serialises migrators of the same database.
const MIGRATION_LOCK_KEY = 7_261_902_411;

/**
 * Applies forward-only, numbered SQL migrations under an advisory lock. An applied migration whose
 * file changed since is an error: history is never rewritten. An applied migration this binary does
 * not know is a newer version's schema: NewerSchemaError, nothing applied. `what` names the database
 * in that message ("the control database", "the database of tenant t_…").
 */
export async function migrate(db: Sql, set: MigrationSet, what = `the ${set} database`): Promise<number> {
  const migrations = loadMigrations(set);
  return db.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK_KEY]);
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now())`);
    const applied = new Map(
      (await tx.query<{ version: number; checksum: string; name: string }>("SELECT version, checksum, name FROM schema_migrations")).map(
        (r) => [r.version, r],
      ),
    );
    refuseNewerSchema([...applied.values()], migrations, what);
    let count = 0;
    for (const m of migrations) {
      const done = applied.get(m.version);
      if (done) {
        if (done.checksum !== m.checksum) {
          throw new Error(`migration ${m.name} was changed after it was applied (${set} database); add a new migration instead`);
        }
        continue;
      }
      await tx.exec(m.sql);
      await tx.query("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", [m.version, m.name, m.checksum]);
      count++;
    }
    return count;
  });
}

/**
 * Applied migrations this binary has no file for come from a newer version (migrations are never
 * deleted): refused before anything is applied, so the database is left as it was.
 */
function refuseNewerSchema(applied: { version: number; name: string }[], known: Migration[], what: string): void {
  const knownVersions = new Set(known.map((m) => m.version));
  const unknown = applied.filter((a) => !knownVersions.has(a.version)).sort((a, b) => a.version - b.version);
  if (unknown.length === 0) return;
  const newestApplied = applied.reduce((a, b) => (b.version > a.version ? b : a));
  const label = (name: string) => name.replace(/\.sql$/, "");
  const newestKnown = known.length > 0 ? label(known.at(-1)!.name) : "none";
  const capital = what.charAt(0).toUpperCase() + what.slice(1);
  throw new NewerSchemaError(
    `${capital} has a newer schema than this Countersign (${VERSION}): it has migration ${label(newestApplied.name)}` +
      `${unknown.length > 1 ? ` (unknown to this binary: ${unknown.map((u) => label(u.name)).join(", ")})` : ""}` +
      `, this binary knows up to ${newestKnown}. Run the newer version, or restore a backup taken before the upgrade.`,
  );
}

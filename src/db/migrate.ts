import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
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

// Advisory lock keys are per database, so one constant serialises migrators of the same database.
const MIGRATION_LOCK_KEY = 7_261_902_411;

/**
 * Applies forward-only, numbered SQL migrations under an advisory lock. An applied migration whose
 * file changed since is an error: history is never rewritten.
 */
export async function migrate(db: Sql, set: MigrationSet): Promise<number> {
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

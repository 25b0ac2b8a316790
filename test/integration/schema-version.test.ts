/**
 * Issue 14: the data on disk carries a version, and an older binary refuses a newer one with a clear
 * message instead of running on a schema it does not know. A database holding a migration this binary
 * has no file for (PGlite and PostgreSQL, control and tenant) and a data directory whose
 * countersign.json names a higher format are refused at start, and the refused start changes nothing.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { NewerSchemaError } from "../../src/db/migrate.js";
import { PgDatabase, withDatabaseName } from "../../src/db/pg-database.js";
import { PgliteDatabase } from "../../src/db/pglite-database.js";
import type { Database } from "../../src/db/sql.js";
import { DATA_DIR_FORMAT, DATA_DIR_MARKER } from "../../src/main/data-dir.js";
import { VERSION } from "../../src/version.js";
import { call, newDatabase, newPgliteDir, refundPolicy, startTestVault, type Engine, type TestDatabase } from "../helpers/vault.js";

const FUTURE = { version: 9001, name: "9001_from_a_newer_countersign.sql" };
const newestKnown = (set: "control" | "tenant") =>
  readdirSync(path.resolve("migrations", set))
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .at(-1)!
    .replace(/\.sql$/, "");

const dropped: TestDatabase[] = [];
afterAll(async () => {
  for (const db of dropped) await db.drop();
});

describe.each<Engine>(["pglite", "postgres"])("a database with a newer schema, on %s", (engine) => {
  // Opened only while no vault runs: PGlite allows one process (and one handle) at a time.
  async function withDb<T>(db: TestDatabase, which: { tenant?: { id: string; dbName: string } }, fn: (sql: Database) => Promise<T>): Promise<T> {
    const conn =
      engine === "pglite"
        ? await PgliteDatabase.open(which.tenant ? path.join(db.url, "tenants", which.tenant.dbName) : path.join(db.url, "control"))
        : new PgDatabase(which.tenant ? withDatabaseName(db.url, which.tenant.dbName) : db.url, 2);
    try {
      return await fn(conn);
    } finally {
      await conn.close();
    }
  }
  const snapshot = (sql: Database) =>
    Promise.all([
      sql.query("SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version"),
      sql.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1"),
    ]);

  it("refuses to start on a control database with a migration this binary does not know, and changes nothing", async () => {
    const db = newDatabase(engine);
    dropped.push(db);
    const first = await startTestVault(db);
    await first.close();
    const before = await withDb(db, {}, async (sql) => {
      await sql.query("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, 'x')", [FUTURE.version, FUTURE.name]);
      return snapshot(sql);
    });

    const refused = await startTestVault(db).then(
      () => null,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(NewerSchemaError);
    expect((refused as Error).message).toBe(
      `The control database has a newer schema than this Countersign (${VERSION}): it has migration 9001_from_a_newer_countersign, ` +
        `this binary knows up to ${newestKnown("control")}. Run the newer version, or restore a backup taken before the upgrade.`,
    );
    expect(await withDb(db, {}, snapshot)).toEqual(before);

    // Without the future row (the newer version's migration undone by a restore), the same binary starts again.
    await withDb(db, {}, (sql) => sql.query("DELETE FROM schema_migrations WHERE version = $1", [FUTURE.version]));
    const again = await startTestVault(db);
    await again.close();
  });

  it("refuses a tenant database with a migration this binary does not know: its requests get 503 schema_too_new, the database stays as it was", async () => {
    const db = newDatabase(engine);
    dropped.push(db);
    const first = await startTestVault(db);
    const tenant = (await first.vault.ctx.control.query<{ id: string; db_name: string }>("SELECT id, db_name FROM tenants WHERE id = $1", [first.tenantId]))[0]!;
    await first.close();
    const which = { tenant: { id: tenant.id, dbName: tenant.db_name } };
    const before = await withDb(db, which, async (sql) => {
      await sql.query("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, 'x')", [FUTURE.version, FUTURE.name]);
      return snapshot(sql);
    });

    // The vault starts (other tenants are served); this tenant's requests are refused, saying why.
    const v = await startTestVault(db, { adminKey: first.adminKey });
    try {
      const res = await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy });
      expect(res.status).toBe(503);
      expect(res.body.code).toBe("schema_too_new");
      // "The tenant database" until tenant-databases.ts passes its label to migrate().
      expect(res.body.detail).toMatch(new RegExp(`^The (tenant database|database of tenant ${tenant.id}) has a newer schema than this Countersign`));
      expect(res.body.detail).toContain(
        `has a newer schema than this Countersign (${VERSION}): it has migration 9001_from_a_newer_countersign, ` +
          `this binary knows up to ${newestKnown("tenant")}. Run the newer version, or restore a backup taken before the upgrade.`,
      );
    } finally {
      await v.close();
    }
    expect(await withDb(db, which, snapshot)).toEqual(before);
  });
});

describe("the data directory's format", () => {
  it("is written at the first start, and a directory of a newer format is refused with nothing changed", async () => {
    const db = newPgliteDir();
    dropped.push(db);
    const marker = path.join(db.url, DATA_DIR_MARKER);
    const first = await startTestVault(db);
    await first.close();
    expect(JSON.parse(readFileSync(marker, "utf8"))).toEqual({ format: DATA_DIR_FORMAT, written_by: VERSION });

    const future = `${JSON.stringify({ format: DATA_DIR_FORMAT + 1, written_by: "9.0.0" })}\n`;
    writeFileSync(marker, future);
    const listing = readdirSync(db.url).sort();
    const refused = await startTestVault(db).then(
      () => null,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(NewerSchemaError);
    expect((refused as Error).message).toBe(
      `The data directory ${db.url} has format ${DATA_DIR_FORMAT + 1} (written by Countersign 9.0.0), newer than this Countersign (${VERSION}), ` +
        `which reads format ${DATA_DIR_FORMAT}. Run the newer version, or restore a backup taken before the upgrade.`,
    );
    expect(readFileSync(marker, "utf8")).toBe(future);
    // Refused before the databases are opened: no lock file or anything else appeared.
    expect(readdirSync(db.url).sort()).toEqual(listing);
  });

  it("refuses a marker it cannot read rather than guess", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "cs-marker-"));
    try {
      writeFileSync(path.join(dir, DATA_DIR_MARKER), "{ not json");
      const refused = await startTestVault({ url: dir, drop: async () => {} }).then(
        () => null,
        (err: unknown) => err,
      );
      expect(refused).toBeInstanceOf(NewerSchemaError);
      expect((refused as Error).message).toContain("is not a Countersign data directory marker");
      expect(readdirSync(dir)).toEqual([DATA_DIR_MARKER]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

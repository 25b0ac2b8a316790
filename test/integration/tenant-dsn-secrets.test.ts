import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { migrate } from "../../src/db/migrate.js";
import { PgliteDatabase } from "../../src/db/pglite-database.js";
import type { Sql } from "../../src/db/sql.js";
import { AppError } from "../../src/errors.js";
import { createTenant } from "../../src/tenancy/tenants.js";
import { call, newPgDatabase, PG_SERVER, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

/**
 * Tenant DSNs given with `tenants create --dsn` are stored as secret references, never in clear: the
 * control database must not hold the DSN or its password, and the tenant must still open after a restart.
 */

let db: TestDatabase | undefined;
let v: TestVault | undefined;

afterEach(async () => {
  await v?.close();
  v = undefined;
  await db?.drop();
  db = undefined;
});

/** A database of its own for the tenant (named so that db.drop() removes it), and a DSN with a password. */
async function externalDatabase(control: TestDatabase): Promise<{ dsn: string; name: string; password: string }> {
  const name = `${new URL(control.url).pathname.slice(1)}_ext`;
  const admin = new pg.Client({ connectionString: PG_SERVER });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  // The test server trusts local connections, so any password opens it: what matters is where it is stored.
  const password = `pw-${randomBytes(8).toString("hex")}`;
  const u = new URL(PG_SERVER);
  u.username = "postgres";
  u.password = password;
  u.pathname = `/${name}`;
  return { dsn: u.toString(), name, password };
}

/** Every row of every table of the control database, as text. */
async function controlDump(sql: Sql): Promise<string> {
  const tables = await sql.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
  );
  expect(tables.map((t) => t.table_name)).toContain("tenants");
  const parts: string[] = [];
  for (const { table_name } of tables) {
    const rows = await sql.query<{ row: string }>(`SELECT t::text AS row FROM "${table_name}" t`);
    parts.push(...rows.map((r) => r.row));
  }
  return parts.join("\n");
}

async function tenantWorks(vault: TestVault, tenantId: string, adminKey: string, database: string): Promise<void> {
  const sql = await vault.vault.ctx.tenantDbs.get(tenantId);
  expect((await sql.query<{ db: string }>("SELECT current_database() AS db"))[0]!.db).toBe(database);
  const res = await call(vault.url, "GET", "/policies", { key: adminKey });
  expect(res.status).toBe(200);
}

describe("tenant DSNs in the control database (PostgreSQL)", () => {
  it("stores a given DSN sealed; the control database holds neither the DSN nor its password, and the tenant opens after a restart", async () => {
    db = newPgDatabase();
    const env = { VAULT_TRANSPORT_KEY_BASE64: randomBytes(32).toString("base64") };
    v = await startTestVault(db, { env });
    const ext = await externalDatabase(db);
    const t = await createTenant(v.vault.ctx.control, v.vault.ctx.tenantDbs, { name: "external", dsn: ext.dsn });
    await tenantWorks(v, t.tenantId, t.adminKey.apiKey, ext.name);

    const stored = await v.vault.ctx.control.query<{ db_name: string | null; db_dsn_ref: string }>("SELECT db_name, db_dsn_ref FROM tenants WHERE id = $1", [
      t.tenantId,
    ]);
    expect(stored[0]).toMatchObject({ db_name: null, db_dsn_ref: expect.stringMatching(/^sealed:v1:/) });
    const dump = await controlDump(v.vault.ctx.control);
    expect(dump).toContain(t.tenantId);
    expect(dump).not.toContain(ext.password);
    expect(dump).not.toContain(ext.name);

    await v.close();
    v = await startTestVault(db, { env });
    await tenantWorks(v, t.tenantId, t.adminKey.apiKey, ext.name);
  });

  it("seals, at the next start, a DSN that migration 0004 left as a dsn: reference", async () => {
    db = newPgDatabase();
    const env = { VAULT_TRANSPORT_KEY_BASE64: randomBytes(32).toString("base64") };
    v = await startTestVault(db, { env });
    const ext = await externalDatabase(db);
    const t = await createTenant(v.vault.ctx.control, v.vault.ctx.tenantDbs, { name: "legacy", dsn: ext.dsn });
    // What 0004 makes of a row written before it: the clear DSN behind `dsn:`.
    await v.vault.ctx.control.query("UPDATE tenants SET db_dsn_ref = $2 WHERE id = $1", [t.tenantId, `dsn:${ext.dsn}`]);
    await v.close();

    v = await startTestVault(db, { env });
    const ref = (await v.vault.ctx.control.query<{ r: string }>("SELECT db_dsn_ref AS r FROM tenants WHERE id = $1", [t.tenantId]))[0]!.r;
    expect(ref).toMatch(/^sealed:v1:/);
    expect(await controlDump(v.vault.ctx.control)).not.toContain(ext.password);
    await tenantWorks(v, t.tenantId, t.adminKey.apiKey, ext.name);
  });

  it("without a sealing key: refuses a DSN with a password (naming no password), and takes an env: reference instead", async () => {
    db = newPgDatabase();
    // The DSN reaches the vault the way the operator's secret would: through its environment.
    const ext = await externalDatabase(db);
    const env = { TENANT_EXT_DSN: ext.dsn };
    v = await startTestVault(db, { env });
    const control = v.vault.ctx.control;

    const refused = await createTenant(control, v.vault.ctx.tenantDbs, { name: "clear", dsn: ext.dsn }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(AppError);
    expect((refused as AppError).code).toBe("bad_request");
    expect((refused as AppError).message).toMatch(/holds a password.*env:NAME or file:\/path/);
    expect((refused as AppError).message).not.toContain(ext.password);
    expect(await control.query("SELECT 1 FROM tenants WHERE name = 'clear'")).toHaveLength(0);

    const t = await createTenant(control, v.vault.ctx.tenantDbs, { name: "by-reference", dsn: "env:TENANT_EXT_DSN" });
    expect((await control.query<{ r: string }>("SELECT db_dsn_ref AS r FROM tenants WHERE id = $1", [t.tenantId]))[0]!.r).toBe("env:TENANT_EXT_DSN");
    expect(await controlDump(control)).not.toContain(ext.password);
    await v.close();
    v = await startTestVault(db, { env });
    await tenantWorks(v, t.tenantId, t.adminKey.apiKey, ext.name);
  });
});

describe("control migration 0004", () => {
  const dir = path.resolve(import.meta.dirname, "../../migrations/control");

  it("turns a stored DSN into a dsn: reference, drops the clear column and keeps one location per tenant", async () => {
    const sql = await PgliteDatabase.open("memory://");
    try {
      // The control database as 0001-0003 left it, with a tenant on a given DSN and one on its own database.
      await sql.exec(`CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now())`);
      for (const file of readdirSync(dir).filter((f) => /^000[1-3]_/.test(f)).sort()) {
        const text = readFileSync(path.join(dir, file), "utf8");
        await sql.exec(text);
        await sql.query("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", [
          Number(file.slice(0, 4)),
          file,
          createHash("sha256").update(text).digest("hex"),
        ]);
      }
      const dsn = "postgres://app:old-pw@db.internal/tenant_x";
      await sql.query("INSERT INTO tenants (id, name, db_name, db_dsn) VALUES ('t_x', 'x', NULL, $1), ('t_y', 'y', 'ctl_t_y', NULL)", [dsn]);

      expect(await migrate(sql, "control")).toBeGreaterThanOrEqual(1);
      const rows = await sql.query<Record<string, unknown>>("SELECT * FROM tenants ORDER BY id");
      expect(rows.map((r) => [r.id, r.db_name, r.db_dsn_ref])).toEqual([
        ["t_x", null, `dsn:${dsn}`],
        ["t_y", "ctl_t_y", null],
      ]);
      expect(rows.every((r) => !("db_dsn" in r))).toBe(true);
      await expect(sql.query("INSERT INTO tenants (id, name) VALUES ('t_z', 'z')")).rejects.toThrow(/tenants_database_check/);
    } finally {
      await sql.close();
    }
  });
});

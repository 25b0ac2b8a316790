import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Sql } from "../../src/db/sql.js";
import { createTenant } from "../../src/tenancy/tenants.js";
import { startSecretsManagerStandIn, type SecretsManagerStandIn } from "../helpers/secrets-manager-stand-in.js";
import { call, newKey, newPgDatabase, PG_SERVER, refundPolicy, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";
import { failure } from "../helpers/rejection.js";

/**
 * Tenants whose database is described by a bundle in AWS Secrets Manager (TENANT_SECRET_PREFIX,
 * `tenants create --secret-ref`), on real PostgreSQL, with the real SDK against the protocol stand-in.
 * The tenant database belongs to a role that exists only through the bundle: `current_user` proves
 * which credentials the vault used (this server trusts loopback, so a password alone proves nothing).
 */
const run = promisify(execFile);
const PREFIX = "cs-test/tenants";
const suffix = randomBytes(4).toString("hex");
const roles = { a: `cs_sec_${suffix}_a`, b: `cs_sec_${suffix}_b` };
const passwords = { a: `pw-a-${randomBytes(8).toString("hex")}`, b: `pw-b-${randomBytes(8).toString("hex")}`, beta: `pw-beta-${randomBytes(8).toString("hex")}` };

let sm: SecretsManagerStandIn;
let db: TestDatabase;
let v: TestVault;
let tenantDbName: string;

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_SERVER });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

function dsnFor(role: string, password: string): string {
  const u = new URL(PG_SERVER);
  u.username = role;
  u.password = password;
  u.pathname = `/${tenantDbName}`;
  return u.toString();
}

/** Every row of every table of the control database, as text. */
async function controlDump(sql: Sql): Promise<string> {
  const tables = await sql.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'");
  const rows = await Promise.all(tables.map((t) => sql.query<{ row: string }>(`SELECT x::text AS row FROM "${t.table_name}" x`)));
  return rows.flat().map((r) => r.row).join("\n");
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  sm = await startSecretsManagerStandIn();
  db = newPgDatabase();
  tenantDbName = `${new URL(db.url).pathname.slice(1)}_sec`;
  await admin(async (c) => {
    await c.query(`CREATE ROLE ${roles.a} LOGIN PASSWORD '${passwords.a}'`);
    // The rotated role works on the same database: a member of the first role, with its privileges.
    await c.query(`CREATE ROLE ${roles.b} LOGIN PASSWORD '${passwords.b}' IN ROLE ${roles.a}`);
    await c.query(`CREATE DATABASE "${tenantDbName}" OWNER ${roles.a}`);
  });
  v = await startTestVault(db, { env: { ...sm.env, TENANT_SECRET_PREFIX: PREFIX, VAULT_TENANT_SECRET_CACHE_TTL_SECONDS: "1" } });
});

afterAll(async () => {
  await v?.close();
  await db?.drop();
  await admin(async (c) => {
    for (const role of [roles.b, roles.a]) await c.query(`DROP ROLE IF EXISTS ${role}`);
  });
  await sm?.close();
});

describe("tenant bundles in AWS Secrets Manager", () => {
  let tenantId: string;
  let adminKey: string;
  let agent: string;
  const currentUser = async () => (await (await v.vault.ctx.tenantDbs.get(tenantId)).query<{ u: string }>("SELECT current_user AS u"))[0]!.u;
  const clear = () => call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 40 } } });

  it("`tenants create --secret-ref` stores only the bundle's name; the tenant answers 503 until the bundle exists", async () => {
    const { stdout, stderr } = await run("node", ["--import", "tsx", "src/main/cli.ts", "tenants", "create", "acme", "--secret-ref", "--json"], {
      env: { ...process.env, ...sm.env, DATABASE_URL: db.url, TENANT_SECRET_PREFIX: PREFIX, LOG_LEVEL: "silent" },
    });
    const created = JSON.parse(stdout);
    tenantId = created.tenant_id;
    adminKey = created.api_key;
    expect(created).toMatchObject({ scope: "admin", secret_ref: `${PREFIX}/${tenantId}`, database: "pending" });
    expect(stderr).toContain(`secret "${PREFIX}/${tenantId}") cannot be read: does not exist`);

    const early = await call(v.url, "POST", "/register-policy", { key: adminKey, body: refundPolicy });
    expect(early.status).toBe(503);
    expect(early.headers.get("content-type")).toContain("application/problem+json");
    expect(early.body).toMatchObject({ code: "tenant_secrets_unavailable", status: 503 });
    expect(early.body.detail).toContain(tenantId);
    expect(Number(early.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("a tenant registered with --secret-ref works end to end on the bundle's credentials; the control database holds no password", async () => {
    sm.put(`${PREFIX}/${tenantId}`, { database_url: dsnFor(roles.a, passwords.a), llm_api_key: "sk-tenant-llm" });
    const reg = await call(v.url, "POST", "/register-policy", { key: adminKey, body: refundPolicy });
    expect(reg.status).toBe(200);
    agent = await newKey(v, "agent", tenantId);
    const res = await clear();
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "approved", decision_status: "approved" });
    expect(await currentUser()).toBe(roles.a);
    const [row] = await v.vault.ctx.control.query<Record<string, unknown>>("SELECT db_name, db_dsn_ref, tenant_secret_ref FROM tenants WHERE id = $1", [tenantId]);
    expect(row).toMatchObject({ db_dsn_ref: null, tenant_secret_ref: `${PREFIX}/${tenantId}` });
    const dump = await controlDump(v.vault.ctx.control);
    expect(dump).toContain(`${PREFIX}/${tenantId}`);
    for (const secret of [passwords.a, roles.a, tenantDbName, "sk-tenant-llm"]) expect(dump).not.toContain(secret);
  });

  it("picks up a rotated bundle after the TTL and keeps the tenant's data", async () => {
    sm.put(`${PREFIX}/${tenantId}`, { database_url: dsnFor(roles.b, passwords.b) });
    await sleep(1100);
    const res = await clear();
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("approved");
    expect(await currentUser()).toBe(roles.b);
    // Same database: the policy registered on the first role's connections still decides.
    expect(res.body.reason).toBe("Within the automatic limit");
    expect(await controlDump(v.vault.ctx.control)).not.toContain(passwords.b);
  });

  it("an unreadable bundle fails that tenant closed with 503 problem+json while another tenant carries on", async () => {
    const otherAgent = await newKey(v, "agent");
    await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy });
    sm.server.failWith = { status: 500, type: "InternalServiceError" };
    try {
      await sleep(1100);
      const res = await clear();
      expect(res.status).toBe(503);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
      expect(res.headers.get("retry-after")).toBe("5");
      expect(res.body).toMatchObject({ code: "tenant_secrets_unavailable", type: "urn:countersign:error:tenant_secrets_unavailable" });
      expect(res.body.detail).toMatch(new RegExp(`tenant ${tenantId} \\(secret "${PREFIX}/${tenantId}"\\) cannot be read`));
      expect(JSON.stringify(res.body)).not.toContain(passwords.b);
      const other = await call(v.url, "POST", "/request-clearance", { key: otherAgent, body: { tool_name: "stripe_refund", tool_args: { amount: 40 } } });
      expect(other.status).toBe(200);
      expect(other.body.status).toBe("approved");
    } finally {
      sm.server.failWith = undefined;
    }
    const back = await clear();
    expect(back.status).toBe(200);
    expect(back.body.status).toBe("approved");
  });

  it("database_password goes into the vault's own DSN for a tenant created with a named secret", async () => {
    const beta = await createTenant(v.vault.ctx.control, v.vault.ctx.tenantDbs, { name: "beta", secretRef: { name: `${PREFIX}/beta-bundle` } });
    expect(beta).toMatchObject({ secretRef: `${PREFIX}/beta-bundle`, databasePending: expect.stringContaining("does not exist") });
    sm.put(`${PREFIX}/beta-bundle`, { database_password: passwords.beta });
    const sql = await v.vault.ctx.tenantDbs.get(beta.tenantId);
    const [where] = await sql.query<{ d: string }>("SELECT current_database() AS d");
    expect(where!.d).toBe(v.vault.ctx.tenantDbs.dbNameFor(beta.tenantId));
    const reg = await call(v.url, "POST", "/register-policy", { key: beta.adminKey.apiKey, body: refundPolicy });
    expect(reg.status).toBe(200);
    expect(await controlDump(v.vault.ctx.control)).not.toContain(passwords.beta);
  });

  it("a bundle whose credentials the database refuses is 503 tenant_secrets_unavailable, not a 500", async () => {
    const delta = await createTenant(v.vault.ctx.control, v.vault.ctx.tenantDbs, { name: "delta", secretRef: { name: `${PREFIX}/delta` } });
    sm.put(`${PREFIX}/delta`, { database_url: dsnFor(`cs_sec_${suffix}_nobody`, "pw-nobody") });
    const res = await call(v.url, "POST", "/register-policy", { key: delta.adminKey.apiKey, body: refundPolicy });
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ code: "tenant_secrets_unavailable" });
    expect(res.body.detail).toContain("the database refused the bundle's credentials");
    expect(res.body.detail).not.toContain("pw-nobody");
  });

  it("refuses --secret-ref together with --dsn", async () => {
    const err = await run("node", ["--import", "tsx", "src/main/cli.ts", "tenants", "create", "gamma", "--dsn", dsnFor(roles.a, passwords.a), "--secret-ref", "x"], {
      env: { ...process.env, ...sm.env, DATABASE_URL: db.url, TENANT_SECRET_PREFIX: PREFIX, LOG_LEVEL: "silent" },
    }).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(2);
    expect(err?.stderr).toContain("give --dsn or --secret-ref, not both");
    await expect(
      createTenant(v.vault.ctx.control, v.vault.ctx.tenantDbs, { name: "gamma", dsn: dsnFor(roles.a, passwords.a), secretRef: {} }),
    ).rejects.toMatchObject({ code: "bad_request" });
    expect(await v.vault.ctx.control.query("SELECT 1 FROM tenants WHERE name = 'gamma'")).toHaveLength(0);
  });

  it("refuses a bundle outside TENANT_SECRET_PREFIX, and one another tenant already uses", async () => {
    const outside = await failure(createTenant(v.vault.ctx.control, v.vault.ctx.tenantDbs, { name: "epsilon", secretRef: { name: "other-app/prod-db" } }));
    expect(outside).toMatchObject({ code: "bad_request" });
    expect(outside.message).toContain(`under TENANT_SECRET_PREFIX (${PREFIX}/...)`);
    const taken = await failure(createTenant(v.vault.ctx.control, v.vault.ctx.tenantDbs, { name: "zeta", secretRef: { name: `${PREFIX}/beta-bundle` } }));
    expect(taken).toMatchObject({ code: "bad_request" });
    expect(taken.message).toContain("is already another tenant's bundle");
    expect(await v.vault.ctx.control.query("SELECT 1 FROM tenants WHERE name IN ('epsilon', 'zeta')")).toHaveLength(0);
  });
});

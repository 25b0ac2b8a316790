import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, newPgDatabase, newPgliteDir as newDatabaseDir, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

const run = promisify(execFile);

describe("countersign CLI on real PostgreSQL", () => {
  let db: TestDatabase;
  let v: TestVault;
  const cli = async (...args: string[]) => {
    const { stdout } = await run("node", ["--import", "tsx", "src/main/cli.ts", ...args], {
      env: { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: "silent" },
    });
    return stdout;
  };

  beforeAll(async () => {
    db = newPgDatabase();
    await cli("migrate");
    // API key cache off, so a revocation by the CLI process is seen at once.
    v = await startTestVault(db, { env: { VAULT_API_KEY_CACHE_TTL_MS: "0" } });
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it("creates a tenant with its own database and an admin key shown once", async () => {
    const created = JSON.parse(await cli("tenants", "create", "acme", "--json"));
    expect(created).toMatchObject({ tenant_id: expect.stringMatching(/^t_/), scope: "admin", api_key: expect.stringMatching(/^csk_/) });
    const stored = await v.vault.ctx.control.query("SELECT key_hash FROM api_keys WHERE tenant_id = $1", [created.tenant_id]);
    expect(stored[0]!.key_hash).not.toContain(created.api_key);
    const dbs = await v.vault.ctx.control.query("SELECT 1 FROM pg_database WHERE datname LIKE $1", [`%${created.tenant_id}`]);
    expect(dbs).toHaveLength(1);

    const agent = JSON.parse(await cli("keys", "create", "--tenant", created.tenant_id, "--scope", "agent", "--json"));
    const res = await call(v.url, "POST", "/request-clearance", { key: agent.api_key, body: { tool_name: "anything" } });
    expect(res.body.status).toBe("pending_review");
    const asAgent = await call(v.url, "POST", "/register-policy", { key: agent.api_key, body: { policy_id: "p" } });
    expect(asAgent.status).toBe(403);

    await cli("keys", "revoke", agent.api_key_id);
    const revoked = await call(v.url, "GET", `/clearance-status/${res.body.request_id}`, { key: agent.api_key });
    expect(revoked.status).toBe(401);
    const listing = JSON.parse(await cli("keys", "list", "--tenant", created.tenant_id, "--json"));
    expect(listing.keys).toHaveLength(2);
    expect(JSON.stringify(listing)).not.toContain(agent.api_key);
  });

  it("adds a reviewer whose key reviews as that person, and lists reviewers", async () => {
    const added = JSON.parse(await cli("reviewers", "add", "--tenant", v.tenantId, "--name", "Rae", "--email", "Rae@Example.com", "--groups", "finance, ops", "--json"));
    expect(added).toMatchObject({ reviewer_id: expect.stringMatching(/^rvw_/), name: "Rae", email: "rae@example.com", groups: ["finance", "ops"], api_key: expect.stringMatching(/^csk_/) });
    const who = await call(v.url, "POST", "/console/session", { body: { api_key: added.api_key } });
    expect(who.body.reviewer).toMatchObject({ id: added.reviewer_id, name: "Rae", groups: ["finance", "ops"] });
    const listing = JSON.parse(await cli("reviewers", "list", "--tenant", v.tenantId, "--json"));
    expect(listing.reviewers.map((r: { email: string }) => r.email)).toContain("rae@example.com");
    expect(JSON.stringify(listing)).not.toContain(added.api_key);
    const again = await run("node", ["--import", "tsx", "src/main/cli.ts", "reviewers", "add", "--tenant", v.tenantId, "--name", "R", "--email", "rae@example.com"], {
      env: { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: "silent" },
    }).then(() => undefined, (err: { code: number; stderr: string }) => err);
    expect(again?.code).toBe(1);
    expect(again?.stderr).toMatch(/already exists/);
  });

  it("refuses to serve when the configured kid is already published with another key", async () => {
    await expect(
      run("node", ["--import", "tsx", "src/main/cli.ts", "serve"], {
        env: { ...process.env, DATABASE_URL: db.url, VAULT_PORT: "0", VAULT_PRIVATE_KEY_BASE64: Buffer.alloc(32, 9).toString("base64"), VAULT_KEY_ID: "test-key-1" },
      }),
    ).rejects.toMatchObject({ stderr: expect.stringContaining("VAULT_KEY_ID") });
  });
});

describe("countersign CLI on an embedded data directory", () => {
  it("refuses to open a PGlite directory a running vault holds, instead of losing writes", async () => {
    const db = newDatabaseDir();
    const v = await startTestVault(db);
    try {
      await expect(
        run("node", ["--import", "tsx", "src/main/cli.ts", "tenants", "create", "late"], { env: { ...process.env, DATABASE_URL: db.url } }),
      ).rejects.toMatchObject({ stderr: expect.stringContaining("in use by process") });
    } finally {
      await v.close();
      await db.drop();
    }
  });
});

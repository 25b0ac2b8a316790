import { execFile } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VERSION } from "../../src/version.js";
import { call, freePort, newPgDatabase, newPgliteDir as newDatabaseDir, startTestVault, TEST_KEY_BASE64, type TestDatabase, type TestVault } from "../helpers/vault.js";

const run = promisify(execFile);

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The real CLI as its own process; never throws on an exit code. COUNTERSIGN_* from the test runner's environment are dropped. */
function runCli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  const base: Record<string, string | undefined> = { ...process.env, LOG_LEVEL: "silent", COUNTERSIGN_URL: undefined, COUNTERSIGN_API_KEY: undefined, COUNTERSIGN_DEBUG: undefined };
  const merged = Object.fromEntries(Object.entries({ ...base, ...env }).filter(([, v]) => v !== undefined)) as NodeJS.ProcessEnv;
  return new Promise((resolve) => {
    execFile("node", ["--import", "tsx", "src/main/cli.ts", ...args], { env: merged }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

const STACK_LINE = /\n\s+at /;

describe("countersign CLI usage: help, version, exit codes", () => {
  it("--version prints the package version", async () => {
    const out = await runCli(["--version"]);
    expect([out.code, out.stdout.trim()]).toEqual([0, VERSION]);
  });

  it("a misspelled command or option exits 2 with a suggestion and a pointer to --help, never a stack trace", async () => {
    const command = await runCli(["kyes", "list"]);
    expect(command.code).toBe(2);
    expect(command.stderr).toContain("unknown command 'kyes'");
    expect(command.stderr).toContain("Did you mean keys?");
    expect(command.stderr).toContain("countersign --help");
    const option = await runCli(["keys", "list", "--jsn"]);
    expect(option.code).toBe(2);
    expect(option.stderr).toContain("Did you mean --json?");
    expect(option.stderr).toContain("countersign keys list --help");
    for (const out of [command, option]) expect(out.stderr).not.toMatch(STACK_LINE);
  });

  it("a group without its subcommand prints that group's help and exits 2", async () => {
    const out = await runCli(["keys"]);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("Usage: countersign keys");
    expect(out.stderr).toMatch(/create \[options\]/);
    expect(out.stderr).toMatch(/revoke \[options\] <key_id>/);
    expect(out.stderr).not.toContain("unknown command");
  });

  it("each command has its own help with examples, unlike the global help", async () => {
    const global = await runCli(["--help"]);
    const create = await runCli(["keys", "create", "--help"]);
    expect([global.code, create.code]).toEqual([0, 0]);
    expect(global.stdout).toContain("Exit codes:");
    expect(create.stdout).not.toEqual(global.stdout);
    expect(create.stdout).toContain("Usage: countersign keys create [options]");
    expect(create.stdout).toContain("--scope <scope>");
    expect(create.stdout).toMatch(/Examples:\n {2}\$ countersign keys create/);
    const fsck = await runCli(["ledger", "fsck", "--help"]);
    expect(fsck.stdout).toContain("--tenant <id>");
  });

  it("refuses a vault URL that redirects or answers without end, and never follows the redirect with the key", async () => {
    const elsewhere: (string | undefined)[] = [];
    const target = http.createServer((req, res) => {
      elsewhere.push(req.headers["x-vault-api-key"] as string | undefined);
      res.end("{}");
    });
    const server = http.createServer((req, res) => {
      if (req.url === "/keys") {
        res.writeHead(302, { location: `http://127.0.0.1:${(target.address() as AddressInfo).port}/keys` }).end();
        return;
      }
      // Any other path: an answer bigger than the CLI accepts (16 MiB), streamed.
      res.writeHead(200, { "content-type": "application/json" });
      const chunk = Buffer.alloc(1024 * 1024, 32);
      let sent = 0;
      const more = () => {
        while (sent < 20 && res.write(chunk)) sent++;
        if (sent < 20) res.once("drain", more);
        else res.end();
      };
      more();
    });
    for (const s of [target, server]) await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const redirected = await runCli(["keys", "list", "--url", url, "--api-key", "csk_not_for_strangers"]);
      expect([redirected.code, redirected.stderr]).toEqual([1, `countersign: the vault at ${url} answered with a redirect: pass the vault's own URL with --url\n`]);
      expect(elsewhere).toEqual([]);
      const huge = await runCli(["policies", "list", "--url", url, "--api-key", "csk_x"]);
      expect(huge.code).toBe(1);
      expect(huge.stderr).toBe(`countersign: the vault's answer was refused: ${url}/policies: answer larger than 16777216 bytes refused\n`);
      expect(huge.stderr).not.toMatch(STACK_LINE);
    } finally {
      target.close();
      server.close();
    }
  });

  it("user errors print one line and exit 1 (failure) or 2 (usage), without a stack trace", async () => {
    const unreachable = `http://127.0.0.1:${await freePort()}`;
    const down = await runCli(["keys", "list", "--url", unreachable, "--api-key", "csk_x"]);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(new RegExp(`^countersign: cannot reach the vault at ${unreachable}`));
    const noKey = await runCli(["keys", "list"], { COUNTERSIGN_URL: unreachable });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain("pass --api-key or set COUNTERSIGN_API_KEY");
    const badScope = await runCli(["keys", "create", "--scope", "root", "--url", unreachable, "--api-key", "csk_x"]);
    expect(badScope.code).toBe(2);
    expect(badScope.stderr).toContain("Allowed choices are agent, reviewer, admin");
    for (const out of [down, noKey, badScope]) expect(out.stderr).not.toMatch(STACK_LINE);
  });
});

describe("countersign CLI on real PostgreSQL, no vault answering on its port (local mode)", () => {
  let db: TestDatabase;
  let v: TestVault;
  let cliEnv: Record<string, string>;
  let dataDir: string;
  const cli = async (...args: string[]) => {
    const out = await runCli(args, cliEnv);
    expect(out.code, out.stderr).toBe(0);
    return out.stdout;
  };

  beforeAll(async () => {
    db = newPgDatabase();
    dataDir = mkdtempSync(path.join(os.tmpdir(), "cs-cli-data-"));
    // The vault's own key and a port where no vault listens: the CLI builds the vault in-process over the
    // database, with the same signing key as the running one (so it publishes nothing new).
    cliEnv = {
      DATABASE_URL: db.url,
      VAULT_DATA_DIR: dataDir,
      VAULT_PORT: String(await freePort()),
      VAULT_PRIVATE_KEY_BASE64: TEST_KEY_BASE64,
      VAULT_KEY_ID: "test-key-1",
    };
    await cli("migrate");
    // API key cache off, so a revocation by the CLI process is seen at once.
    v = await startTestVault(db, { env: { VAULT_API_KEY_CACHE_TTL_MS: "0" } });
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("creates a tenant with its own database and an admin key shown once", async () => {
    const created = JSON.parse(await cli("tenants", "create", "acme", "--json"));
    expect(created).toMatchObject({ tenant_id: expect.stringMatching(/^t_/), scope: "admin", api_key: expect.stringMatching(/^csk_/) });
    const stored = await v.vault.ctx.control.query("SELECT key_hash FROM api_keys WHERE tenant_id = $1", [created.tenant_id]);
    expect(stored[0]!.key_hash).not.toContain(created.api_key);
    const dbs = await v.vault.ctx.control.query("SELECT 1 FROM pg_database WHERE datname LIKE $1", [`%${created.tenant_id}`]);
    expect(dbs).toHaveLength(1);

    const agent = JSON.parse(await cli("keys", "create", "--tenant", created.tenant_id, "--scope", "agent", "--label", "bot", "--json"));
    expect(agent).toMatchObject({ tenant_id: created.tenant_id, scope: "agent", label: "bot", api_key: expect.stringMatching(/^csk_/) });
    const res = await call(v.url, "POST", "/request-clearance", { key: agent.api_key, body: { tool_name: "anything" } });
    expect(res.body.status).toBe("pending_review");
    const asAgent = await call(v.url, "POST", "/register-policy", { key: agent.api_key, body: { policy_id: "p" } });
    expect(asAgent.status).toBe(403);

    expect(await cli("keys", "revoke", agent.api_key_id, "--tenant", created.tenant_id)).toBe(`revoked ${agent.api_key_id}\n`);
    const revoked = await call(v.url, "GET", `/clearance-status/${res.body.request_id}`, { key: agent.api_key });
    expect(revoked.status).toBe(401);
    const listing = JSON.parse(await cli("keys", "list", "--tenant", created.tenant_id, "--json"));
    // The admin key, the agent key and the earlier commands' session keys (revoked; kept, like every key, for the record).
    // The listing command's own session key is not listed.
    const sessions = listing.keys.filter((k: { label: string }) => k.label === "countersign CLI session (temporary)");
    expect(sessions).toHaveLength(2);
    expect(sessions.every((k: { scope: string; revoked_at: string | null }) => k.scope === "admin" && k.revoked_at !== null)).toBe(true);
    expect(listing.keys.filter((k: { label: string }) => !sessions.includes(k)).map((k: { scope: string }) => k.scope)).toEqual(["admin", "agent"]);
    expect(JSON.stringify(listing)).not.toContain(agent.api_key);
    // The temporary session keys are revoked when each command ends.
    const active = await v.vault.ctx.control.query("SELECT label FROM api_keys WHERE tenant_id = $1 AND revoked_at IS NULL", [created.tenant_id]);
    expect(active.map((r) => r.label)).toEqual(["initial admin"]);

    // Without --tenant, of two tenants the one named "default" is chosen; an unknown --tenant is a failure.
    const chosen = JSON.parse(await cli("keys", "list", "--json"));
    expect(chosen.keys.map((k: { api_key_id: string }) => k.api_key_id)).not.toContain(agent.api_key_id);
    const unknown = await runCli(["keys", "list", "--tenant", "t_nope"], cliEnv);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("no tenant t_nope");
  });

  it("adds a reviewer whose key reviews as that person, and lists reviewers", async () => {
    const added = JSON.parse(await cli("reviewers", "add", "--tenant", v.tenantId, "--name", "Rae", "--email", "Rae@Example.com", "--groups", "finance, ops", "--json"));
    expect(added).toMatchObject({ reviewer_id: expect.stringMatching(/^rvw_/), name: "Rae", email: "rae@example.com", groups: ["finance", "ops"], api_key: expect.stringMatching(/^csk_/) });
    const who = await call(v.url, "POST", "/console/session", { body: { api_key: added.api_key } });
    expect(who.body.reviewer).toMatchObject({ id: added.reviewer_id, name: "Rae", groups: ["finance", "ops"] });
    const listing = JSON.parse(await cli("reviewers", "list", "--tenant", v.tenantId, "--json"));
    expect(listing.reviewers.map((r: { email: string }) => r.email)).toContain("rae@example.com");
    expect(JSON.stringify(listing)).not.toContain(added.api_key);
    const again = await runCli(["reviewers", "add", "--tenant", v.tenantId, "--name", "R", "--email", "rae@example.com"], cliEnv);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^countersign: A reviewer with email rae@example.com already exists \(reviewer_exists, HTTP 409\)\n$/);
    const disabled = JSON.parse(await cli("reviewers", "disable", added.reviewer_id, "--json"));
    expect(disabled).toEqual({ reviewer_id: added.reviewer_id, disabled: true });
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
  let db: TestDatabase;
  let v: TestVault;
  let port: number;

  beforeAll(async () => {
    db = newDatabaseDir();
    port = await freePort();
    // The test process is the vault: PGlite's lock on the directory is held for the whole describe.
    v = await startTestVault(db, { env: { VAULT_PORT: String(port) } });
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it("refuses to open a PGlite directory a running vault holds, instead of losing writes", async () => {
    const out = await runCli(["tenants", "create", "late"], { DATABASE_URL: db.url });
    expect(out.code).toBe(1);
    expect(out.stderr).toContain("in use by process");
    expect(out.stderr).not.toMatch(STACK_LINE);
  });

  it("creates, lists and revokes keys through the running vault's API while it holds the database", async () => {
    const env = { DATABASE_URL: db.url, COUNTERSIGN_URL: v.url, COUNTERSIGN_API_KEY: v.adminKey };
    const created = await runCli(["keys", "create", "--scope", "agent", "--label", "cli", "--json"], env);
    expect(created.code, created.stderr).toBe(0);
    const agent = JSON.parse(created.stdout);
    expect(agent).toMatchObject({ tenant_id: v.tenantId, scope: "agent", label: "cli", api_key: expect.stringMatching(/^csk_/) });
    expect((await call(v.url, "POST", "/request-clearance", { key: agent.api_key, body: { tool_name: "anything" } })).status).toBeLessThan(300);

    const text = await runCli(["keys", "list"], env);
    expect(text.stdout).toMatch(new RegExp(`${agent.api_key_id}  agent    ${agent.api_key.slice(0, 8)}…  active   cli`));
    expect(text.stdout).not.toContain(agent.api_key);

    const revoked = await runCli(["keys", "revoke", agent.api_key_id, "--json"], env);
    expect(JSON.parse(revoked.stdout)).toEqual({ api_key_id: agent.api_key_id, revoked: true });
    // The vault that revoked it refuses it at once, its key cache notwithstanding.
    expect((await call(v.url, "POST", "/request-clearance", { key: agent.api_key, body: { tool_name: "anything" } })).status).toBe(401);

    const again = await runCli(["keys", "revoke", agent.api_key_id], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^countersign: No active API key key_\w+ in this tenant \(api_key_not_found, HTTP 404\)\n$/);
    const wrongTenant = await runCli(["keys", "list", "--tenant", "t_other"], env);
    expect(wrongTenant.code).toBe(2);
    expect(wrongTenant.stderr).toContain(`the API key belongs to tenant ${v.tenantId}`);
  });

  it("finds a vault on 127.0.0.1:VAULT_PORT without --url, and asks for an API key when none is given", async () => {
    const noKey = await runCli(["keys", "list"], { DATABASE_URL: db.url, VAULT_PORT: String(port) });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain(`a vault is running at http://127.0.0.1:${port}: pass --api-key or set COUNTERSIGN_API_KEY`);
    const listed = await runCli(["keys", "list", "--json", "--api-key", v.adminKey], { DATABASE_URL: db.url, VAULT_PORT: String(port) });
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout).keys.length).toBeGreaterThan(0);
  });

  it("says so when the database is held but no vault answers on the probed port", async () => {
    const elsewhere = await freePort();
    const out = await runCli(["keys", "list"], { DATABASE_URL: db.url, VAULT_PORT: String(elsewhere) });
    expect(out.code).toBe(1);
    expect(out.stderr).toContain("in use by process");
    expect(out.stderr).toContain(`no vault answered at http://127.0.0.1:${elsewhere}`);
    expect(out.stderr).toContain("pass --url");
    expect(out.stderr).not.toMatch(STACK_LINE);
  });
});

describe("countersign CLI with no vault running on an embedded data directory (local mode)", () => {
  it("never sends the API key to another service that answers {\"status\":\"ok\"} on the vault's default port", async () => {
    const seen: (string | undefined)[] = [];
    const impostor = http.createServer((req, res) => {
      seen.push(req.headers["x-vault-api-key"] as string | undefined);
      res.setHeader("content-type", "application/json");
      res.end('{"status":"ok"}');
    });
    await new Promise<void>((resolve) => impostor.listen(0, "127.0.0.1", resolve));
    const port = (impostor.address() as AddressInfo).port;
    const db = newDatabaseDir();
    try {
      const env = { DATABASE_URL: db.url, VAULT_PORT: String(port), COUNTERSIGN_API_KEY: "csk_not_for_strangers" };
      expect((await runCli(["tenants", "create", "solo", "--json"], env)).code).toBe(0);
      // Not a Countersign vault: the command runs over the database instead, and the key stays home.
      const out = await runCli(["keys", "list", "--json"], env);
      expect(out.code, out.stderr).toBe(0);
      expect(JSON.parse(out.stdout).keys.length).toBeGreaterThan(0);
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.filter((k) => k !== undefined)).toEqual([]);
    } finally {
      impostor.close();
      await db.drop();
    }
  });

  it("creates, lists and revokes keys over the database, with a temporary admin key revoked at the end", async () => {
    const db = newDatabaseDir();
    const env = { DATABASE_URL: db.url, VAULT_PORT: String(await freePort()) };
    try {
      const tenant = JSON.parse((await runCli(["tenants", "create", "solo", "--json"], env)).stdout);
      const created = await runCli(["keys", "create", "--scope", "reviewer", "--json"], env);
      expect(created.code, created.stderr).toBe(0);
      const key = JSON.parse(created.stdout);
      expect(key).toMatchObject({ tenant_id: tenant.tenant_id, scope: "reviewer", api_key: expect.stringMatching(/^csk_/) });
      const revoked = await runCli(["keys", "revoke", key.api_key_id], env);
      expect([revoked.code, revoked.stdout]).toEqual([0, `revoked ${key.api_key_id}\n`]);
      // The CLI's own temporary admin key does not count: the tenant would be left without one when the command ends.
      const last = await runCli(["keys", "revoke", tenant.api_key_id], env);
      expect([last.code, last.stderr]).toEqual([1, expect.stringContaining("last active admin key")]);
      const listed = JSON.parse((await runCli(["keys", "list", "--json"], env)).stdout);
      expect(listed.keys.map((k: { api_key_id: string; revoked_at: string | null }) => [k.api_key_id, k.revoked_at !== null])).toEqual(
        expect.arrayContaining([[tenant.api_key_id, false], [key.api_key_id, true]]),
      );
    } finally {
      await db.drop();
    }
  });
});

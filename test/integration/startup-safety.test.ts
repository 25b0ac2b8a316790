/**
 * Issue 11 items 8 and 9: a start that cannot serve leaves nothing behind, a tenant is never committed
 * without its admin key, and everything the vault writes is private to its user (0700/0600) whatever
 * the umask; a data directory others can write is refused.
 */
import { spawn } from "node:child_process";
import { chmodSync, lstatSync, mkdirSync, readdirSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import { openAdminContext } from "../../src/main/context.js";
import { createTenant } from "../../src/tenancy/tenants.js";
import { freePort, newPgDatabase, newPgliteDir, type TestDatabase } from "../helpers/vault.js";

const READY_WITHIN_MS = 120_000;

interface Served {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `countersign serve` in its own process under `umask`; stops it after `ready` resolves (or when it exits). */
async function serve(env: Record<string, string>, opts: { umask?: string; untilReady?: boolean; port: number }): Promise<Served> {
  const child = spawn("sh", ["-c", `umask ${opts.umask ?? "022"} && exec "${process.execPath}" --import tsx src/main/cli.ts serve`], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, LOG_LEVEL: "silent", VAULT_HOST: "127.0.0.1", VAULT_PORT: String(opts.port), ...env },
  });
  const out = { code: null as number | null, stdout: "", stderr: "" };
  child.stdout.on("data", (b: Buffer) => void (out.stdout += b.toString()));
  child.stderr.on("data", (b: Buffer) => void (out.stderr += b.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", (code) => ((out.code = code), resolve())));
  if (opts.untilReady) {
    const deadline = Date.now() + READY_WITHIN_MS;
    let ready = false;
    while (!ready && out.code === null && Date.now() < deadline) {
      ready = await fetch(`http://127.0.0.1:${opts.port}/readyz`).then((r) => r.status === 200, () => false);
      if (!ready) await sleep(200);
    }
    if (out.code === null) child.kill("SIGTERM");
  }
  await exited;
  return out;
}

/** Every path under `dir` whose mode gives group or others any access. */
function exposed(dir: string): string[] {
  const found: string[] = [];
  const walk = (p: string) => {
    const st = lstatSync(p);
    if (st.mode & 0o077) found.push(`${(st.mode & 0o777).toString(8)} ${path.relative(dir, p) || "."}`);
    if (st.isDirectory()) for (const e of readdirSync(p)) walk(path.join(p, e));
  };
  walk(dir);
  return found;
}

describe("start-up safety (countersign serve as a process)", () => {
  const dirs: TestDatabase[] = [];
  const newDir = () => {
    const d = newPgliteDir();
    dirs.push(d);
    return d.url;
  };
  afterAll(async () => {
    for (const d of dirs) await d.drop();
  });

  it("fails with EADDRINUSE before creating anything when the port is taken", async () => {
    const port = await freePort();
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(port, "127.0.0.1", resolve));
    try {
      const dir = newDir();
      const data = path.join(dir, "data");
      const result = await serve({ DATABASE_URL: data }, { port });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/EADDRINUSE/);
      expect(result.stdout).not.toMatch(/Admin API key/);
      // No database, no tenant, no key: the data directory was never even created.
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      holder.close();
    }
  });

  it("refuses a data directory that others can write, and creates nothing in it", async () => {
    const dir = newDir();
    const data = path.join(dir, "data");
    mkdirSync(data);
    chmodSync(data, 0o777);
    const result = await serve({ DATABASE_URL: data }, { port: await freePort() });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/VAULT_DATA_DIR: .*data can be written by group or others \(mode 0777\)/);
    expect(result.stderr).toMatch(/chmod -R go-rwx/);
    expect(readdirSync(data)).toEqual([]);
  });

  it("creates every directory 0700 and every file 0600 under umask 0022, keys, anchors and locks included", async () => {
    const dir = newDir();
    const data = path.join(dir, "data");
    const result = await serve({ DATABASE_URL: data }, { port: await freePort(), umask: "022", untilReady: true });
    expect(result.stdout).toMatch(/Admin API key/);
    expect(result.code).toBe(0);
    const top = readdirSync(data).sort();
    expect(top).toEqual(expect.arrayContaining(["anchors", "control", "keys", "tenants"]));
    expect(readdirSync(path.join(data, "keys")).length).toBe(1);
    expect(readdirSync(path.join(data, "tenants")).length).toBeGreaterThan(0);
    expect(exposed(data)).toEqual([]);
  });

  it("says how to make an admin key when tenant default has none (left by an older, interrupted start)", async () => {
    const dir = newDir();
    const data = path.join(dir, "data");
    const admin = await openAdminContext(loadConfig({ DATABASE_URL: data }));
    try {
      await admin.control.query("INSERT INTO tenants (id, name, db_name) VALUES ('t_keyless', 'default', 't_keyless')");
    } finally {
      await admin.close();
    }
    const result = await serve({ DATABASE_URL: data }, { port: await freePort(), untilReady: true });
    expect(result.stdout).not.toMatch(/Admin API key/);
    expect(result.stderr).toContain('Tenant "default" (t_keyless) has no active admin key');
    expect(result.stderr).toContain("countersign keys create --tenant t_keyless --scope admin");
  });
});

describe.each(["postgres", "pglite"] as const)("a tenant is committed with its admin key or not at all (%s)", (engine) => {
  it("leaves no tenant row when the key insert fails inside the transaction", async () => {
    const db = engine === "postgres" ? newPgDatabase() : { url: "memory://", drop: async () => {} };
    const admin = await openAdminContext(loadConfig({ DATABASE_URL: db.url }));
    try {
      const first = await createTenant(admin.control, admin.tenantDbs, { name: "first" });
      // The same raw key again violates api_keys.key_hash UNIQUE: the second insert of the transaction fails.
      await expect(createTenant(admin.control, admin.tenantDbs, { name: "second", adminKey: first.adminKey.apiKey })).rejects.toThrow();
      expect(await admin.control.query("SELECT id FROM tenants WHERE name = 'second'")).toEqual([]);
      const keyless = await admin.control.query(
        "SELECT t.id FROM tenants t WHERE NOT EXISTS (SELECT 1 FROM api_keys k WHERE k.tenant_id = t.id AND k.scope = 'admin')",
      );
      expect(keyless).toEqual([]);
    } finally {
      await admin.close();
      await db.drop();
    }
  });
});

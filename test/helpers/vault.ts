import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { loadConfig } from "../../src/config/config.js";
import type { ContextOverrides } from "../../src/main/context.js";
import { startVault, type RunningVault } from "../../src/main/serve.js";
import { createApiKey, type Scope } from "../../src/tenancy/api-keys.js";
import { createTenant } from "../../src/tenancy/tenants.js";

/** The real PostgreSQL server of the dev and CI machines. Unreachable means the suite fails. */
export const PG_SERVER = process.env.TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

// One fixed Ed25519 seed for the suite, so several vault processes on one database share a key.
export const TEST_KEY_BASE64 = Buffer.from("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "hex").toString("base64");

export type Engine = "postgres" | "pglite";

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A fresh control database name on the real server (tenant databases are named after it). */
export function newPgDatabase(): TestDatabase {
  const name = `cs_test_${randomBytes(5).toString("hex")}`;
  const u = new URL(PG_SERVER);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      const admin = new pg.Client({ connectionString: PG_SERVER });
      await admin.connect();
      try {
        const rows = await admin.query("SELECT datname FROM pg_database WHERE datname = $1 OR datname LIKE $2", [name, `${name}\\_%`]);
        for (const r of rows.rows) await admin.query(`DROP DATABASE IF EXISTS "${r.datname}" WITH (FORCE)`);
      } finally {
        await admin.end();
      }
    },
  };
}

/** A PGlite data directory under the OS temp dir. */
export function newPgliteDir(): TestDatabase {
  const dir = mkdtempSync(path.join(os.tmpdir(), "cs-pglite-"));
  return { url: dir, async drop() { rmSync(dir, { recursive: true, force: true }); } };
}

export function newDatabase(engine: Engine): TestDatabase {
  return engine === "postgres" ? newPgDatabase() : newPgliteDir();
}

export interface TestVault {
  vault: RunningVault;
  url: string;
  adminKey: string;
  tenantId: string;
  close(): Promise<void>;
}

/** Starts a real vault on a loopback port, with tenant `default` bootstrapped with a known admin key. */
export async function startTestVault(
  db: TestDatabase,
  opts: { env?: Record<string, string>; overrides?: ContextOverrides; adminKey?: string } = {},
): Promise<TestVault> {
  const adminKey = opts.adminKey ?? `csk_test_${randomBytes(16).toString("hex")}`;
  // Anchors go to a temporary directory unless the test chose a store: never into the working tree.
  const anchorEnv =
    opts.env?.VAULT_LEDGER_ANCHOR_DIR || opts.env?.VAULT_LEDGER_ANCHOR_BUCKET || opts.env?.VAULT_LEDGER_ANCHOR_BUCKET_TEMPLATE || opts.overrides?.anchorStore
      ? {}
      : { VAULT_LEDGER_ANCHOR_DIR: mkdtempSync(path.join(os.tmpdir(), "cs-anchors-")) };
  const config = loadConfig({
    ...anchorEnv,
    DATABASE_URL: db.url,
    VAULT_HOST: "127.0.0.1",
    VAULT_PORT: "0",
    VAULT_BOOTSTRAP_API_KEY: adminKey,
    VAULT_PRIVATE_KEY_BASE64: TEST_KEY_BASE64,
    VAULT_KEY_ID: "test-key-1",
    VAULT_RATE_LIMIT_RPS: "0",
    LOG_LEVEL: "silent",
    // The ledger loop runs when a test says so (a short interval, or drain()), never at a 30 s tick that
    // would land in the middle of some tests and add a checkpoint they did not expect.
    VAULT_LEDGER_ANCHOR_BACKFILL_INTERVAL_SECONDS: "3600",
    ...opts.env,
  });
  const vault = await startVault(config, opts.overrides);
  const rows = await vault.ctx.control.query<{ id: string }>("SELECT id FROM tenants WHERE name = 'default'");
  return { vault, url: vault.url, adminKey, tenantId: rows[0]!.id, close: () => vault.close() };
}

export async function newKey(v: TestVault, scope: Scope, tenantId = v.tenantId): Promise<string> {
  return (await createApiKey(v.vault.ctx.control, { tenantId, scope })).apiKey;
}

export async function newTenant(v: TestVault, name: string): Promise<{ tenantId: string; adminKey: string }> {
  const t = await createTenant(v.vault.ctx.control, v.vault.ctx.tenantDbs, { name });
  return { tenantId: t.tenantId, adminKey: t.adminKey.apiKey };
}

export interface HttpResult<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/** A plain fetch, as the SDK makes it: Content-Type on every request and the key header. */
export async function call<T = any>(
  base: string,
  method: string,
  pathname: string,
  opts: { key?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<HttpResult<T>> {
  const headers: Record<string, string> = { "content-type": "application/json", ...opts.headers };
  if (opts.key) headers["x-vault-api-key"] = opts.key;
  const res = await fetch(base + pathname, {
    method,
    headers,
    body: opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* non-JSON bodies are returned as text for the assertion to inspect */
  }
  return { status: res.status, headers: res.headers, body: body as T };
}

export const refundPolicy = {
  policy_id: "refund-policy",
  description: "Refunds of customer payments",
  rules: ["Refunds up to $100 may be issued automatically", "Refunds over $1000 are never issued by agents"],
  tools: ["stripe_refund"],
  conditions: [
    { id: "too-large", when: "args.amount > 1000", decision: "deny", reason: "Amount exceeds $1000 limit" },
    { id: "needs-human", when: "args.amount > 100", decision: "review", reason: "Refunds over $100 need a human" },
    { id: "small", when: "args.amount <= 100", decision: "approve", reason: "Within the automatic limit" },
  ],
  default_decision: "review",
};

/**
 * A loopback port that was free a moment ago (and on which nothing listens now), for a child process or a
 * restarted server to bind later. It is drawn below the kernel's ephemeral range (32768+ on Linux), where the
 * many listen(0) and outgoing connections of the other test workers never land, so nothing takes it meanwhile.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const server = createServer();
    const bound = await new Promise<boolean>((resolve) => {
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => resolve(true));
    });
    if (bound) {
      await new Promise((resolve) => server.close(resolve));
      return port;
    }
    if (attempt === 50) throw new Error("no free loopback port between 20000 and 32000");
  }
}

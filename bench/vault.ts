import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { freePort, spawnServer, type ServerProcess } from "./server-process.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));

/** Compiles src/ into dist/ so the bench always measures the code in the working tree (or in `root`). */
export function buildVault(root = repoRoot): void {
  execFileSync(path.join(repoRoot, "node_modules/.bin/tsc"), ["-p", "tsconfig.build.json"], { cwd: root, stdio: "inherit" });
}

export function withDatabase(serverUrl: string, name: string): string {
  const u = new URL(serverUrl);
  u.pathname = `/${encodeURIComponent(name)}`;
  return u.toString();
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

async function withAdmin<T>(serverUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: withDatabase(serverUrl, "postgres") });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function serverVersion(serverUrl: string): Promise<string> {
  return withAdmin(serverUrl, async (c) => (await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v ?? "unknown");
}

export async function createDatabase(serverUrl: string, name: string): Promise<void> {
  await withAdmin(serverUrl, (c) => c.query(`CREATE DATABASE ${quoteIdent(name)}`));
}

/** Drops `prefix` and every `prefix_*` database: the vault names tenant databases after its control db. */
export async function dropDatabases(serverUrl: string, prefix: string): Promise<string[]> {
  return withAdmin(serverUrl, async (c) => {
    const { rows } = await c.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname = $1 OR starts_with(datname, $2)", [
      prefix,
      `${prefix}_`,
    ]);
    // FORCE: a vault that did not shut down cleanly may still hold connections.
    for (const { datname } of rows) await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(datname)} WITH (FORCE)`);
    return rows.map((r) => r.datname);
  });
}

export type VaultProcess = ServerProcess;

/** Starts `countersign serve` as a separate process, so the bench client does not share its event loop. */
export async function startVault(opts: {
  /** A postgres:// URL, or a directory for the embedded PGlite engine. */
  databaseUrl: string;
  apiKey: string;
  dataDir: string;
  tenantPool: number;
  controlPool: number;
  /** Another checkout to run (see prior-build.ts); default the working tree. */
  root?: string;
  env?: Record<string, string>;
  /** Node flags for this vault only, added after BENCH_VAULT_NODE_ARGS (e.g. --cpu-prof). */
  nodeArgs?: string[];
}): Promise<VaultProcess> {
  const root = opts.root ?? repoRoot;
  const port = await freePort();
  // BENCH_VAULT_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the vault (not allowed in NODE_OPTIONS).
  const nodeArgs = [...(process.env.BENCH_VAULT_NODE_ARGS ?? "").split(/\s+/).filter(Boolean), ...(opts.nodeArgs ?? [])];
  return spawnServer({
    label: "vault",
    args: [...nodeArgs, path.join(root, "dist/main/cli.js"), "serve"],
    cwd: root,
    port,
    readyPath: "/readyz",
    env: {
      ...process.env,
      DATABASE_URL: opts.databaseUrl,
      VAULT_HOST: "127.0.0.1",
      VAULT_PORT: String(port),
      VAULT_BOOTSTRAP_API_KEY: opts.apiKey,
      VAULT_RATE_LIMIT_RPS: "0",
      LOG_LEVEL: "warn",
      VAULT_TENANT_DB_MAX_OPEN_CONNS: String(opts.tenantPool),
      VAULT_CONTROL_PLANE_DB_MAX_OPEN_CONNS: String(opts.controlPool),
      VAULT_DATA_DIR: opts.dataDir,
      ...opts.env,
    },
  });
}

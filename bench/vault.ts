import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";

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

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  server.close();
  if (address === null || typeof address === "string") throw new Error("could not get a free port");
  return address.port;
}

export interface VaultProcess {
  url: string;
  /** The last lines the vault wrote, for failure messages. */
  tail(): string;
  stop(): Promise<void>;
}

/** Starts `countersign serve` as a separate process, so the bench client does not share its event loop. */
export async function startVault(opts: {
  databaseUrl: string;
  apiKey: string;
  dataDir: string;
  tenantPool: number;
  controlPool: number;
  /** Another checkout to run (see prior-build.ts); default the working tree. */
  root?: string;
  env?: Record<string, string>;
}): Promise<VaultProcess> {
  const root = opts.root ?? repoRoot;
  const port = await freePort();
  // BENCH_VAULT_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the vault (not allowed in NODE_OPTIONS).
  const nodeArgs = (process.env.BENCH_VAULT_NODE_ARGS ?? "").split(/\s+/).filter(Boolean);
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, path.join(root, "dist/main/cli.js"), "serve"], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
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
  // Warnings and errors the vault logs during the run are part of the result, so pass them through.
  const lines: string[] = [];
  const forward = (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n")) {
      if (!line.trim()) continue;
      lines.push(line);
      if (lines.length > 40) lines.shift();
      process.stderr.write(`[vault] ${line}\n`);
    }
  };
  child.stdout?.on("data", forward);
  child.stderr?.on("data", forward);
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      exitCode = code ?? (signal ? -1 : null);
      resolve();
    }),
  );

  const vault: VaultProcess = {
    url: `http://127.0.0.1:${port}`,
    tail: () => lines.join("\n"),
    async stop() {
      if (exitCode !== undefined) return;
      child.kill("SIGTERM");
      const timedOut = await Promise.race([exited.then(() => false), sleep(10_000).then(() => true)]);
      if (timedOut) {
        process.stderr.write("[bench] vault did not exit 10 s after SIGTERM; killing it\n");
        child.kill("SIGKILL");
        await exited;
      }
    },
  };

  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`vault exited with code ${exitCode} before it was ready:\n${vault.tail()}`);
    const ready = await fetch(`${vault.url}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready) return vault;
    await sleep(100);
  }
  await vault.stop();
  throw new Error(`vault was not ready within 30 s:\n${vault.tail()}`);
}

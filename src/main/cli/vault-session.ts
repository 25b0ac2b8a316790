import { cliEnvironment } from "../../config/cli-environment.js";
import { boundedFetch } from "../../http-client/bounded-fetch.js";
import type { Config } from "../../config/config.js";
import type { Sql } from "../../db/sql.js";
import { CLI_SESSION_KEY_LABEL, createApiKey, revokeApiKey } from "../../tenancy/api-keys.js";
import type { AdminContext } from "../admin-context.js";
import { CommandError, UsageError } from "./cli-errors.js";
import { InjectedVault, RemoteVault } from "./vault-clients.js";
import type { VaultApi } from "./vault-api.js";

// The database, the vault and the AWS SDK are imported when a command needs them, not at start-up:
// --help, --version and remote commands stay quick.
const configModule = () => import("../../config/secret-bundle.js");
const pgliteModule = () => import("../../db/pglite-database.js");

/** Global and per-command options that choose the vault a command talks to. */
export interface VaultOptions {
  /** --url, else COUNTERSIGN_URL. */
  url?: string;
  /** --api-key, else COUNTERSIGN_API_KEY. */
  apiKey?: string;
  /** --tenant: needed only when no vault runs (the API key names the tenant otherwise). */
  tenant?: string;
}

/** How long a vault on the default local port has to answer before the CLI decides none runs. */
const PROBE_TIMEOUT_MS = 500;

/**
 * Runs `fn` against the running vault's API when one answers, else against a vault built in-process
 * over the database:
 * - --url / COUNTERSIGN_URL: that vault, with --api-key / COUNTERSIGN_API_KEY (required);
 * - else a vault answering GET /healthz on http://127.0.0.1:<VAULT_PORT or 8000>: that one (an API key is required);
 * - else the database: the vault's app is built over it without listening or workers, and requests are
 *   injected with a temporary admin key of the tenant, revoked when `fn` ends (its raw value never leaves memory).
 * The embedded database (PGlite) has one writer, so this order is what lets the CLI work while the vault runs.
 */
export async function withVault<T>(opts: VaultOptions, fn: (vault: VaultApi) => Promise<T>): Promise<T> {
  const env = cliEnvironment();
  const url = opts.url ?? env.url;
  const apiKey = opts.apiKey ?? env.apiKey;
  if (url) {
    if (!apiKey) throw new UsageError(`${url}: pass --api-key or set COUNTERSIGN_API_KEY (an admin key of the tenant)`);
    return fn(await checkedTenant(RemoteVault.at(url, apiKey), opts.tenant));
  }
  // Where a vault on this machine listens by default; none when VAULT_PORT is 0 (a random port: nothing to probe).
  const probed = env.localVaultPort === undefined ? undefined : `http://127.0.0.1:${env.localVaultPort}`;
  if (probed && (await answersHealthz(probed))) {
    if (!apiKey) throw new UsageError(`a vault is running at ${probed}: pass --api-key or set COUNTERSIGN_API_KEY (the admin key printed at first start)`);
    return fn(await checkedTenant(RemoteVault.at(probed, apiKey), opts.tenant));
  }
  return withLocalVault(opts.tenant, probed, fn);
}

/** Runs `fn` with the control database and tenant routing: commands with no HTTP counterpart. */
export async function withAdminContext<T>(fn: (ctx: AdminContext) => Promise<T>): Promise<T> {
  const config = await (await configModule()).loadStartupConfig();
  const [{ openAdminContext }, { checkDataDirFormat }] = await Promise.all([import("../admin-context.js"), import("../data-dir.js")]);
  const { DirectoryInUseError } = await pgliteModule();
  // A data directory a newer Countersign wrote is refused here too, before its databases are opened.
  if (config.dataDir !== "memory://") checkDataDirFormat(config.dataDir);
  let ctx: AdminContext;
  try {
    ctx = await openAdminContext(config);
  } catch (err) {
    if (err instanceof DirectoryInUseError) throw new CommandError(`${err.message}. This command opens the database itself, so it cannot run beside an embedded vault`);
    throw err;
  }
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}


/**
 * Whether a Countersign vault answers at `base`: its /healthz (status and version) and its GET /
 * (name "Countersign"). A generic {"status":"ok"} is not enough: the API key must not go to another
 * local service that happens to listen on the vault's default port.
 */
async function answersHealthz(base: string): Promise<boolean> {
  const get = async (path: string) => {
    const res = await boundedFetch(`${base}${path}`, undefined, { timeoutMs: PROBE_TIMEOUT_MS, maxResponseBytes: 64 * 1024 });
    const body = (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    return res.status === 200 ? body : undefined;
  };
  try {
    const health = await get("/healthz");
    if (health?.status !== "ok" || typeof health.version !== "string") return false;
    return (await get("/"))?.name === "Countersign";
  } catch {
    return false;
  }
}

/** With --tenant and an API key, the key's tenant must be that one: a command never acts on another tenant by surprise. */
async function checkedTenant(vault: RemoteVault, tenant: string | undefined): Promise<VaultApi> {
  if (tenant === undefined) return vault;
  const who = await vault.request<{ tenant_id: string }>("GET", "/console/session");
  if (who.tenant_id !== tenant) throw new UsageError(`--tenant ${tenant}: the API key belongs to tenant ${who.tenant_id}`);
  return vault;
}

async function withLocalVault<T>(tenant: string | undefined, probed: string | undefined, fn: (vault: VaultApi) => Promise<T>): Promise<T> {
  const config = await (await configModule()).loadStartupConfig();
  const [{ checkDataDir }, { createContext }, { buildServer }, { cliLogger }, { DirectoryInUseError }] = await Promise.all([
    import("../data-dir.js"),
    import("../context.js"),
    import("../../http/server.js"),
    import("./cli-logger.js"),
    pgliteModule(),
  ]);
  // The vault's own start-up check (the directory's permissions and format), as `serve` makes it.
  checkDataDir(config);
  let ctx;
  try {
    ctx = await createContext(config, { log: cliLogger(config) });
  } catch (err) {
    if (err instanceof DirectoryInUseError) {
      const where = probed ? `no vault answered at ${probed}` : "VAULT_PORT is 0, so no vault was looked for";
      throw new CommandError(`${err.message}. A vault holds the database but ${where}: if it listens elsewhere, pass --url (or set COUNTERSIGN_URL) and --api-key`);
    }
    throw err;
  }
  try {
    const app = await buildServer(ctx);
    try {
      const tenantId = await chooseTenant(ctx.control, tenant);
      const session = await createApiKey(ctx.control, { tenantId, scope: "admin", label: CLI_SESSION_KEY_LABEL });
      // Ctrl-C or a TERM mid-command must not leave the key active: revoke it, then exit as the signal would.
      const onSignal = (signal: NodeJS.Signals) => {
        void revokeApiKey(ctx.control, session.id).finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
      };
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      try {
        return await fn(new InjectedVault(app, session.apiKey, session.id, describeDatabase(config)));
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
        await revokeApiKey(ctx.control, session.id);
      }
    } finally {
      await app.close();
    }
  } finally {
    await ctx.close();
  }
}

/** --tenant, else the only tenant, else the one named "default". */
async function chooseTenant(control: Sql, tenant: string | undefined): Promise<string> {
  const rows = await control.query<{ id: string; name: string }>("SELECT id, name FROM tenants ORDER BY created_at");
  if (tenant !== undefined) {
    if (!rows.some((r) => r.id === tenant)) throw new CommandError(`no tenant ${tenant} (see countersign tenants list)`);
    return tenant;
  }
  if (rows.length === 1) return rows[0]!.id;
  const named = rows.filter((r) => r.name === "default");
  if (named.length === 1) return named[0]!.id;
  if (rows.length === 0) throw new CommandError("there is no tenant yet: start the vault once (it creates tenant default) or run countersign tenants create NAME");
  throw new UsageError(`the database holds ${rows.length} tenants and none is named default: pass --tenant ID (see countersign tenants list)`);
}

function describeDatabase(config: Config): string {
  const db = config.database;
  if (db.kind === "pglite") return `the embedded database in ${db.dataDir} (no vault running)`;
  const url = new URL(db.url);
  return `the PostgreSQL database ${url.pathname.slice(1)} on ${url.host} (no vault answered)`;
}

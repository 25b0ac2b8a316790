import { createHash } from "node:crypto";
import path from "node:path";
import type { Logger } from "pino";
import type { DatabaseTarget } from "../config/config.js";
import { dsnHasPassword, type StoredSecrets } from "./stored-secrets.js";
import type { SecretReference } from "../config/secrets-provider.js";
import { migrate } from "../db/migrate.js";
import { databaseNameOf, ensurePgDatabase, PgDatabase, withDatabaseName } from "../db/pg-database.js";
import { PgliteDatabase } from "../db/pglite-database.js";
import { sqlState, type Database, type Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import { TenantSecretsUnavailableError, type TenantSecrets } from "./tenant-secrets.js";

export interface TenantLocation {
  id: string;
  db_name: string | null;
  /** A secret reference to the DSN given for this tenant (never the DSN itself); see secret-seal.ts. */
  db_dsn_ref: SecretReference | null;
  /** The name of the tenant's bundle in AWS Secrets Manager (never its content); see tenant-secrets.ts. */
  tenant_secret_ref: string | null;
}

/** A DSN from a tenant's bundle; `own`: it names the vault's own database for the tenant (database_password). */
type BundleDsn = { dsn: string; own: boolean };

interface OpenTenant {
  /** SHA-256 of the DSN a bundle gave ("" for other tenants): a rotated bundle gives another. */
  dsnKey: string;
  db: Promise<Database>;
}

/** A pool replaced after a rotation is closed this much later, so requests and jobs holding it can finish. */
const RETIRE_AFTER_MS = 60_000;

/** The row a tenant's sealed DSN is bound to: it opens for that tenant only. */
const dsnBinding = (tenantId: string) => `tenant_database:${tenantId}`;

/**
 * Routes a tenant id to that tenant's own database: a database per tenant on a real server
 * (created by the vault, or a DSN given for the tenant), a PGlite directory per tenant when embedded.
 * A given DSN is stored as a secret reference and resolved through the secrets provider on open.
 * Each tenant database is opened once per process and migrated before first use.
 *
 * A tenant with `tenant_secret_ref` (created with `--secret-ref`) gets its DSN from that bundle in
 * AWS Secrets Manager (`database_url`, or `database_password` put into the vault's own DSN for it),
 * checked on every get() through TenantSecrets' cache: when a refreshed bundle gives another DSN
 * (rotation) a new pool is opened and the old one retired. A bundle that cannot be read rejects that
 * tenant's get() with 503 tenant_secrets_unavailable; other tenants are not touched.
 */
export class TenantDatabases {
  private readonly open = new Map<string, OpenTenant>();
  /** Tenant rows, read once per process: where each tenant's database is described. */
  private readonly locations = new Map<string, Promise<TenantLocation>>();
  private readonly retiring = new Map<Promise<Database>, NodeJS.Timeout>();

  constructor(
    private readonly control: Sql,
    private readonly target: DatabaseTarget,
    private readonly poolMax: number,
    private readonly secrets: StoredSecrets,
    /** Set when TENANT_SECRET_PREFIX is: without it, tenants with a secret reference cannot be opened. */
    readonly tenantSecrets?: TenantSecrets,
  ) {}

  /** What the control database stores for `--secret-ref [NAME]`: the name given, or `<prefix>/<tenant_id>`. */
  secretReference(tenantId: string, name: string | undefined): string {
    if (!this.tenantSecrets) throw new AppError("bad_request", "--secret-ref needs TENANT_SECRET_PREFIX (AWS Secrets Manager) to be set on the vault");
    const ref = name?.trim() || this.tenantSecrets.defaultSecretName(tenantId);
    if (!/^[A-Za-z0-9/_+=.@-]{1,512}$/.test(ref)) throw new AppError("bad_request", "a secret reference must be a Secrets Manager name (A-Z a-z 0-9 / _ + = . @ -)");
    if (!this.tenantSecrets.isUnderPrefix(ref)) {
      throw new AppError("bad_request", `a secret reference must name a secret under TENANT_SECRET_PREFIX (${this.tenantSecrets.defaultSecretName("<name>").replace(/<name>$/, "")}...)`);
    }
    return ref;
  }

  /** What the control database stores for a DSN given for a new tenant (throws if it cannot be stored safely). */
  dsnReference(tenantId: string, dsn: string): SecretReference {
    return this.secrets.referenceFor(dsn, dsnBinding(tenantId));
  }

  /**
   * Seals the DSNs that migration 0004 turned into `dsn:` references while they hold a password.
   * Tenants whose DSN must stay in clear (no sealing key yet) are named in a warning.
   */
  async sealStoredDsns(log: Logger): Promise<{ sealed: string[]; inClear: string[] }> {
    const rows = await this.control.query<{ id: string; db_dsn_ref: string }>("SELECT id, db_dsn_ref FROM tenants WHERE db_dsn_ref LIKE 'dsn:%'");
    const sealed: string[] = [];
    const inClear: string[] = [];
    for (const row of rows) {
      if (this.secrets.needsSealing(row.db_dsn_ref)) {
        const ref = this.dsnReference(row.id, await this.secrets.resolve(row.db_dsn_ref));
        // Compare-and-set: another process sealing the same row at the same time is harmless.
        await this.control.query("UPDATE tenants SET db_dsn_ref = $2 WHERE id = $1 AND db_dsn_ref = $3", [row.id, ref, row.db_dsn_ref]);
        sealed.push(row.id);
      } else if (!this.secrets.canSeal && dsnHasPassword(row.db_dsn_ref.slice(4))) {
        inClear.push(row.id);
      }
    }
    if (sealed.length > 0) log.info({ tenants: sealed }, "sealed the stored DSNs of these tenants with VAULT_TRANSPORT_KEY_BASE64");
    if (inClear.length > 0) {
      log.warn({ tenants: inClear }, "these tenants' stored DSNs hold a password in clear: set VAULT_TRANSPORT_KEY_BASE64 and restart to seal them");
    }
    return { sealed, inClear };
  }

  /** The database name a new tenant gets on the vault's own server or data directory. */
  dbNameFor(tenantId: string): string {
    if (this.target.kind === "postgres") return `${databaseNameOf(this.target.url).slice(0, 40)}_${tenantId}`;
    return tenantId;
  }

  async get(tenantId: string): Promise<Database> {
    const loc = await this.location(tenantId);
    const described = loc.tenant_secret_ref ? await this.bundleDsn(loc, loc.tenant_secret_ref) : undefined;
    const dsnKey = described ? createHash("sha256").update(described.dsn).digest("hex") : "";
    // Nothing is awaited from here on: concurrent callers see one another's entry, so one pool is opened.
    const current = this.open.get(tenantId);
    if (current && current.dsnKey === dsnKey) return current.db;
    if (current) this.retire(current.db);
    const db = this.openTenant(loc, described);
    this.open.set(tenantId, { dsnKey, db });
    db.catch(() => {
      if (this.open.get(tenantId)?.db === db) this.open.delete(tenantId);
    });
    return db;
  }

  async listTenantIds(): Promise<string[]> {
    return (await this.control.query<{ id: string }>("SELECT id FROM tenants ORDER BY created_at")).map((r) => r.id);
  }

  private location(tenantId: string): Promise<TenantLocation> {
    let loc = this.locations.get(tenantId);
    if (!loc) {
      loc = this.control
        .query<TenantLocation>("SELECT id, db_name, db_dsn_ref, tenant_secret_ref FROM tenants WHERE id = $1", [tenantId])
        .then((rows) => rows[0] ?? Promise.reject(new AppError("not_found", `Tenant ${tenantId} does not exist`)));
      this.locations.set(tenantId, loc);
      loc.catch(() => this.locations.delete(tenantId));
    }
    return loc;
  }

  /** The DSN the tenant's bundle describes (throws TenantSecretsUnavailableError, 503). */
  private bundleDsn(loc: TenantLocation, secretName: string): Promise<BundleDsn> {
    if (!this.tenantSecrets) return Promise.reject(new TenantSecretsUnavailableError(loc.id, secretName, "TENANT_SECRET_PREFIX is not set on this vault"));
    // database_password goes into the vault's own DSN for the tenant: its server, the tenant's database name.
    const own = this.target.kind === "postgres" && loc.db_name ? withDatabaseName(this.target.url, loc.db_name) : undefined;
    return this.tenantSecrets.databaseDsn(loc.id, secretName, own);
  }

  private async openTenant(loc: TenantLocation, described: BundleDsn | undefined): Promise<Database> {
    const db = await this.connect(loc, described);
    try {
      await migrate(db, "tenant", `the database of tenant ${loc.id}`);
    } catch (err) {
      await db.close().catch(() => {});
      // Credentials from a bundle that the server refuses (28P01 bad password, 28000 no such role): the bundle is at fault, 503 as unreadable.
      const refused = ["28P01", "28000"].includes(sqlState(err) ?? "");
      if (described && refused) throw new TenantSecretsUnavailableError(loc.id, loc.tenant_secret_ref!, "the database refused the bundle's credentials");
      throw err;
    }
    return db;
  }

  private async connect(loc: TenantLocation, described: BundleDsn | undefined): Promise<Database> {
    // The vault's own database for the tenant is provisioned with the vault's credentials, as below.
    if (described?.own && this.target.kind === "postgres") await ensurePgDatabase(this.target.url, loc.db_name!);
    if (described) return new PgDatabase(described.dsn, this.poolMax);
    if (loc.db_dsn_ref) return new PgDatabase(await this.secrets.resolve(loc.db_dsn_ref, { binding: dsnBinding(loc.id) }), this.poolMax);
    const name = loc.db_name!;
    if (this.target.kind === "postgres") {
      await ensurePgDatabase(this.target.url, name);
      return new PgDatabase(withDatabaseName(this.target.url, name), this.poolMax);
    }
    if (this.target.dataDir === "memory://") return PgliteDatabase.open("memory://");
    return PgliteDatabase.open(path.join(this.target.dataDir, "tenants", name));
  }

  /** A pool replaced after a rotation: requests and jobs that hold it may still run a statement or two. */
  private retire(db: Promise<Database>): void {
    const timer = setTimeout(() => {
      this.retiring.delete(db);
      void db.then((d) => d.close()).catch(() => {});
    }, RETIRE_AFTER_MS);
    timer.unref();
    this.retiring.set(db, timer);
  }

  async closeAll(): Promise<void> {
    const dbs = [...[...this.open.values()].map((o) => o.db), ...this.retiring.keys()];
    for (const timer of this.retiring.values()) clearTimeout(timer);
    this.open.clear();
    this.retiring.clear();
    this.locations.clear();
    await Promise.all(dbs.map(async (p) => (await p.catch(() => null))?.close()));
  }
}

import path from "node:path";
import type { Logger } from "pino";
import type { DatabaseTarget } from "../config/config.js";
import { dsnHasPassword, type StoredSecrets } from "./stored-secrets.js";
import type { SecretReference } from "../config/secrets-provider.js";
import { migrate } from "../db/migrate.js";
import { databaseNameOf, ensurePgDatabase, PgDatabase, withDatabaseName } from "../db/pg-database.js";
import { PgliteDatabase } from "../db/pglite-database.js";
import type { Database, Sql } from "../db/sql.js";
import { AppError } from "../errors.js";

export interface TenantLocation {
  id: string;
  db_name: string | null;
  /** A secret reference to the DSN given for this tenant (never the DSN itself); see secret-seal.ts. */
  db_dsn_ref: SecretReference | null;
}

/** The row a tenant's sealed DSN is bound to: it opens for that tenant only. */
const dsnBinding = (tenantId: string) => `tenant_database:${tenantId}`;

/**
 * Routes a tenant id to that tenant's own database: a database per tenant on a real server
 * (created by the vault, or a DSN given for the tenant), a PGlite directory per tenant when embedded.
 * A given DSN is stored as a secret reference and resolved through the secrets provider on open.
 * Each tenant database is opened once per process and migrated before first use.
 */
export class TenantDatabases {
  private readonly open = new Map<string, Promise<Database>>();

  constructor(
    private readonly control: Sql,
    private readonly target: DatabaseTarget,
    private readonly poolMax: number,
    private readonly secrets: StoredSecrets,
  ) {}

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
    let db = this.open.get(tenantId);
    if (!db) {
      db = this.openTenant(tenantId);
      this.open.set(tenantId, db);
      db.catch(() => this.open.delete(tenantId));
    }
    return db;
  }

  async listTenantIds(): Promise<string[]> {
    return (await this.control.query<{ id: string }>("SELECT id FROM tenants ORDER BY created_at")).map((r) => r.id);
  }

  private async openTenant(tenantId: string): Promise<Database> {
    const rows = await this.control.query<TenantLocation>("SELECT id, db_name, db_dsn_ref FROM tenants WHERE id = $1", [tenantId]);
    const loc = rows[0];
    if (!loc) throw new AppError("not_found", `Tenant ${tenantId} does not exist`);
    const db = await this.connect(loc);
    try {
      await migrate(db, "tenant");
    } catch (err) {
      await db.close().catch(() => {});
      throw err;
    }
    return db;
  }

  private async connect(loc: TenantLocation): Promise<Database> {
    if (loc.db_dsn_ref) return new PgDatabase(await this.secrets.resolve(loc.db_dsn_ref, { binding: dsnBinding(loc.id) }), this.poolMax);
    const name = loc.db_name!;
    if (this.target.kind === "postgres") {
      await ensurePgDatabase(this.target.url, name);
      return new PgDatabase(withDatabaseName(this.target.url, name), this.poolMax);
    }
    if (this.target.dataDir === "memory://") return PgliteDatabase.open("memory://");
    return PgliteDatabase.open(path.join(this.target.dataDir, "tenants", name));
  }

  async closeAll(): Promise<void> {
    const dbs = [...this.open.values()];
    this.open.clear();
    await Promise.all(dbs.map(async (p) => (await p.catch(() => null))?.close()));
  }
}

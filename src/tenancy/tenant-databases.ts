import path from "node:path";
import type { DatabaseTarget } from "../config/config.js";
import { migrate } from "../db/migrate.js";
import { databaseNameOf, ensurePgDatabase, PgDatabase, withDatabaseName } from "../db/pg-database.js";
import { PgliteDatabase } from "../db/pglite-database.js";
import type { Database, Sql } from "../db/sql.js";
import { AppError } from "../errors.js";

export interface TenantLocation {
  id: string;
  db_name: string | null;
  db_dsn: string | null;
}

/**
 * Routes a tenant id to that tenant's own database: a database per tenant on a real server
 * (created by the vault, or a DSN given for the tenant), a PGlite directory per tenant when embedded.
 * Each tenant database is opened once per process and migrated before first use.
 */
export class TenantDatabases {
  private readonly open = new Map<string, Promise<Database>>();

  constructor(
    private readonly control: Sql,
    private readonly target: DatabaseTarget,
    private readonly poolMax: number,
  ) {}

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
    const rows = await this.control.query<TenantLocation>("SELECT id, db_name, db_dsn FROM tenants WHERE id = $1", [tenantId]);
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
    if (loc.db_dsn) return new PgDatabase(loc.db_dsn, this.poolMax);
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

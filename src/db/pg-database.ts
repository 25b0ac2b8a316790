import pg from "pg";
import type { Database, Sql } from "./sql.js";

// Keep int8 (counts, sequence numbers) as JS numbers: every value we store fits in 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

class PgTransaction implements Sql {
  constructor(private readonly client: pg.PoolClient) {}
  async query<T>(text: string, params?: readonly unknown[]): Promise<T[]> {
    return (await this.client.query(text, params as unknown[])).rows as T[];
  }
  async exec(script: string): Promise<void> {
    await this.client.query(script);
  }
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    return fn(this);
  }
}

export class PgDatabase implements Database {
  readonly engine = "postgres" as const;
  private readonly pool: pg.Pool;

  constructor(url: string, max: number) {
    this.pool = new pg.Pool({ connectionString: url, max, idleTimeoutMillis: 30_000 });
    // An idle client that loses its connection must not crash the process; the next query reconnects.
    this.pool.on("error", () => {});
  }

  async query<T>(text: string, params?: readonly unknown[]): Promise<T[]> {
    return (await this.pool.query(text, params as unknown[])).rows as T[];
  }

  async exec(script: string): Promise<void> {
    await this.pool.query(script);
  }

  async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      const result = await fn(new PgTransaction(client));
      await client.query("COMMIT");
      return result;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** Same server, another database name: used to reach the maintenance db and tenant dbs. */
export function withDatabaseName(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(name)}`;
  return u.toString();
}

export function databaseNameOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, "")) || "postgres";
}

/** Creates the database if it is missing; CREATE DATABASE cannot run inside a transaction. */
export async function ensurePgDatabase(serverUrl: string, name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: withDatabaseName(serverUrl, "postgres") });
  await admin.connect();
  try {
    const found = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (found.rowCount === 0) {
      await admin.query(`CREATE DATABASE ${quoteIdent(name)}`).catch((err: { code?: string }) => {
        // 42P04 duplicate_database / 23505: another process created it between our check and create.
        if (err.code !== "42P04" && err.code !== "23505") throw err;
      });
    }
  } finally {
    await admin.end();
  }
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

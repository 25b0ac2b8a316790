import { createHash } from "node:crypto";
import pg from "pg";
import { CommitHooks, notInTransaction, type Database, type Sql } from "./sql.js";

// Keep int8 (counts, sequence numbers) as JS numbers: every value we store fits in 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

/**
 * Parameterized statements run as named prepared statements: each connection parses and plans one
 * once, then sends only Bind/Execute. On the decision path (a long INSERT ... CTE) that saves both
 * the SQL text on the wire and the server's parse and plan, about 10% of throughput. The set of
 * statement texts is fixed by the code; the cap only guards against a text built from data.
 */
const MAX_NAMED_STATEMENTS = 500;
const statementNames = new Map<string, string>();

function prepared(text: string, params: readonly unknown[] | undefined): pg.QueryConfig {
  if (!params || params.length === 0) return { text };
  let name = statementNames.get(text);
  if (!name && statementNames.size < MAX_NAMED_STATEMENTS) {
    name = `cs_${createHash("sha256").update(text).digest("hex").slice(0, 24)}`;
    statementNames.set(text, name);
  }
  return { name, text, values: params as unknown[] };
}

/** How long a pooled connection may sit unused before it is closed. */
const IDLE_TIMEOUT_MS = 10_000;

class PgTransaction implements Sql {
  constructor(
    private readonly client: pg.PoolClient,
    readonly hooks: CommitHooks,
  ) {}
  async query<T>(text: string, params?: readonly unknown[]): Promise<T[]> {
    return (await this.client.query(prepared(text, params))).rows as T[];
  }
  async exec(script: string): Promise<void> {
    await this.client.query(script);
  }
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    return fn(this);
  }
  onCommit(fn: () => void): void {
    this.hooks.add(fn);
  }
}

export class PgDatabase implements Database {
  readonly engine = "postgres" as const;
  private readonly pool: pg.Pool;

  constructor(url: string, max: number) {
    this.pool = new pg.Pool({
      connectionString: url,
      max,
      // An idle tenant gives its connections back to the server (see the budget in pool-budget.ts).
      idleTimeoutMillis: IDLE_TIMEOUT_MS,
      // Pipeline mode: statements issued together on one connection (the sequencer's independent
      // reads and writes inside its transaction) are written to the socket at once and answered in
      // order, in one round trip, instead of pg queueing each behind the previous one's answer. That
      // queueing is what pg warns about ("client.query() when the client is already executing a
      // query") and removes in pg@9. Each statement carries its own Sync, so one that fails does not
      // swallow the answers of the next: inside a transaction they fail like before (25P02).
      // Awaited one by one, as everywhere else, statements behave exactly as without it.
      pipeline: true,
    });
    // An idle client that loses its connection must not crash the process; the next query reconnects.
    this.pool.on("error", () => {});
  }

  async query<T>(text: string, params?: readonly unknown[]): Promise<T[]> {
    return (await this.pool.query(prepared(text, params))).rows as T[];
  }

  async exec(script: string): Promise<void> {
    await this.pool.query(script);
  }

  async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const hooks = new CommitHooks();
    let released = false;
    try {
      await client.query("BEGIN");
      const result = await fn(new PgTransaction(client, hooks));
      await client.query("COMMIT");
      client.release();
      released = true;
      hooks.run();
      return result;
    } catch (err) {
      if (!released) await client.query("ROLLBACK").catch(() => {});
      throw err;
    } finally {
      if (!released) client.release();
    }
  }

  onCommit(): void {
    notInTransaction();
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

import { mkdirSync } from "node:fs";
import { PGlite, type Transaction } from "@electric-sql/pglite";
import type { Database, Sql } from "./sql.js";

class PgliteTransaction implements Sql {
  constructor(private readonly tx: Transaction) {}
  async query<T>(text: string, params?: readonly unknown[]): Promise<T[]> {
    return (await this.tx.query<T>(text, params as unknown[])).rows;
  }
  async exec(script: string): Promise<void> {
    await this.tx.exec(script);
  }
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    return fn(this);
  }
}

/**
 * Embedded PostgreSQL (WASM). One session: transactions run one after another, so this engine
 * is for laptops and tests of behaviour, never for concurrency claims.
 */
export class PgliteDatabase implements Database {
  readonly engine = "pglite" as const;
  private constructor(private readonly db: PGlite) {}

  static async open(dataDir: string): Promise<PgliteDatabase> {
    if (dataDir !== "memory://") mkdirSync(dataDir, { recursive: true });
    const db = await PGlite.create(dataDir);
    return new PgliteDatabase(db);
  }

  async query<T>(text: string, params?: readonly unknown[]): Promise<T[]> {
    return (await this.db.query<T>(text, params as unknown[])).rows;
  }

  async exec(script: string): Promise<void> {
    await this.db.exec(script);
  }

  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    return this.db.transaction((tx) => fn(new PgliteTransaction(tx)));
  }

  async close(): Promise<void> {
    if (!this.db.closed) await this.db.close();
  }
}

/**
 * The one database port. Services take a Sql (the pool or an open transaction) as an argument,
 * so the same code runs on its own or inside a caller's transaction.
 */
export interface Sql {
  query<T = Record<string, any>>(text: string, params?: readonly unknown[]): Promise<T[]>;
  /** Runs a script of several statements with no parameters (migrations). */
  exec(script: string): Promise<void>;
  /** Runs fn in a transaction; inside a transaction it simply joins the outer one. */
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
}

export interface Database extends Sql {
  readonly engine: "postgres" | "pglite";
  close(): Promise<void>;
}

/** SQLSTATE of a PostgreSQL error (both drivers expose `.code`). */
export function sqlState(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err ? String((err as { code: unknown }).code) : undefined;
}

export const UNIQUE_VIOLATION = "23505";

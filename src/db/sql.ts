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
  /**
   * Runs fn once after this transaction commits, and never if it rolls back (as atproto ozone's
   * `db.onCommit`): waking waiters or telling a bus about a change that was never committed would
   * show clients a decision that does not exist. Outside a transaction there is nothing to wait
   * for, so it throws: effects that must follow a commit are always written inside one.
   */
  onCommit(fn: () => void): void;
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

/** The after-commit effects of one transaction; run in order, each isolated from the others' failures. */
export class CommitHooks {
  private readonly hooks: (() => void)[] = [];

  add(fn: () => void): void {
    this.hooks.push(fn);
  }

  /** Called once, after COMMIT succeeded. A failing effect must not turn a committed write into an error. */
  run(onError: (err: unknown) => void = () => {}): void {
    for (const fn of this.hooks.splice(0)) {
      try {
        fn();
      } catch (err) {
        onError(err);
      }
    }
  }
}

export function notInTransaction(): never {
  throw new Error("onCommit outside a transaction: write the change and its effects inside sql.transaction()");
}

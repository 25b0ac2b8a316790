/** Concurrency helpers of the key registry (src/tokens/key-registry.ts). */

/**
 * Runs `fn` so that every caller gets a run that started after it called: with none in flight one
 * starts; with one in flight, callers share one follow-up that starts when it ends (never joining a
 * run that may predate what they look for, never more than two queries at a time).
 */
export class FreshRuns {
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;
  constructor(private readonly fn: () => Promise<void>) {}

  run(): Promise<void> {
    if (this.next) return this.next;
    if (!this.running) return this.start();
    this.next = this.running
      .catch(() => {})
      .then(() => {
        this.next = undefined;
        return this.start();
      });
    return this.next;
  }

  private start(): Promise<void> {
    const run: Promise<void> = this.fn().finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run;
  }
}

/** A deadlock (40P01) or a duplicate kid (23505) from a concurrent writer: the transaction is worth one more try. */
export function isRaceError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "40P01" || code === "23505";
}

export async function retryOnce<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!isRaceError(err)) throw err;
    return fn();
  }
}

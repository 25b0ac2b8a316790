import type { Sql } from "./sql.js";

/**
 * Group commit: units of work that arrive together for one database share ONE transaction, the way
 * PostgreSQL's own WAL group commit and Tessera's batching share a flush. Under many concurrent
 * clients a commit (its round trips and its fsync) costs far more than the statements in it, so
 * paying it once for a batch is most of the decision path's throughput.
 *
 * - A batch is flushed when `max` units wait, or `waitMs` after its first unit arrived.
 * - A unit's promise settles only after its batch committed: nothing is acknowledged before it is
 *   durable, and its onCommit effects (waking waiters) run after that commit like any other.
 * - A unit that fails rolls its batch back; then every unit of that batch runs again in a
 *   transaction of its own, so the failure reaches only the unit that caused it. Units must therefore
 *   be re-runnable: database work only, with anything signed or random prepared before.
 * - Units with the same key (one request) run one after another inside a batch, each seeing the
 *   previous one's writes; units with different keys are sent together (pipelined on PostgreSQL).
 *   PGlite runs every unit one after another: it has one session.
 */
export interface GroupCommitSettings {
  max: number;
  waitMs: number;
  /** Batches of this database committing at once; further units wait and form the next batch. */
  maxInFlight: number;
  /** PGlite: one session, so the units of a batch run strictly in turn. */
  sequential: boolean;
}

interface Unit {
  key: string;
  work: (tx: Sql) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/** Raised inside a batch's transaction to roll it back when one of its units failed. */
class BatchRolledBack extends Error {}

export interface GroupCommitObserver {
  /** After each batch: how many units it held, and whether it had to fall back to one commit each. */
  batch(size: number, fellBack: boolean): void;
}

export class GroupCommit {
  private pending: Unit[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;

  constructor(
    private readonly db: Sql,
    private readonly settings: GroupCommitSettings,
    private readonly observer?: GroupCommitObserver,
  ) {}

  /** Runs `work` inside a transaction shared with other units; resolves after that transaction committed. */
  run<T>(key: string, work: (tx: Sql) => Promise<T>): Promise<T> {
    if (this.settings.max <= 1) return this.db.transaction(work);
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ key, work, resolve: resolve as (v: unknown) => void, reject });
      if (this.pending.length >= this.settings.max) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.settings.waitMs);
    });
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0 || this.inFlight >= this.settings.maxInFlight) return;
    const batch = this.pending.splice(0, this.settings.max);
    this.inFlight++;
    void this.commit(batch).finally(() => {
      this.inFlight--;
      // Whatever arrived while this batch committed has waited long enough: it goes next.
      if (this.pending.length > 0) this.flush();
    });
  }

  private async commit(batch: Unit[]): Promise<void> {
    let results: unknown[];
    try {
      results = await this.db.transaction(async (tx) => {
        const settled = await this.runUnits(tx, batch);
        const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
        if (failed) throw batch.length === 1 ? failed.reason : new BatchRolledBack();
        return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value);
      });
    } catch (err) {
      if (batch.length === 1) {
        this.observer?.batch(1, false);
        batch[0]!.reject(err);
        return;
      }
      // The batch rolled back (a unit failed, or the commit itself): each unit gets a commit of its own.
      this.observer?.batch(batch.length, true);
      await Promise.all(batch.map((u) => this.db.transaction(u.work).then(u.resolve, u.reject)));
      return;
    }
    this.observer?.batch(batch.length, false);
    batch.forEach((u, i) => u.resolve(results[i]));
  }

  /** Same-key units in arrival order; different keys side by side (or all in turn on one session). */
  private async runUnits(tx: Sql, batch: Unit[]): Promise<PromiseSettledResult<unknown>[]> {
    if (this.settings.sequential) {
      const out: PromiseSettledResult<unknown>[] = [];
      for (const u of batch) out.push(await u.work(tx).then((value) => ({ status: "fulfilled" as const, value }), (reason) => ({ status: "rejected" as const, reason })));
      return out;
    }
    const lastOfKey = new Map<string, Promise<unknown>>();
    return Promise.allSettled(
      batch.map((u) => {
        const before = lastOfKey.get(u.key);
        const mine = before ? before.catch(() => {}).then(() => u.work(tx)) : u.work(tx);
        lastOfKey.set(u.key, mine);
        return mine;
      }),
    );
  }
}

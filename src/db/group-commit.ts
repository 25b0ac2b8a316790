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
 * - Units are started in key order, so batches that lock the same rows tend to lock them in one
 *   order; and a batch waits on a row lock at most `lockTimeoutMs` (SET LOCAL lock_timeout) before
 *   it gives up and falls back, so one unit stuck behind another transaction's lock holds the
 *   others of its batch for a bounded time. The fallback's own transactions wait as long as any.
 * - Only a unit's failure triggers the fallback. When BEGIN, the connection or COMMIT fails, every
 *   unit of the batch gets that error, as each would have with a commit of its own: a COMMIT whose
 *   outcome is unknown is never run a second time.
 */
export interface GroupCommitSettings {
  max: number;
  waitMs: number;
  /** Batches of this database committing at once; further units wait and form the next batch. */
  maxInFlight: number;
  /** PGlite: one session, so the units of a batch run strictly in turn. */
  sequential: boolean;
  /** The longest a batch waits for a row lock before it falls back to one transaction per unit. */
  lockTimeoutMs: number;
}

interface Unit {
  key: string;
  work: (tx: Sql) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/** Raised inside a batch's transaction to roll it back when one of its units failed. */
class BatchRolledBack extends Error {}

const byKey = (a: Unit, b: Unit) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

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

  private async commit(arrived: Unit[]): Promise<void> {
    // Stable: same-key units keep their arrival order.
    const batch = [...arrived].sort(byKey);
    let results: unknown[] | undefined;
    let fellBack = false;
    try {
      results = await this.db.transaction(async (tx) => {
        if (batch.length > 1 && !this.settings.sequential) await tx.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.floor(this.settings.lockTimeoutMs))}`);
        const settled = await this.runUnits(tx, batch);
        const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
        if (failed) throw batch.length === 1 ? failed.reason : new BatchRolledBack();
        return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value);
      });
    } catch (err) {
      if (!(err instanceof BatchRolledBack)) {
        for (const u of batch) u.reject(err);
      } else {
        // A unit failed and rolled the batch back: each unit gets a transaction of its own.
        fellBack = true;
        await this.fallBack(batch);
      }
    }
    if (results) batch.forEach((u, i) => u.resolve(results![i]));
    try {
      this.observer?.batch(batch.length, fellBack);
    } catch {
      /* metrics must never unsettle a commit */
    }
  }

  /** One transaction per unit: same-key units in turn, at most maxInFlight transactions at once. */
  private async fallBack(batch: Unit[]): Promise<void> {
    const chains = new Map<string, Unit[]>();
    for (const u of batch) chains.set(u.key, [...(chains.get(u.key) ?? []), u]);
    const queue = [...chains.values()];
    const worker = async () => {
      for (let chain = queue.shift(); chain; chain = queue.shift()) {
        for (const u of chain) await this.db.transaction(u.work).then(u.resolve, u.reject);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, this.settings.maxInFlight) }, worker));
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

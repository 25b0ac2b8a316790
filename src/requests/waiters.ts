/** Wakes HTTP handlers waiting on a request once its decision is committed in this process. */
export class DecisionWaiters {
  private readonly waiting = new Map<string, Set<() => void>>();

  /** Resolves true when notified, false when the budget runs out first. */
  wait(requestId: string, ms: number): Promise<boolean> {
    if (ms <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const set = this.waiting.get(requestId) ?? new Set();
      this.waiting.set(requestId, set);
      const wake = () => {
        clearTimeout(timer);
        done(true);
      };
      const done = (value: boolean) => {
        set.delete(wake);
        if (set.size === 0) this.waiting.delete(requestId);
        resolve(value);
      };
      const timer = setTimeout(() => done(false), ms);
      set.add(wake);
    });
  }

  notify(requestId: string): void {
    for (const wake of [...(this.waiting.get(requestId) ?? [])]) wake();
  }
}

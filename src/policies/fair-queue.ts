/**
 * Waiting work kept in one FIFO lane per key (the tenant), served in turns: each shift takes the head
 * of the first lane in turn and sends that lane to the back. One tenant with a thousand waiting tasks
 * therefore delays another tenant's next task by at most one task per other waiting tenant, where a
 * single FIFO would put it behind all thousand.
 *
 * Turn order is the Map's insertion order: a lane is re-inserted at the back after each shift, and a
 * lane that empties is deleted, so a key that comes back later joins at the back.
 */
export class FairQueue<T> {
  private readonly lanes = new Map<string, T[]>();
  private count = 0;

  /** Items waiting, over all keys. */
  get size(): number {
    return this.count;
  }

  /** Keys with at least one item waiting. */
  get keys(): number {
    return this.lanes.size;
  }

  sizeOf(key: string): number {
    return this.lanes.get(key)?.length ?? 0;
  }

  push(key: string, item: T): void {
    const lane = this.lanes.get(key);
    if (lane) lane.push(item);
    else this.lanes.set(key, [item]);
    this.count++;
  }

  /** The head of the first lane in turn whose key `eligible` accepts; that lane goes to the back. */
  shift(eligible: (key: string) => boolean = () => true): { key: string; item: T } | undefined {
    for (const [key, lane] of this.lanes) {
      if (!eligible(key)) continue;
      const item = lane.shift()!;
      this.count--;
      this.lanes.delete(key);
      if (lane.length > 0) this.lanes.set(key, lane);
      return { key, item };
    }
    return undefined;
  }

  /** Takes `item` out of its lane (its wait ran out); false when it is no longer waiting. */
  remove(key: string, item: T): boolean {
    const lane = this.lanes.get(key);
    const at = lane ? lane.indexOf(item) : -1;
    if (!lane || at < 0) return false;
    lane.splice(at, 1);
    this.count--;
    if (lane.length === 0) this.lanes.delete(key);
    return true;
  }

  /** Everything waiting, in no particular order; the queue is empty after. */
  drain(): T[] {
    const all = [...this.lanes.values()].flat();
    this.lanes.clear();
    this.count = 0;
    return all;
  }
}

import { nodeHash } from "../core/merkle.js";
import type { TileRef } from "../core/tiles.js";

/**
 * Recently used tiles with their inner nodes computed, per tenant. Full tiles never change and a
 * partial tile is keyed by its width, so an entry can never go stale. Bounded (LRU by insertion
 * refresh): each entry is at most 511 hashes, 16 KiB, so the default bound keeps it near 32 MiB.
 */
export class TileCache {
  private readonly entries = new Map<string, { hashes: readonly Uint8Array[]; levels?: Uint8Array[][] }>();

  constructor(private readonly maxEntries = 2048) {}

  private static key(scope: string, level: number, index: number, width: number): string {
    return `${scope}/${level}/${index}/${width}`;
  }

  /** Hashes of a cached tile (refreshing its place), or undefined. */
  get(scope: string, ref: TileRef): readonly Uint8Array[] | undefined {
    const key = TileCache.key(scope, ref.level, ref.index, ref.width);
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    this.entries.delete(key);
    this.entries.set(key, hit);
    return hit.hashes;
  }

  put(scope: string, ref: TileRef, hashes: readonly Uint8Array[]): void {
    const key = TileCache.key(scope, ref.level, ref.index, ref.width);
    if (this.entries.has(key)) return;
    this.entries.set(key, { hashes: hashes.slice(0, ref.width) });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  /** The tile's inner nodes, computed once per cached tile. */
  levels(scope: string, ref: TileRef, hashes: readonly Uint8Array[]): Uint8Array[][] {
    const entry = this.entries.get(TileCache.key(scope, ref.level, ref.index, ref.width));
    if (!entry) return tileLevels(hashes);
    entry.levels ??= tileLevels(entry.hashes);
    return entry.levels;
  }
}

/** A tile's perfect subtrees: levels[r][j] = MTH of hashes [j·2^r, (j+1)·2^r), for r = 0..8. */
export function tileLevels(hashes: readonly Uint8Array[]): Uint8Array[][] {
  const levels: Uint8Array[][] = [[...hashes]];
  for (let below = levels[0]!; below.length > 1; ) {
    const next: Uint8Array[] = [];
    for (let j = 0; j + 1 < below.length; j += 2) next.push(nodeHash(below[j]!, below[j + 1]!));
    levels.push(next);
    below = next;
  }
  return levels;
}

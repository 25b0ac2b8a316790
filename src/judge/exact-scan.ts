import type { ChunkSource } from "../policies/policy-chunks.js";

export interface ChunkMeta {
  id: string;
  policy_id: string;
  policy_version_id: string;
  source: ChunkSource;
  heading: string;
  text: string;
}

/** One policy version's unit vectors, packed row after row into one Float32Array for a fast scan. */
export interface PackedVectors {
  metas: ChunkMeta[];
  dims: number;
  matrix: Float32Array;
}

export function packVectors(rows: { meta: ChunkMeta; vector: Float32Array }[]): PackedVectors {
  const dims = rows[0]?.vector.length ?? 0;
  const kept = rows.filter((r) => r.vector.length === dims);
  const matrix = new Float32Array(kept.length * dims);
  kept.forEach((r, i) => matrix.set(r.vector, i * dims));
  return { metas: kept.map((r) => r.meta), dims, matrix };
}

/**
 * Exact cosine top-k over packed unit vectors (a dot product each). The inner loop is unrolled
 * four ways over one contiguous array, which is what keeps 10k x 512 within a few milliseconds.
 */
export function scanTopK(query: Float32Array, sets: PackedVectors[], k: number): { meta: ChunkMeta; score: number }[] {
  const best: { meta: ChunkMeta; score: number }[] = [];
  const dims = query.length;
  for (const set of sets) {
    if (set.dims !== dims) continue;
    const m = set.matrix;
    for (let row = 0, base = 0; row < set.metas.length; row++, base += dims) {
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      let d = 0;
      for (; d + 3 < dims; d += 4) {
        s0 += query[d]! * m[base + d]!;
        s1 += query[d + 1]! * m[base + d + 1]!;
        s2 += query[d + 2]! * m[base + d + 2]!;
        s3 += query[d + 3]! * m[base + d + 3]!;
      }
      for (; d < dims; d++) s0 += query[d]! * m[base + d]!;
      const score = s0 + s1 + s2 + s3;
      if (best.length === k && score <= best[k - 1]!.score) continue;
      // Insertion into a k-long sorted list: k is small (RETRIEVAL_TOP_K <= 50).
      let at = best.length;
      while (at > 0 && best[at - 1]!.score < score) at--;
      best.splice(at, 0, { meta: set.metas[row]!, score });
      if (best.length > k) best.pop();
    }
  }
  return best;
}

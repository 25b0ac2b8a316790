import type { Sql } from "../db/sql.js";
import { decodeVector, knowledgeGeneration, pgvectorVersionOf, vectorStorageOf } from "../policies/policy-chunks.js";
import type { EmbeddingProvider } from "../policies/embeddings/embedding-provider.js";
import { packVectors, scanTopK, type ChunkMeta, type PackedVectors } from "./exact-scan.js";

export interface RetrievedChunk extends ChunkMeta {
  /** Cosine similarity, -1..1 (1 = same direction). */
  score: number;
}

// Above this many candidate chunks the HNSW index is forced: the planner, costing the index scan
// at ef_search, otherwise prefers a full sort (measured 47 ms vs 6 ms at 10k chunks). Below it a
// btree lookup plus an exact sort is both cheaper and exact.
const HNSW_MIN_CANDIDATES = 1000;

// The exact scan keeps each searched version's vectors in memory; this bounds how many tenants'.
const MAX_CACHED_TENANTS = 200;

/** What a process knows about one tenant's chunks, valid while the knowledge generation holds. */
interface TenantKnowledge {
  generation: number;
  packed: Map<string, Promise<PackedVectors>>;
  counts?: Promise<Map<string, number>>;
}

/**
 * Finds the policy chunks nearest to a request, among the given policy versions only. pgvector
 * (HNSW, cosine) where the tenant database has it; otherwise an exact cosine scan in process over
 * vectors cached per policy version. Caches are dropped when the tenant's knowledge generation
 * (bumped with every chunk write, by any process) moves.
 */
export class PolicyRetriever {
  private readonly tenants = new Map<string, TenantKnowledge>();
  private readonly queryVectors = new Map<string, Float32Array>();

  constructor(
    readonly embeddings: EmbeddingProvider,
    readonly topK: number,
  ) {}

  /** `apiKey`: the tenant's own embedding key (its bundle's `embedding_api_key`), when it has one. */
  async retrieve(tenantId: string, sql: Sql, versionIds: string[], query: string, apiKey?: string): Promise<RetrievedChunk[]> {
    if (versionIds.length === 0) return [];
    const knowledge = await this.knowledge(tenantId, sql);
    // Policies without text (conditions only, as most tool policies are) have nothing to retrieve:
    // embedding the request first would cost the model's time (~100 ms for a long request on the
    // offline model) to find nothing.
    const counts = await this.chunkCounts(knowledge, sql);
    if (versionIds.every((id) => (counts.get(id) ?? 0) === 0)) return [];
    // A tenant paying for its own embeddings gets its own cache entries: its calls are made with its key.
    const vector = await this.embedQuery(query, apiKey ? { apiKey, scope: tenantId } : undefined);
    return (await vectorStorageOf(sql)) === "pgvector"
      ? this.searchPgvector(sql, knowledge, versionIds, vector)
      : this.searchExact(sql, knowledge, versionIds, vector);
  }

  /**
   * Identical requests (an agent retrying) reuse the query vector instead of running the model again.
   * `tenantKey`: embed with a tenant's own key, cached under that tenant only.
   */
  async embedQuery(query: string, tenantKey?: { apiKey: string; scope: string }): Promise<Float32Array> {
    const cacheKey = tenantKey ? `${tenantKey.scope}\0${query}` : query;
    const hit = this.queryVectors.get(cacheKey);
    if (hit) {
      // Least recently used goes first: a hit moves to the end.
      this.queryVectors.delete(cacheKey);
      this.queryVectors.set(cacheKey, hit);
      return hit;
    }
    const [vector] = (await this.embeddings.embed([query], tenantKey ? { apiKey: tenantKey.apiKey } : undefined)).vectors;
    if (this.queryVectors.size >= 1000) this.queryVectors.delete(this.queryVectors.keys().next().value!);
    this.queryVectors.set(cacheKey, vector!);
    return vector!;
  }

  private async searchPgvector(sql: Sql, knowledge: TenantKnowledge, versionIds: string[], vector: Float32Array): Promise<RetrievedChunk[]> {
    const dims = vector.length;
    const [major = 0, minor = 0] = await pgvectorVersionOf(sql);
    const counts = await this.chunkCounts(knowledge, sql);
    const candidates = versionIds.reduce((n, id) => n + (counts.get(id) ?? 0), 0);
    return sql.transaction(async (tx) => {
      if (candidates >= HNSW_MIN_CANDIDATES) await tx.query("SET LOCAL enable_sort = off");
      // A filtered HNSW scan keeps searching until k rows pass the filter (pgvector >= 0.8; older
      // versions may return fewer than k rows when the filter is selective).
      if (major > 0 || minor >= 8) await tx.query("SET LOCAL hnsw.iterative_scan = relaxed_order");
      await tx.query("SET LOCAL hnsw.ef_search = 100");
      const rows = await tx.query<RetrievedChunk & { distance: number }>(
        `SELECT id, policy_id, policy_version_id, source, heading, text, (embedding::vector(${dims})) <=> $1::vector(${dims}) AS distance
           FROM policy_chunks
          WHERE dimensions = ${dims} AND is_current AND embedding_model = $2 AND policy_version_id = ANY($3)
          ORDER BY (embedding::vector(${dims})) <=> $1::vector(${dims})
          LIMIT $4`,
        [JSON.stringify(Array.from(vector)), this.embeddings.model, versionIds, this.topK],
      );
      // relaxed_order may return neighbours slightly out of order; the answer is sorted exactly.
      return rows
        .map(({ distance, ...meta }) => ({ ...meta, score: 1 - Number(distance) }))
        .sort((a, b) => b.score - a.score);
    });
  }

  private async searchExact(sql: Sql, knowledge: TenantKnowledge, versionIds: string[], vector: Float32Array): Promise<RetrievedChunk[]> {
    const sets = await Promise.all(
      versionIds.map((versionId) => {
        let packed = knowledge.packed.get(versionId);
        if (!packed) {
          packed = this.loadVersion(sql, versionId);
          knowledge.packed.set(versionId, packed);
          packed.catch(() => knowledge.packed.delete(versionId));
        }
        return packed;
      }),
    );
    return scanTopK(vector, sets, this.topK).map(({ meta, score }) => ({ ...meta, score }));
  }

  private async knowledge(tenantId: string, sql: Sql): Promise<TenantKnowledge> {
    const generation = await knowledgeGeneration(sql);
    let knowledge = this.tenants.get(tenantId);
    if (!knowledge || knowledge.generation !== generation) knowledge = { generation, packed: new Map() };
    // Re-inserted on every use, so the first entry is the tenant idle longest: it goes when full.
    this.tenants.delete(tenantId);
    this.tenants.set(tenantId, knowledge);
    if (this.tenants.size > MAX_CACHED_TENANTS) this.tenants.delete(this.tenants.keys().next().value!);
    return knowledge;
  }

  /** Chunks per policy version, counted once per knowledge generation. */
  private chunkCounts(knowledge: TenantKnowledge, sql: Sql): Promise<Map<string, number>> {
    if (!knowledge.counts) {
      const counts = this.countChunks(sql);
      knowledge.counts = counts;
      // A failed count must not stay cached: the next request asks again.
      counts.catch(() => {
        if (knowledge.counts === counts) knowledge.counts = undefined;
      });
    }
    return knowledge.counts;
  }

  private async countChunks(sql: Sql): Promise<Map<string, number>> {
    const rows = await sql.query<{ policy_version_id: string; n: number }>(
      "SELECT policy_version_id, count(*)::int AS n FROM policy_chunks WHERE embedding_model = $1 GROUP BY policy_version_id",
      [this.embeddings.model],
    );
    return new Map(rows.map((r) => [r.policy_version_id, r.n]));
  }

  private async loadVersion(sql: Sql, versionId: string): Promise<PackedVectors> {
    const rows = await sql.query<ChunkMeta & { embedding: unknown }>(
      `SELECT id, policy_id, policy_version_id, source, heading, text, embedding FROM policy_chunks
        WHERE policy_version_id = $1 AND embedding_model = $2 AND is_current ORDER BY id`,
      [versionId, this.embeddings.model],
    );
    return packVectors(rows.map(({ embedding, ...meta }) => ({ meta, vector: decodeVector(embedding) })));
  }
}

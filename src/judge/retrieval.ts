import type { Sql } from "../db/sql.js";
import { decodeVector, knowledgeGeneration, pgvectorVersionOf, vectorStorageOf, type ChunkSource } from "../policies/policy-chunks.js";
import { dot, type EmbeddingProvider } from "./embeddings/embedding-provider.js";

export interface RetrievedChunk {
  id: string;
  policy_id: string;
  policy_version_id: string;
  source: ChunkSource;
  heading: string;
  text: string;
  /** Cosine similarity, -1..1 (1 = same direction). */
  score: number;
}

type ChunkMeta = Omit<RetrievedChunk, "score">;

/**
 * Finds the policy chunks nearest to a request, among the given policy versions only. pgvector
 * (HNSW, cosine) where the tenant database has it; otherwise an exact cosine scan in process over
 * vectors cached per policy version, reloaded when the tenant's knowledge generation moves.
 */
export class PolicyRetriever {
  private readonly exact = new Map<string, { generation: number; versions: Map<string, Promise<{ meta: ChunkMeta; vector: Float32Array }[]>> }>();
  private readonly queryVectors = new Map<string, Float32Array>();

  constructor(
    readonly embeddings: EmbeddingProvider,
    private readonly topK: number,
  ) {}

  async retrieve(tenantId: string, sql: Sql, versionIds: string[], query: string): Promise<RetrievedChunk[]> {
    if (versionIds.length === 0) return [];
    const vector = await this.embedQuery(query);
    return (await vectorStorageOf(sql)) === "pgvector"
      ? this.searchPgvector(sql, versionIds, vector)
      : this.searchExact(tenantId, sql, versionIds, vector);
  }

  /** Identical requests (an agent retrying) reuse the query vector instead of running the model again. */
  async embedQuery(query: string): Promise<Float32Array> {
    const hit = this.queryVectors.get(query);
    if (hit) return hit;
    const [vector] = (await this.embeddings.embed([query])).vectors;
    if (this.queryVectors.size >= 1000) this.queryVectors.delete(this.queryVectors.keys().next().value!);
    this.queryVectors.set(query, vector!);
    return vector!;
  }

  private async searchPgvector(sql: Sql, versionIds: string[], vector: Float32Array): Promise<RetrievedChunk[]> {
    const dims = vector.length;
    const [major = 0, minor = 0] = await pgvectorVersionOf(sql);
    return sql.transaction(async (tx) => {
      // A filtered HNSW scan keeps searching until k rows pass the filter (pgvector >= 0.8; older
      // versions may return fewer than k rows when the filter is selective).
      if (major > 0 || minor >= 8) await tx.query("SET LOCAL hnsw.iterative_scan = relaxed_order");
      await tx.query("SET LOCAL hnsw.ef_search = 100");
      const rows = await tx.query<RetrievedChunk & { distance: number }>(
        `SELECT id, policy_id, policy_version_id, source, heading, text, (embedding::vector(${dims})) <=> $1::vector(${dims}) AS distance
           FROM policy_chunks
          WHERE dimensions = ${dims} AND embedding_model = $2 AND policy_version_id = ANY($3)
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

  private async searchExact(tenantId: string, sql: Sql, versionIds: string[], vector: Float32Array): Promise<RetrievedChunk[]> {
    const cache = await this.exactCache(tenantId, sql);
    const best: RetrievedChunk[] = [];
    for (const versionId of versionIds) {
      let rows = cache.versions.get(versionId);
      if (!rows) {
        rows = this.loadVersion(sql, versionId);
        cache.versions.set(versionId, rows);
        rows.catch(() => cache.versions.delete(versionId));
      }
      for (const { meta, vector: v } of await rows) {
        if (v.length !== vector.length) continue;
        const score = dot(vector, v);
        if (best.length < this.topK || score > best[best.length - 1]!.score) {
          best.push({ ...meta, score });
          best.sort((a, b) => b.score - a.score);
          if (best.length > this.topK) best.pop();
        }
      }
    }
    return best;
  }

  private async exactCache(tenantId: string, sql: Sql) {
    const generation = await knowledgeGeneration(sql);
    let cache = this.exact.get(tenantId);
    if (!cache || cache.generation !== generation) {
      cache = { generation, versions: new Map() };
      this.exact.set(tenantId, cache);
    }
    return cache;
  }

  private async loadVersion(sql: Sql, versionId: string) {
    const rows = await sql.query<ChunkMeta & { embedding: unknown }>(
      `SELECT id, policy_id, policy_version_id, source, heading, text, embedding FROM policy_chunks
        WHERE policy_version_id = $1 AND embedding_model = $2`,
      [versionId, this.embeddings.model],
    );
    return rows.map(({ embedding, ...meta }) => ({ meta, vector: decodeVector(embedding) }));
  }
}

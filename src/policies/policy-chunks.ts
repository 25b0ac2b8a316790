import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import type { Embedded, EmbeddingProvider } from "./embeddings/embedding-provider.js";
import { newId } from "../tenancy/ids.js";
import { sha256Hex } from "../tokens/canonical-json.js";

export type ChunkSource = "description" | "rule" | "document";

/** A chunk of one policy version, before embedding. */
export interface NewChunk {
  policyId: string;
  source: ChunkSource;
  documentId: string | null;
  ordinal: number;
  heading: string;
  text: string;
}

export interface EmbeddedChunk extends NewChunk {
  textHash: string;
  model: string;
  vector: Float32Array;
}

/** How this tenant database stores vectors: pgvector where the server has it, else bytea + exact scan. */
export type VectorStorage = "pgvector" | "exact";

const storageBySql = new WeakMap<Sql, Promise<VectorStorage>>();

export function vectorStorageOf(sql: Sql): Promise<VectorStorage> {
  let known = storageBySql.get(sql);
  if (!known) {
    known = sql
      .query<{ type: string }>(
        `SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute
          WHERE attrelid = 'policy_chunks'::regclass AND attname = 'embedding'`,
      )
      .then((rows) => (rows[0]?.type === "vector" ? "pgvector" : "exact"));
    known.catch(() => storageBySql.delete(sql));
    storageBySql.set(sql, known);
  }
  return known;
}

const pgvectorVersionBySql = new WeakMap<Sql, Promise<number[]>>();

/** The installed pgvector version as [major, minor, patch]: iterative index scans need 0.8. */
export function pgvectorVersionOf(sql: Sql): Promise<number[]> {
  let known = pgvectorVersionBySql.get(sql);
  if (!known) {
    known = sql
      .query<{ v: string }>("SELECT extversion AS v FROM pg_extension WHERE extname = 'vector'")
      .then((rows) => (rows[0]?.v ?? "0").split(".").map(Number));
    known.catch(() => pgvectorVersionBySql.delete(sql));
    pgvectorVersionBySql.set(sql, known);
  }
  return known;
}

export function encodeVector(storage: VectorStorage, v: Float32Array): string | Buffer {
  // pgvector takes its text form; the exact scan keeps raw little-endian float32.
  return storage === "pgvector" ? JSON.stringify(Array.from(v)) : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

export function decodeVector(raw: unknown): Float32Array {
  if (typeof raw === "string") return Float32Array.from(JSON.parse(raw) as number[]);
  const bytes = raw as Uint8Array;
  // Copy: the driver's buffer may not be 4-byte aligned.
  return new Float32Array(Uint8Array.from(bytes).buffer);
}

/** The text that is embedded: the heading gives a short chunk the context it was written in. */
export const embeddedText = (c: Pick<NewChunk, "heading" | "text">) => (c.heading ? `${c.heading}\n\n${c.text}` : c.text);

/**
 * Embeds chunks, reusing the vector of any identical text already embedded with the same model
 * (re-registering a policy with one changed rule embeds one rule, not the whole policy).
 */
export async function embedChunks(sql: Sql, embeddings: EmbeddingProvider, chunks: NewChunk[]): Promise<EmbeddedChunk[]> {
  if (chunks.length === 0) return [];
  const texts = chunks.map(embeddedText);
  const hashes = texts.map((t) => sha256Hex(t));
  const known = new Map<string, { model: string; vector: Float32Array }>();
  const rows = await sql.query<{ text_hash: string; embedding_model: string; embedding: unknown }>(
    `SELECT DISTINCT ON (text_hash) text_hash, embedding_model, embedding FROM policy_chunks
      WHERE embedding_model = $1 AND text_hash = ANY($2)`,
    [embeddings.model, [...new Set(hashes)]],
  );
  for (const r of rows) known.set(r.text_hash, { model: r.embedding_model, vector: decodeVector(r.embedding) });
  const missing = [...new Set(hashes.filter((h) => !known.has(h)))];
  if (missing.length > 0) {
    const textOf = new Map(hashes.map((h, i) => [h, texts[i]!]));
    let fresh: Embedded;
    try {
      fresh = await embeddings.embed(missing.map((h) => textOf.get(h)!));
    } catch (err) {
      // Nothing has been written yet: the caller can simply retry.
      throw new AppError("embedding_unavailable", `Policy text could not be embedded: ${(err as Error).message}`, { retryAfterSeconds: 5 });
    }
    missing.forEach((h, i) => known.set(h, { model: fresh.model, vector: fresh.vectors[i]! }));
  }
  return chunks.map((c, i) => ({ ...c, textHash: hashes[i]!, ...known.get(hashes[i]!)! }));
}

const ROWS_PER_INSERT = 200;

export async function insertChunks(tx: Sql, versionId: string, chunks: EmbeddedChunk[]): Promise<void> {
  const storage = await vectorStorageOf(tx);
  const cast = storage === "pgvector" ? "::vector" : "";
  for (let i = 0; i < chunks.length; i += ROWS_PER_INSERT) {
    const batch = chunks.slice(i, i + ROWS_PER_INSERT);
    const params: unknown[] = [];
    const tuples = batch.map((c) => {
      const values = [newId("chk"), c.policyId, versionId, c.source, c.documentId, c.ordinal, c.heading, c.text, c.textHash, c.model, c.vector.length];
      const base = params.length;
      params.push(...values, encodeVector(storage, c.vector));
      return `(${values.map((_, j) => `$${base + j + 1}`).join(", ")}, $${base + values.length + 1}${cast})`;
    });
    await tx.query(
      `INSERT INTO policy_chunks (id, policy_id, policy_version_id, source, document_id, ordinal, heading, text, text_hash,
         embedding_model, dimensions, embedding) VALUES ${tuples.join(", ")}`,
      params,
    );
  }
  if (chunks.length > 0) await bumpKnowledgeGeneration(tx);
}

/**
 * A new version keeps chunks of the previous one that did not change (new rows with the same text
 * and vectors), so each version's evidence stands on its own.
 */
export async function copyChunks(
  tx: Sql,
  fromVersionId: string,
  toVersionId: string,
  keep: { sources: ChunkSource[]; exceptDocumentId?: string },
): Promise<number> {
  const rows = await tx.query(
    `INSERT INTO policy_chunks (id, policy_id, policy_version_id, source, document_id, ordinal, heading, text, text_hash,
       embedding_model, dimensions, embedding)
     SELECT 'chk_' || gen_random_uuid(), policy_id, $2, source, document_id, ordinal, heading, text,
            text_hash, embedding_model, dimensions, embedding
       FROM policy_chunks
      WHERE policy_version_id = $1 AND source = ANY($3) AND ($4::text IS NULL OR document_id IS NULL OR document_id <> $4)
     RETURNING id`,
    [fromVersionId, toVersionId, keep.sources, keep.exceptDocumentId ?? null],
  );
  if (rows.length > 0) await bumpKnowledgeGeneration(tx);
  return rows.length;
}

/** A new version is about to become current: the chunks of every older one leave the search index. */
export async function retireChunks(tx: Sql, policyId: string): Promise<void> {
  await tx.query("UPDATE policy_chunks SET is_current = false WHERE policy_id = $1 AND is_current", [policyId]);
}

export async function bumpKnowledgeGeneration(tx: Sql): Promise<void> {
  await tx.query("UPDATE knowledge_generation SET generation = generation + 1");
}

export async function knowledgeGeneration(sql: Sql): Promise<number> {
  return Number((await sql.query<{ generation: string }>("SELECT generation FROM knowledge_generation"))[0]?.generation ?? 0);
}

// pgvector cannot build an HNSW index over vectors of more than 2,000 dimensions.
const MAX_INDEXED_DIMENSIONS = 2000;
const indexedBySql = new WeakMap<Sql, Set<number>>();

/**
 * One HNSW cosine index per embedding dimension, as a partial expression index: the column holds
 * vectors of any dimension (a model change must not need a schema change), the index one kind.
 * Returns false when no index can serve this dimension (exact storage, or too many dimensions).
 */
export async function ensureVectorIndex(sql: Sql, dimensions: number): Promise<boolean> {
  if (!Number.isInteger(dimensions) || dimensions < 1) throw new Error(`invalid dimension ${dimensions}`);
  if ((await vectorStorageOf(sql)) !== "pgvector" || dimensions > MAX_INDEXED_DIMENSIONS) return false;
  const done = indexedBySql.get(sql) ?? new Set<number>();
  indexedBySql.set(sql, done);
  if (done.has(dimensions)) return true;
  await sql.transaction(async (tx) => {
    // CREATE INDEX IF NOT EXISTS is not safe against a concurrent twin; the lock makes it so.
    await tx.query("SELECT pg_advisory_xact_lock(hashtext('policy_chunks_vector_index'))");
    await tx.exec(
      `CREATE INDEX IF NOT EXISTS policy_chunks_hnsw_${dimensions} ON policy_chunks
         USING hnsw ((embedding::vector(${dimensions})) vector_cosine_ops) WHERE dimensions = ${dimensions} AND is_current`,
    );
  });
  done.add(dimensions);
  return true;
}

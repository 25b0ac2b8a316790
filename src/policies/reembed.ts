import type { Sql } from "../db/sql.js";
import type { EmbeddingProvider } from "./embeddings/embedding-provider.js";
import { bumpKnowledgeGeneration, embeddedText, encodeVector, ensureVectorIndex, vectorStorageOf } from "./policy-chunks.js";

const BATCH = 64;

export async function countStaleChunks(sql: Sql, model: string): Promise<number> {
  return (await sql.query<{ n: number }>("SELECT count(DISTINCT text_hash)::int AS n FROM policy_chunks WHERE embedding_model <> $1", [model]))[0]!.n;
}

/**
 * Re-embeds every chunk whose model is not the configured one, one distinct text at a time (a
 * text shared by several versions is embedded once). Each batch commits on its own, so an
 * interrupted run resumes where it stopped.
 */
export async function reembedChunks(sql: Sql, embeddings: EmbeddingProvider, onProgress: (done: number) => void): Promise<{ texts: number; dimensions: number | null }> {
  const storage = await vectorStorageOf(sql);
  const cast = storage === "pgvector" ? "::vector" : "";
  let done = 0;
  let dimensions: number | null = null;
  for (;;) {
    const texts = await sql.query<{ text_hash: string; heading: string; text: string }>(
      `SELECT DISTINCT ON (text_hash) text_hash, heading, text FROM policy_chunks WHERE embedding_model <> $1 ORDER BY text_hash LIMIT ${BATCH}`,
      [embeddings.model],
    );
    if (texts.length === 0) break;
    const embedded = await embeddings.embed(texts.map(embeddedText));
    // Rows are selected by the configured name; labelling them otherwise would never finish.
    if (embedded.model !== embeddings.model) throw new Error(`provider answered with model ${embedded.model}, not ${embeddings.model}`);
    await sql.transaction(async (tx) => {
      for (const [i, t] of texts.entries()) {
        const vector = embedded.vectors[i]!;
        await tx.query(
          `UPDATE policy_chunks SET embedding = $1${cast}, embedding_model = $2, dimensions = $3 WHERE text_hash = $4 AND embedding_model <> $2`,
          [encodeVector(storage, vector), embedded.model, vector.length, t.text_hash],
        );
      }
      await bumpKnowledgeGeneration(tx);
    });
    dimensions = embedded.vectors[0]!.length;
    done += texts.length;
    onProgress(done);
  }
  if (dimensions) await ensureVectorIndex(sql, dimensions);
  return { texts: done, dimensions };
}

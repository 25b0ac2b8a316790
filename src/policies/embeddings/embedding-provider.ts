/**
 * Turns text into vectors. Every provider returns unit-length vectors, so cosine similarity is a
 * dot product in the exact scan and pgvector's cosine distance ranks them the same way.
 */
export interface EmbeddingProvider {
  /** The configured model, recorded with every chunk; a change of model is detected by comparing it. */
  readonly model: string;
  embed(texts: string[], opts?: EmbedOptions): Promise<Embedded>;
}

export interface EmbedOptions {
  /**
   * The key to send on this call instead of the provider's own (a tenant's bundle's
   * `embedding_api_key`, so its calls are billed to and limited by its account). Only providers
   * that send a key use it; the offline model needs none.
   */
  apiKey?: string;
}

/** The vectors and the model that really produced them (a remote judge may use another model). */
export interface Embedded {
  model: string;
  vectors: Float32Array[];
}

export class EmbeddingUnavailableError extends Error {}

export function normalize(values: ArrayLike<number>): Float32Array {
  const v = Float32Array.from(values);
  let norm = 0;
  for (let i = 0; i < v.length; i++) norm += v[i]! * v[i]!;
  norm = Math.sqrt(norm);
  if (!Number.isFinite(norm) || norm === 0) throw new EmbeddingUnavailableError("embedding model returned a zero or non-finite vector");
  for (let i = 0; i < v.length; i++) v[i]! /= norm;
  return v;
}

export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Splits work into batches so one huge document never becomes one huge provider call. */
export async function embedInBatches(texts: string[], size: number, embedBatch: (batch: string[]) => Promise<Float32Array[]>): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let i = 0; i < texts.length; i += size) {
    const batch = texts.slice(i, i + size);
    const vectors = await embedBatch(batch);
    if (vectors.length !== batch.length) throw new EmbeddingUnavailableError(`embedding provider returned ${vectors.length} vectors for ${batch.length} texts`);
    out.push(...vectors);
  }
  const dims = out[0]?.length;
  if (out.some((v) => v.length !== dims)) throw new EmbeddingUnavailableError("embedding provider returned vectors of different dimensions");
  return out;
}

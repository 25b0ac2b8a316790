import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import type { EmbeddingProvider } from "./embeddings/embedding-provider.js";
import { newId } from "../tenancy/ids.js";
import { sha256Hex } from "../tokens/canonical-json.js";
import { copyChunks, embedChunks, ensureVectorIndex, insertChunks } from "./policy-chunks.js";
import { insertVersion, lockCurrentVersion, readCurrentVersion, type CurrentVersion } from "./policy-store.js";
import { documentChunks, versionContent, type DocumentRef } from "./policy-text.js";
import { isRetired } from "./policy-status.js";

export interface NewDocument {
  title: string;
  media_type: DocumentRef["media_type"];
  content: string;
}

export interface DocumentChange {
  /** `unchanged`: the same document (title, type and text) is already attached; nothing was written. */
  status: "registered" | "unchanged";
  policy_id: string;
  document_id: string;
  policy_version_id: string;
  policy_content_hash: string;
  version: number;
  chunks: number;
  embedding_model: string | null;
}

const MAX_CHUNKS_PER_DOCUMENT = 2000;

function requireCurrent(current: CurrentVersion | undefined, policyId: string): CurrentVersion {
  if (!current) throw new AppError("policy_not_found", `No policy ${policyId}; register it before attaching documents`);
  return current;
}

/** Changing a retired policy's documents would make versions that nobody can see decide: refused until it is registered again. */
function requireActive(current: CurrentVersion | undefined, policyId: string): CurrentVersion {
  const found = requireCurrent(current, policyId);
  if (isRetired(found.content)) {
    throw new AppError("policy_retired", `Policy ${policyId} is retired; register it again (POST /register-policy) before changing its documents`);
  }
  return found;
}

/**
 * Attaches a document to a policy as a NEW version: the version's content hash then commits to the
 * document, so a decision's policy_content_hash pins exactly which text it was judged against.
 */
export async function addPolicyDocument(sql: Sql, embeddings: EmbeddingProvider, policyId: string, doc: NewDocument): Promise<DocumentChange> {
  const documentId = newId("doc");
  const chunks = documentChunks(policyId, documentId, doc, doc.content);
  if (chunks.length === 0) throw new AppError("validation_failed", "The document has no text to index");
  if (chunks.length > MAX_CHUNKS_PER_DOCUMENT) {
    throw new AppError("validation_failed", `The document splits into ${chunks.length} chunks; the limit is ${MAX_CHUNKS_PER_DOCUMENT}`);
  }
  const ref: DocumentRef = { document_id: documentId, title: doc.title, media_type: doc.media_type, content_hash: `sha256:${sha256Hex(doc.content)}` };
  // A retried upload (a client that timed out while this one was embedding) attaches nothing new;
  // checked before embedding to save the work, and again under the lock to be sure.
  const before = requireActive(await readCurrentVersion(sql, policyId), policyId);
  const known = await alreadyAttached(sql, before, ref);
  if (known) return known;
  const embedded = await embedChunks(sql, embeddings, chunks);
  const change = await sql.transaction(async (tx) => {
    const current = requireActive(await lockCurrentVersion(tx, policyId), policyId);
    const again = await alreadyAttached(tx, current, ref);
    if (again) return again;
    await tx.query("INSERT INTO policy_documents (id, policy_id, title, media_type, content, content_hash) VALUES ($1, $2, $3, $4, $5, $6)", [
      documentId, policyId, ref.title, ref.media_type, doc.content, ref.content_hash,
    ]);
    const registered = await insertVersion(tx, versionContent(current.content, [...(current.content.documents ?? []), ref]), current);
    await copyChunks(tx, current.id, registered.policy_version_id, { sources: ["description", "rule", "document"] });
    await insertChunks(tx, registered.policy_version_id, embedded);
    return { ...summary(registered, documentId, embedded.length), status: "registered" as const, embedding_model: embedded[0]!.model };
  });
  if (change.status === "registered") await ensureVectorIndex(sql, embedded[0]!.vector.length);
  return change;
}

/** The answer for a document whose title, type and text the current version already holds. */
async function alreadyAttached(sql: Sql, current: CurrentVersion, ref: DocumentRef): Promise<DocumentChange | null> {
  const same = (current.content.documents ?? []).find(
    (r) => r.content_hash === ref.content_hash && r.title === ref.title && r.media_type === ref.media_type,
  );
  if (!same) return null;
  const rows = await sql.query<{ chunks: number; model: string | null }>(
    "SELECT count(*)::int AS chunks, min(embedding_model) AS model FROM policy_chunks WHERE policy_version_id = $1 AND document_id = $2",
    [current.id, same.document_id],
  );
  const version = { policy_id: current.content.policy_id, policy_version_id: current.id, policy_content_hash: current.content_hash, version: current.version };
  return { ...summary(version, same.document_id, rows[0]?.chunks ?? 0), status: "unchanged", embedding_model: rows[0]?.model ?? null };
}

/** Detaches a document: a new version without it. Older versions (and their evidence) keep it. */
export async function removePolicyDocument(sql: Sql, policyId: string, documentId: string): Promise<DocumentChange> {
  return sql.transaction(async (tx) => {
    const current = requireActive(await lockCurrentVersion(tx, policyId), policyId);
    const refs = current.content.documents ?? [];
    if (!refs.some((r) => r.document_id === documentId)) {
      throw new AppError("document_not_found", `Policy ${policyId} has no document ${documentId}`);
    }
    const registered = await insertVersion(tx, versionContent(current.content, refs.filter((r) => r.document_id !== documentId)), current);
    await copyChunks(tx, current.id, registered.policy_version_id, { sources: ["description", "rule", "document"], exceptDocumentId: documentId });
    return { ...summary(registered, documentId, 0), status: "registered", embedding_model: null };
  });
}

/** The documents of the current version, with how many chunks each has there. */
export async function listPolicyDocuments(sql: Sql, policyId: string) {
  const current = requireCurrent(await readCurrentVersion(sql, policyId), policyId);
  const counts = await sql.query<{ document_id: string; chunks: number }>(
    "SELECT document_id, count(*)::int AS chunks FROM policy_chunks WHERE policy_version_id = $1 AND source = 'document' GROUP BY document_id",
    [current.id],
  );
  const chunksOf = new Map(counts.map((c) => [c.document_id, c.chunks]));
  const documents = (current.content.documents ?? []).map((r) => ({ ...r, chunks: chunksOf.get(r.document_id) ?? 0 }));
  return { policy_id: policyId, policy_version_id: current.id, documents };
}

function summary(v: { policy_id: string; policy_version_id: string; policy_content_hash: string; version: number }, documentId: string, chunks: number) {
  return { policy_id: v.policy_id, document_id: documentId, policy_version_id: v.policy_version_id, policy_content_hash: v.policy_content_hash, version: v.version, chunks };
}

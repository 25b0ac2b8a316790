import { chunkMarkdown, chunkPlainText, defaultChunkOptions } from "./chunker.js";
import type { NewChunk } from "./policy-chunks.js";
import type { PolicyDocument } from "./policy-schema.js";

/** What a policy version commits to about an uploaded document (the text itself is stored once). */
export interface DocumentRef {
  document_id: string;
  title: string;
  media_type: "text/markdown" | "text/plain";
  content_hash: string;
}

/** The content of a policy version: the registered document plus the documents attached to it. */
export type PolicyContent = PolicyDocument & { documents?: DocumentRef[] };

/** Documents join the hashed content only when there are some, so older hashes stay valid. */
export function versionContent(doc: PolicyDocument, documents: DocumentRef[]): PolicyContent {
  const { documents: _ignored, ...rest } = doc as PolicyContent;
  return documents.length > 0 ? { ...rest, documents } : rest;
}

/** The searchable text a registration carries: the description (as markdown) and each rule. */
export function policyTextChunks(doc: PolicyDocument): NewChunk[] {
  const description = doc.description.trim() ? chunkMarkdown(doc.description, doc.policy_id) : [];
  const rules = doc.rules.flatMap((rule, i) => chunkPlainText(rule, `${doc.policy_id} › Rule ${i + 1}`, defaultChunkOptions));
  return [
    ...description.map((c, ordinal) => ({ policyId: doc.policy_id, source: "description" as const, documentId: null, ordinal, ...c })),
    ...rules.map((c, ordinal) => ({ policyId: doc.policy_id, source: "rule" as const, documentId: null, ordinal, ...c })),
  ];
}

export function documentChunks(policyId: string, documentId: string, ref: Pick<DocumentRef, "title" | "media_type">, content: string): NewChunk[] {
  const chunks = ref.media_type === "text/markdown" ? chunkMarkdown(content, ref.title) : chunkPlainText(content, ref.title);
  return chunks.map((c, ordinal) => ({ policyId, source: "document" as const, documentId, ordinal, ...c }));
}

import type { JsonObject } from "./event-hash.js";
import { toHex, utf8 } from "./bytes.js";
import { sha256 } from "./crypto.js";
import { jcs } from "./jcs.js";
import type { PasskeyCommitmentInput } from "./passkey-commitment.js";

/**
 * The evidence chunk a passkey-signed vote puts in its ledger event (review.vote or review.approved),
 * and what verifiers read back from it. It holds the assertion as the authenticator produced it
 * (base64url), the enrolment event whose committed public key verifies it, and the committed
 * fields an auditor needs, beside the event's own request_id and tool_name, to recompute the
 * challenge (passkey-commitment.ts): the argument hash signed and the policy version.
 *
 * Every key is one lowercase word (see agentIdentityChunk in ledger-event.ts): the SDK camelCases
 * evidence chunk keys before hashing, and single words leave the chunk, and so the event hash, unchanged.
 */
export interface PasskeyChunk {
  type: "passkey";
  /** base64url credential id. */
  credential: string;
  /** event_uuid of the vault.audit passkey.enrolled event of that credential. */
  enrolment: string;
  /** The voter (reviewer id) the credential is enrolled to. */
  reviewer: string;
  /** base64url authenticatorData, clientDataJSON and signature, as signed. */
  authenticator: string;
  client: string;
  signature: string;
  /** The challenge (the commitment), lowercase hex. */
  commitment: string;
  /** The tool_args_hash committed to (the edited arguments' when the vote edited them). */
  argshash: string;
  /** The request's policy_version_id as committed ("" for none). */
  policyversion: string;
  /** The grant committed to, if the vote created one. */
  grant?: { scope: string; window: number | null; constraint: string | null };
}

export function passkeyChunkJson(chunk: PasskeyChunk): JsonObject {
  return { ...chunk } as unknown as JsonObject;
}

const str = (v: unknown): v is string => typeof v === "string";

/** The chunk if `value` is a well-formed passkey chunk; undefined for any other chunk. Never throws. */
export function passkeyChunkOf(value: unknown): PasskeyChunk | undefined {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  const c = value as Record<string, unknown>;
  if (c.type !== "passkey") return undefined;
  const fields = [c.credential, c.enrolment, c.reviewer, c.authenticator, c.client, c.signature, c.commitment, c.argshash, c.policyversion];
  if (!fields.every(str)) return undefined;
  let grant: PasskeyChunk["grant"];
  if (c.grant !== undefined) {
    const g = c.grant as Record<string, unknown> | null;
    if (g === null || typeof g !== "object" || Array.isArray(g) || !str(g.scope)) return undefined;
    if (g.window !== null && typeof g.window !== "number") return undefined;
    if (g.constraint !== null && !str(g.constraint)) return undefined;
    grant = { scope: g.scope, window: g.window as number | null, constraint: g.constraint as string | null };
  }
  const chunk: PasskeyChunk = {
    type: "passkey",
    credential: c.credential as string,
    enrolment: c.enrolment as string,
    reviewer: c.reviewer as string,
    authenticator: c.authenticator as string,
    client: c.client as string,
    signature: c.signature as string,
    commitment: c.commitment as string,
    argshash: c.argshash as string,
    policyversion: c.policyversion as string,
  };
  if (grant) chunk.grant = grant;
  return chunk;
}

/** Every passkey chunk of an event's evidence. */
export function passkeyChunksOf(chunks: readonly unknown[]): PasskeyChunk[] {
  return chunks.map(passkeyChunkOf).filter((c): c is PasskeyChunk => c !== undefined);
}

/**
 * The token's `approvals[].assertion_digest`: hex SHA-256 of JCS({authenticator, client, signature}).
 * A consumer holding the token and the bundle matches each approval to its recorded assertion.
 */
export function assertionDigest(chunk: Pick<PasskeyChunk, "authenticator" | "client" | "signature">): string {
  return toHex(sha256(utf8(jcs({ authenticator: chunk.authenticator, client: chunk.client, signature: chunk.signature }))));
}

/** The commitment input the chunk and its event say was signed. */
export function commitmentInputOf(chunk: PasskeyChunk, event: { request_id: string; tool_name: string }): PasskeyCommitmentInput {
  const input: PasskeyCommitmentInput = { request_id: event.request_id, tool: event.tool_name, tool_args_hash: chunk.argshash, policy_version_id: chunk.policyversion };
  if (chunk.grant) input.grant = { scope: chunk.grant.scope, window_minutes: chunk.grant.window, constraint: chunk.grant.constraint };
  return input;
}

import { z } from "zod";
import type { Sql } from "../db/sql.js";
import type { ClearanceRequest } from "../requests/clearance-request.js";
import { quorum, rulesOf, type QuorumProgress, type Vote } from "../requests/review-rules.js";
import { DECIDED_BY, type ReviewFilter } from "../requests/store/review-listing.js";

/** The votes behind GET /reviews and GET /reviews/{id} (the review_decisions table is the reviews module's own). */

export interface StoredVote extends Vote {
  reviewer_name: string;
  reviewer_email: string;
  reason: string;
  created_at: Date;
}

export type { DecidedBy, ReviewFilter, ReviewStatusFilter } from "../requests/store/review-listing.js";

/**
 * GET /reviews?decided_by=: `review` (the default, and all there was before) lists requests that
 * went to review; `automatic` those the policy's conditions or the judge decided alone; `any` both.
 * The route's query schema takes this field as is.
 */
export const decidedByQuery = z.enum(DECIDED_BY).default("review");

export async function votesFor(sql: Sql, requestIds: string[]): Promise<Map<string, StoredVote[]>> {
  const byRequest = new Map<string, StoredVote[]>();
  if (requestIds.length === 0) return byRequest;
  const rows = await sql.query<StoredVote & { request_id: string }>(
    `SELECT request_id, COALESCE(reviewer_id, api_key_id) AS reviewer_id, reviewer_name, reviewer_email, groups, approved, reason, created_at
       FROM review_decisions WHERE request_id = ANY($1) ORDER BY created_at`,
    [requestIds],
  );
  for (const r of rows) byRequest.set(r.request_id, [...(byRequest.get(r.request_id) ?? []), r]);
  return byRequest;
}

/** A vote as the detail page shows it: with the key it came through, and whether a person stood behind that key. */
export interface RecordedVote extends StoredVote {
  api_key_id: string;
  scope: string;
  /** False for a key with no reviewer identity (an admin key, an unattached reviewer key) and for votes older than identities. */
  has_identity: boolean;
  /** The base64url credential id of the passkey that signed the vote (issue 17), null when none did. */
  passkey_credential: string | null;
}

export async function recordedVotesFor(sql: Sql, requestId: string): Promise<RecordedVote[]> {
  return sql.query<RecordedVote>(
    // A key with no reviewer identity votes as itself (tenancy/reviewers.ts voterOf): its id is then the reviewer_id.
    `SELECT COALESCE(reviewer_id, api_key_id) AS reviewer_id, COALESCE(reviewer_id <> api_key_id, false) AS has_identity, api_key_id, scope,
            reviewer_name, reviewer_email, groups, approved, reason, created_at, passkey->'chunk'->>'credential' AS passkey_credential
       FROM review_decisions WHERE request_id = $1 ORDER BY created_at`,
    [requestId],
  );
}

/** An API key as a vote names it: its label, and the reviewer it belongs to, if any. */
export interface VotingKey {
  id: string;
  label: string;
  scope: string;
  reviewer_name: string | null;
  reviewer_email: string | null;
}

/**
 * The keys behind votes cast without a reviewer identity, read from the control database (the
 * tenancy module's tables; read only, and only for the detail page). Scoped to the tenant, so a key
 * id recorded in one tenant's database never names another tenant's key.
 */
export async function votingKeys(control: Sql, tenantId: string, keyIds: string[]): Promise<Map<string, VotingKey>> {
  if (keyIds.length === 0) return new Map();
  const rows = await control.query<VotingKey>(
    `SELECT k.id, k.label, k.scope, r.name AS reviewer_name, r.email AS reviewer_email
       FROM api_keys k LEFT JOIN reviewers r ON r.id = k.reviewer_id AND r.tenant_id = k.tenant_id
      WHERE k.tenant_id = $1 AND k.id = ANY($2)`,
    [tenantId, [...new Set(keyIds)]],
  );
  return new Map(rows.map((k) => [k.id, k]));
}

export function progressOf(row: ClearanceRequest, votes: StoredVote[]): QuorumProgress {
  return quorum(rulesOf(row), votes);
}

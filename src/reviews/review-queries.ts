import type { Sql } from "../db/sql.js";
import type { ClearanceRequest } from "../requests/clearance-request.js";
import { quorum, rulesOf, type QuorumProgress, type Vote } from "../requests/review-rules.js";
import type { ReviewFilter } from "../requests/store/review-listing.js";

/** The votes behind GET /reviews and GET /reviews/{id} (the review_decisions table is the reviews module's own). */

export interface StoredVote extends Vote {
  reviewer_name: string;
  reviewer_email: string;
  reason: string;
  created_at: Date;
}

export type { ReviewFilter, ReviewStatusFilter } from "../requests/store/review-listing.js";

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

export function progressOf(row: ClearanceRequest, votes: StoredVote[]): QuorumProgress {
  return quorum(rulesOf(row), votes);
}


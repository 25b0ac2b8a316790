import type { Sql } from "../db/sql.js";
import type { ClearanceRow } from "../requests/request-store.js";
import { AppError } from "../errors.js";
import { DEFAULT_REVIEW_RULES, quorum, reviewRulesSchema, type QuorumProgress, type ReviewRules, type Vote } from "../requests/review-rules.js";

/** Reads behind GET /reviews and GET /reviews/{id}: requests that went to review, with their votes. */

export interface StoredVote extends Vote {
  reviewer_name: string;
  reviewer_email: string;
  reason: string;
  created_at: Date;
}

export type ReviewStatusFilter = "pending" | "approved" | "denied" | "expired" | "all";

export interface ReviewFilter {
  status: ReviewStatusFilter;
  policy_id?: string;
  tool_name?: string;
  agent_id?: string;
  limit: number;
  /** Opaque cursor: the sort key and id of the last row of the previous page. */
  cursor?: string;
}

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

/** The rules a request is reviewed by: those stored with it, or today's defaults for older rows. */
export function rulesOf(row: Pick<ClearanceRow, "review_rules">): ReviewRules {
  return row.review_rules ? reviewRulesSchema.parse(row.review_rules) : DEFAULT_REVIEW_RULES;
}

export function progressOf(row: ClearanceRow, votes: StoredVote[]): QuorumProgress {
  return quorum(rulesOf(row), votes);
}

// A request "went to review" when it has review rules (set when it became pending) or votes.
const REVIEWED = "(r.review_rules IS NOT NULL OR EXISTS (SELECT 1 FROM review_decisions d WHERE d.request_id = r.id))";

const STATUS_CONDITION: Record<ReviewStatusFilter, string> = {
  pending: "r.status = 'pending_review'",
  approved: "r.status = 'approved'",
  denied: "r.status = 'denied' AND r.reason_code IS DISTINCT FROM 'review_expired'",
  expired: "r.status = 'denied' AND r.reason_code = 'review_expired'",
  all: "true",
};

/**
 * Pending reviews oldest first (a queue); decided ones most recently decided first (a history).
 * Keyset pagination on (decided_at, id), so pages stay stable while new reviews arrive.
 */
export async function listReviews(sql: Sql, f: ReviewFilter): Promise<{ rows: ClearanceRow[]; next_cursor: string | null }> {
  const ascending = f.status === "pending";
  const params: unknown[] = [f.limit + 1];
  const where = [REVIEWED, STATUS_CONDITION[f.status]];
  for (const [column, value] of [["policy_id", f.policy_id], ["tool_name", f.tool_name], ["agent_id", f.agent_id]] as const) {
    if (value !== undefined) {
      params.push(value);
      where.push(`r.${column} = $${params.length}`);
    }
  }
  if (f.cursor) {
    const [at, id] = decodeCursor(f.cursor);
    params.push(at, id);
    where.push(`(r.decided_at, r.id) ${ascending ? ">" : "<"} ($${params.length - 1}::timestamptz, $${params.length})`);
  }
  const order = ascending ? "ASC" : "DESC";
  const rows = await sql.query<ClearanceRow>(
    `SELECT r.* FROM clearance_requests r WHERE ${where.join(" AND ")} ORDER BY r.decided_at ${order}, r.id ${order} LIMIT $1`,
    params,
  );
  const page = rows.slice(0, f.limit);
  const last = page[page.length - 1];
  return { rows: page, next_cursor: rows.length > f.limit && last ? encodeCursor(last) : null };
}

function encodeCursor(row: ClearanceRow): string {
  return Buffer.from(JSON.stringify([new Date(row.decided_at ?? row.created_at).toISOString(), row.id])).toString("base64url");
}

function decodeCursor(cursor: string): [string, string] {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (Array.isArray(value) && value.length === 2 && typeof value[1] === "string" && !Number.isNaN(Date.parse(String(value[0])))) {
      return [String(value[0]), value[1]];
    }
  } catch {
    /* fall through to the error below */
  }
  throw new AppError("validation_failed", "cursor is not one this server issued");
}

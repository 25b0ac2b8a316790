import type { Sql } from "../../db/sql.js";
import { AppError } from "../../errors.js";
import type { ClearanceRequest } from "../clearance-request.js";
import { toRequest, type ClearanceRow } from "./request-store.js";

/** GET /reviews: requests that went to review, as a queue (pending) or a history (decided), and on request those decided without review. */

export type ReviewStatusFilter = "pending" | "approved" | "denied" | "expired" | "all";

/** Who decided: `review` (requests that went to review), `automatic` (conditions or the judge alone), `any`. */
export const DECIDED_BY = ["review", "automatic", "any"] as const;
export type DecidedBy = (typeof DECIDED_BY)[number];

export interface ReviewFilter {
  status: ReviewStatusFilter;
  /** Absent: `review`, as before the history could show automatic decisions. */
  decided_by?: DecidedBy;
  policy_id?: string;
  tool_name?: string;
  agent_id?: string;
  limit: number;
  /** Opaque cursor: the sort key and id of the last row of the previous page. */
  cursor?: string;
}

// A request "went to review" when it has review rules (set when it became pending) or votes.
const REVIEWED = "(r.review_rules IS NOT NULL OR EXISTS (SELECT 1 FROM review_decisions d WHERE d.request_id = r.id))";
// Decided without review: approved or denied by the conditions or the judge alone (never one still processing).
const AUTOMATIC = `(r.status IN ('approved', 'denied') AND NOT ${REVIEWED})`;
const DECIDED_BY_CONDITION: Record<DecidedBy, string> = { review: REVIEWED, automatic: AUTOMATIC, any: `(r.status IN ('approved', 'denied') OR ${REVIEWED})` };

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
export async function listReviews(sql: Sql, f: ReviewFilter): Promise<{ rows: ClearanceRequest[]; next_cursor: string | null }> {
  const ascending = f.status === "pending";
  const params: unknown[] = [f.limit + 1];
  const where = [DECIDED_BY_CONDITION[f.decided_by ?? "review"], STATUS_CONDITION[f.status]];
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
  const page = rows.slice(0, f.limit).map(toRequest);
  const last = page[page.length - 1];
  return { rows: page, next_cursor: rows.length > f.limit && last ? encodeCursor(last) : null };
}

function encodeCursor(row: ClearanceRequest): string {
  return Buffer.from(JSON.stringify([new Date(row.decided_at ?? row.created_at).toISOString(), row.id])).toString("base64url");
}

const CURSOR_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const CURSOR_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * Strict, as encodeCursor writes it: any text Date.parse accepts ("-100000-01-01…", "0000-01-01…")
 * reached PostgreSQL as a timestamptz it cannot hold, a 500. No request predates 1970.
 */
function decodeCursor(cursor: string): [string, string] {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (Array.isArray(value) && value.length === 2) {
      const [at, id] = value as unknown[];
      if (typeof at === "string" && CURSOR_TIME.test(at) && at >= "1970" && new Date(at).toISOString() === at && typeof id === "string" && CURSOR_ID.test(id)) return [at, id];
    }
  } catch {
    /* fall through to the error below */
  }
  throw new AppError("validation_failed", "cursor is not one this server issued");
}

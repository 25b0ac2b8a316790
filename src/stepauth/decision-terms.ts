import type { Sql } from "../db/sql.js";
import type { ClearanceRequest } from "../requests/clearance-request.js";
import { TRANSITIONS } from "../requests/transitions.js";
import { votesFor } from "../reviews/review-queries.js";
import type { StepAuthRequestRow } from "./request-store.js";

/**
 * What a StepAuth decision says, from the clearance request that decided it. `approved` only when
 * the request was approved, before the StepAuth expiresAt, and not cancelled: expiry and cancel
 * never sign approved (they sign denied with nobody in decidedBy). decidedBy names who decided:
 * the reviewers who approved (or the one who denied) as `email:` NameIDs (`persistent:<reviewer
 * id>` for a voter without an email), or `policy:<policy id>` for the conditions or the judge.
 */
export interface DecisionTerms {
  decision: "approved" | "denied";
  decidedAt: Date;
  decidedBy: string[];
  /** Why, in words, for the ledger event's reason. */
  why: string;
}

const REVIEW_CODES = new Set<string>([TRANSITIONS.reviewApprove.reasonCode, TRANSITIONS.reviewDeny.reasonCode]);
const NOBODY_CODES = new Set<string>([TRANSITIONS.expire.reasonCode, TRANSITIONS.cancel.reasonCode]);

/** Undefined while the request is undecided. `sql` reads the votes. */
export async function decisionTerms(sql: Sql, row: StepAuthRequestRow, request: ClearanceRequest): Promise<DecisionTerms | undefined> {
  if (request.status !== "approved" && request.status !== "denied") return undefined;
  const decidedAt = new Date(request.decided_at ?? row.created_at);
  if (row.cancelled_at !== null || NOBODY_CODES.has(request.reason_code ?? "")) {
    const why = row.cancelled_at !== null || request.reason_code === TRANSITIONS.cancel.reasonCode ? "cancelled by the sender" : "expired without a decision";
    return { decision: "denied", decidedAt, decidedBy: [], why };
  }
  const late = decidedAt.getTime() > row.expires_at.getTime();
  const approved = request.status === "approved" && !late;
  const decidedBy = await decidersOf(sql, request);
  const why = late && request.status === "approved" ? "approved after the request's expiresAt: signed denied" : request.status;
  return { decision: approved ? "approved" : "denied", decidedAt, decidedBy: late ? [] : decidedBy, why };
}

async function decidersOf(sql: Sql, request: ClearanceRequest): Promise<string[]> {
  if (REVIEW_CODES.has(request.reason_code ?? "")) {
    const votes = (await votesFor(sql, [request.id])).get(request.id) ?? [];
    const wanted = request.status === "approved";
    const names = votes.filter((v) => v.approved === wanted).map((v) => (v.reviewer_email ? `email:${v.reviewer_email}` : `persistent:${v.reviewer_id}`));
    return [...new Set(names)];
  }
  return request.policy_id ? [`policy:${request.policy_id}`] : [];
}

import type { Sql } from "../db/sql.js";
import type { ClearanceRequest } from "./clearance-request.js";

/**
 * What a kind of request adds to the lifecycle. A StepAuth request must queue its callback, and an
 * agent claim must set the claim's status, in the very transaction in which the request is decided,
 * so that a decided request is never without them. The layers that own those kinds (src/stepauth/,
 * src/agents/) sit above the requests layer, so they plug in here rather than be called by name.
 */
export interface RequestKindHandler {
  /**
   * False when an approval of this kind is a decision only, with no A-JWT: an agent claim grants
   * access through the claim itself, and a token for its pseudo-tool would be a bearer credential
   * nobody should hold. Absent: an approval issues its token, as a clearance request's does.
   */
  readonly issuesToken?: boolean;
  /**
   * Inside the transaction in which a request of this kind reaches approved or denied (any path: judge, review, expiry, cancel).
   * It may throw an AppError to refuse the decision: nothing of the unit commits, and the caller gets the error.
   */
  decided(tx: Sql, tenantId: string, request: ClearanceRequest): Promise<void>;
}

export type RequestKindHandlers = Partial<Record<ClearanceRequest["kind"], RequestKindHandler>>;

/** Runs the request's kind handler when the request is now approved or denied (a review is not a decision yet). */
export async function reportDecided(kinds: RequestKindHandlers | undefined, tx: Sql, tenantId: string, request: ClearanceRequest): Promise<void> {
  if (request.status !== "approved" && request.status !== "denied") return;
  await kinds?.[request.kind]?.decided(tx, tenantId, request);
}

/** Whether an approval of `kind` issues an A-JWT (see RequestKindHandler.issuesToken). */
export function issuesToken(kinds: RequestKindHandlers | undefined, kind: ClearanceRequest["kind"]): boolean {
  return kinds?.[kind]?.issuesToken !== false;
}

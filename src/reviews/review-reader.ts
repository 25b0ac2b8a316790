import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import type { LedgerService } from "../ledger/ledger-service.js";
import type { ClearanceRequest } from "../requests/clearance-request.js";
import { getRequest, getRequestWithPolicyDefault } from "../requests/store/request-store.js";
import { listReviews, type ReviewFilter } from "../requests/store/review-listing.js";
import type { Principal } from "../tenancy/api-keys.js";
import { voterOf } from "../tenancy/reviewers.js";
import { votesFor } from "./review-queries.js";
import { reviewDetail, reviewSummary, viewerRights } from "./review-views.js";

/** GET /reviews and GET /reviews/{id}: the queue, the history, and one request in full. */
export class ReviewReader {
  constructor(
    private readonly deps: {
      clock: Clock;
      /** Where a request's ledger events stand: the ledger owns that rule. */
      ledger: Pick<LedgerService, "requestLedgerStatus">;
    },
  ) {}

  /** `sql` is the principal's tenant database. */
  async list(sql: Sql, filter: ReviewFilter) {
    const { rows, next_cursor } = await listReviews(sql, filter);
    const votes = await votesFor(sql, rows.map((r) => r.id));
    const now = this.deps.clock.now();
    return { reviews: rows.map((r) => reviewSummary(r, votes.get(r.id) ?? [], now)), next_cursor };
  }

  async summary(sql: Sql, requestId: string) {
    const row = found(await getRequest(sql, requestId), requestId);
    return reviewSummary(row, (await votesFor(sql, [row.id])).get(row.id) ?? [], this.deps.clock.now());
  }

  async detail(sql: Sql, principal: Principal, requestId: string) {
    const row = found(await getRequestWithPolicyDefault(sql, requestId), requestId);
    const votes = (await votesFor(sql, [row.id])).get(row.id) ?? [];
    const ledger = await this.deps.ledger.requestLedgerStatus(sql, row.id);
    return reviewDetail(row, votes, this.deps.clock.now(), viewerRights(row, votes, voterOf(principal), principal.keyId), ledger, row.policy_default_decision);
  }
}

function found<T extends ClearanceRequest>(row: T | undefined, requestId: string): T {
  if (!row) throw new AppError("request_not_found", `No clearance request ${requestId}`);
  return row;
}

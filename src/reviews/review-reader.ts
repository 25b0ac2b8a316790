import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import type { LedgerService } from "../ledger/ledger-service.js";
import type { ClearanceRequest } from "../requests/clearance-request.js";
import { getRequest, getRequestWithPolicyDefault } from "../requests/store/request-store.js";
import { TRANSITIONS } from "../requests/transitions.js";
import { listReviews, type ReviewFilter } from "../requests/store/review-listing.js";
import type { Principal } from "../tenancy/api-keys.js";
import { voterOf } from "../tenancy/reviewers.js";
import { recordedVotesFor, votesFor, votingKeys } from "./review-queries.js";
import { reviewDetail, reviewSummary, viewerRights } from "./review-views.js";
import { termsView } from "./vote-terms.js";

/** GET /reviews and GET /reviews/{id}: the queue, the history, and one request in full. */
export class ReviewReader {
  constructor(
    private readonly deps: {
      clock: Clock;
      /** Where a request's ledger events stand, and the judge's reason as recorded: the ledger owns both. */
      ledger: Pick<LedgerService, "requestLedgerStatus" | "judgeReason">;
      /** The control database: the labels of keys that voted without a reviewer identity. */
      control: Sql;
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
    const votes = await recordedVotesFor(sql, row.id);
    const [ledger, judgeReason, keys] = await Promise.all([
      this.deps.ledger.requestLedgerStatus(sql, row.id),
      this.judgeReason(sql, principal.tenantId, row),
      votingKeys(this.deps.control, principal.tenantId, votes.filter((v) => !v.has_identity).map((v) => v.api_key_id)),
    ]);
    const viewer = viewerRights(row, votes, voterOf(principal), principal.keyId);
    const detail = reviewDetail(row, votes, this.deps.clock.now(), viewer, ledger, { policyDefaultDecision: row.policy_default_decision, judgeReason, keys });
    // Grants and edited arguments (docs/grants.md): what a further approval must repeat, and what came of it.
    return { ...detail, ...(await termsView(sql, row)) };
  }

  /** The row keeps the judge's reason until a review transition replaces it; then the ledger's clearance event still holds it. */
  private async judgeReason(sql: Sql, tenantId: string, row: ClearanceRequest): Promise<string | null> {
    if (REPLACES_REASON.has(row.reason_code ?? "")) return this.deps.ledger.judgeReason({ tenantId, sql }, row.id);
    return row.status === "processing" ? null : row.reason;
  }
}

/** Reason codes of the transitions that write their own reason over the judge's. */
const REPLACES_REASON = new Set<string>(Object.values(TRANSITIONS).map((t) => t.reasonCode));

function found<T extends ClearanceRequest>(row: T | undefined, requestId: string): T {
  if (!row) throw new AppError("request_not_found", `No clearance request ${requestId}`);
  return row;
}

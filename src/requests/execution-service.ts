import { z } from "zod";
import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import { requestEventLinks } from "../ledger/store/ledger-proofs.js";
import type { Principal } from "../tenancy/api-keys.js";
import { voterOf } from "../tenancy/reviewers.js";
import type { RequestLifecycle } from "./lifecycle.js";
import { isEligible, isPrincipal, rulesOf } from "./review-rules.js";
import type { ClearanceRequest } from "./clearance-request.js";
import { getRequest } from "./store/request-store.js";
import {
  EXECUTION_OUTCOMES,
  listUnreported,
  recordOf,
  tokenExecution,
  type ExecutionOutcome,
  type ExecutionRecord,
  type TokenExecutionRow,
} from "./store/execution-store.js";

/** Printable text: no C0/C1 control characters (no newlines either), since it lands in a signed ledger event. */
const printable = /^\P{Cc}*$/u;

/** POST /tokens/{jti}/execution. Strict: an unknown field is a mistake the reporter should hear about. */
export const executionReportSchema = z.strictObject({
  status: z.int().min(100).max(599).nullable().describe("The action's HTTP status, or null when there was none (tool error, upstream unreachable)."),
  outcome: z.enum(EXECUTION_OUTCOMES).optional().describe("Default: 2xx/3xx succeeded, another status failed, null status error."),
  duration_ms: z.int().min(0).describe("How long the action took, in milliseconds."),
  response_sha256: z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex digits").optional().describe("SHA-256 of the response body."),
  detail: z.string().max(500).regex(printable, "control characters are not allowed").optional(),
});
export type ExecutionReportBody = z.infer<typeof executionReportSchema>;

/** POST /tokens/{jti}/execution/close: a reviewer closes a lost consume as outcome "unknown". */
export const executionCloseSchema = z.strictObject({
  note: z.string().min(1).max(500).regex(printable, "control characters are not allowed").describe("Why it is closed: what the reviewer found out."),
});

export const jtiSchema = z.string().min(1).max(128).regex(/^[\x21-\x7e]+$/, "must be visible ASCII");

export function defaultOutcome(status: number | null): ExecutionOutcome {
  if (status === null) return "error";
  return status >= 200 && status < 400 ? "succeeded" : "failed";
}

/** The answer of a report: the stored report, and whether this call only repeated it. */
export function executionAnswer(r: ExecutionRecord, tool: string, replayed: boolean) {
  return {
    jti: r.jti,
    request_id: r.request_id,
    tool,
    status: r.status,
    outcome: r.outcome,
    duration_ms: r.duration_ms,
    response_sha256: r.response_sha256,
    detail: r.detail,
    reported_at: r.reported_at.toISOString(),
    reported_by: r.reported_by,
    ...(r.closed_by === null ? {} : { closed_by: r.closed_by }),
    replayed,
  };
}

type Wanted = Pick<ExecutionRecord, "status" | "outcome" | "duration_ms" | "response_sha256" | "detail">;

function sameReport(a: Wanted, b: Wanted): boolean {
  return a.status === b.status && a.outcome === b.outcome && a.duration_ms === b.duration_ms && a.response_sha256 === b.response_sha256 && a.detail === b.detail;
}

/**
 * Execution reports: what the action a burned token allowed did (POST /tokens/{jti}/execution), and
 * lost-consume recovery (burns never reported, listed after a timeout and closed by a reviewer). The
 * report goes through the lifecycle, group-committed keyed by jti, and is one conditional UPDATE
 * with its `token.executed` ledger event: exactly one report of a token is ever stored. The same
 * report again answers the stored one (replayed); a different one is refused.
 */
export class ExecutionService {
  constructor(
    private readonly deps: {
      lifecycle: RequestLifecycle;
      clock: Clock;
      /** A burn older than this without a report is a lost consume. */
      reportTimeoutSeconds: number;
    },
  ) {}

  /** `sql` is the principal's tenant database: another tenant's jti is simply not found there. */
  async report(sql: Sql, principal: Principal, jti: string, body: ExecutionReportBody) {
    const wanted: Wanted = {
      status: body.status,
      outcome: body.outcome ?? defaultOutcome(body.status),
      duration_ms: body.duration_ms,
      response_sha256: body.response_sha256 ?? null,
      detail: body.detail ?? null,
    };
    // Only the burner reports: another agent key of the tenant must not pre-empt the real report.
    const consumer = (token: TokenExecutionRow) => {
      if (principal.scope !== "admin" && token.consumed_by !== principal.keyId) {
        throw new AppError("not_token_consumer", `Token ${jti} was consumed by another API key; only that key (or an admin key) may report its execution`);
      }
    };
    return this.record(sql, principal, jti, wanted, null, consumer);
  }

  /** A reviewer closes a burn nobody reported: the same event, outcome "unknown", no status, who closed it. */
  async close(sql: Sql, principal: Principal, jti: string, note: string) {
    const voter = voterOf(principal);
    // Id and name only, like vote events: the ledger is permanent and the webhook leaves the vault, so no email.
    const who = principal.reviewer ? `${voter.name} (${voter.id})` : `API key ${principal.keyId}`;
    const allowed = (token: TokenExecutionRow, approved: ClearanceRequest) => {
      // Not before the timeout: a close would shut out the consumer's real report, which may still come.
      if (recordOf(token)) return;
      const due = this.deps.clock.nowMs() - this.deps.reportTimeoutSeconds * 1000;
      if (new Date(token.consumed_at!).getTime() > due) {
        throw new AppError("execution_report_not_overdue", `Token ${jti} was consumed less than ${this.deps.reportTimeoutSeconds} s ago; its consumer may still report it`);
      }
      // The same separation of duties as a vote on the request (src/reviews/review-service.ts).
      if (!isEligible(rulesOf(approved), voter)) throw new AppError("reviewer_not_eligible", `${voter.name} is not among the reviewers of this request`);
      if (principal.keyId === approved.api_key_id) throw new AppError("self_approval_forbidden", "This key submitted the request; another reviewer must close it");
      if (isPrincipal(approved.human_principal, voter)) {
        throw new AppError("principal_approval_forbidden", `${voter.name} is the human principal of this request; another reviewer must close it`);
      }
    };
    return this.record(sql, principal, jti, { status: null, outcome: "unknown", duration_ms: null, response_sha256: null, detail: note }, who, allowed);
  }

  /** Burns consumed more than the timeout ago and never reported, newest first. */
  async unreported(sql: Sql, q: { limit: number; cursor?: string }) {
    const cutoff = new Date(this.deps.clock.nowMs() - this.deps.reportTimeoutSeconds * 1000);
    const { rows, next_cursor } = await listUnreported(sql, cutoff, q.limit, q.cursor);
    return { tokens: rows, next_cursor, timeout_seconds: this.deps.reportTimeoutSeconds };
  }

  private async record(
    sql: Sql,
    principal: Principal,
    jti: string,
    wanted: Wanted,
    closedBy: string | null,
    allowed: (token: TokenExecutionRow, approved: ClearanceRequest) => void,
  ) {
    const token = await this.known(sql, jti);
    const approved = await getRequest(sql, token.request_id);
    if (!approved) throw new AppError("token_not_found", "This tenant never issued a token with this jti");
    allowed(token, approved);
    // Already reported: answer from the row, with no signing and no transaction.
    const stored = recordOf(token);
    if (stored) return this.settled(stored, wanted, approved.tool_name);
    const record: ExecutionRecord = { jti, request_id: token.request_id, ...wanted, reported_at: this.deps.clock.now(), reported_by: principal.keyId, closed_by: closedBy };
    const { lifecycle } = this.deps;
    const ledger = await lifecycle.executedEvent(principal.tenantId, approved, record, await requestEventLinks(sql, token.request_id));
    // Keyed by jti: two reports of one token in a batch run in turn, and the second finds it reported.
    const written = await lifecycle.commit(sql, jti, (tx) => lifecycle.execute(tx, principal.tenantId, approved, record, ledger));
    if (written) return executionAnswer(record, approved.tool_name, false);
    const now = recordOf(await this.known(sql, jti));
    if (!now) throw new AppError("token_not_consumed", `Token ${jti} has not been consumed`);
    return this.settled(now, wanted, approved.tool_name);
  }

  private settled(stored: ExecutionRecord, wanted: Wanted, tool: string) {
    if (!sameReport(stored, wanted)) {
      throw new AppError("execution_already_reported", `Token ${stored.jti} already has a different execution report (reported at ${stored.reported_at.toISOString()})`);
    }
    return executionAnswer(stored, tool, true);
  }

  /** The token's row, burned: 404 when this tenant never issued it, 409 while it is not burned. */
  private async known(sql: Sql, jti: string): Promise<TokenExecutionRow> {
    const token = await tokenExecution(sql, jti);
    if (!token) throw new AppError("token_not_found", "This tenant never issued a token with this jti");
    if (!token.consumed_at) throw new AppError("token_not_consumed", `Token ${jti} has not been consumed: burn it (POST /consume-token) before reporting its execution`);
    return token;
  }
}

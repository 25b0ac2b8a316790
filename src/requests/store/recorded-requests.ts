import type { Sql } from "../../db/sql.js";
import type { AgentIdentity } from "../../tenancy/agent-identity.js";
import type { ClearanceStatus } from "../clearance-request.js";

/**
 * Recorded clearance requests as replay reads them (src/requests/replay-service.ts): what the agent
 * asked (tool, arguments, context, agent, signer) and how it was first decided. Read-only, and part of
 * the request store: the table's one owner. Arguments and context are stored in clear in the tenant's
 * database (it is the ledger's event bodies that are sealed), so nothing needs opening here.
 * Pages go newest first by (created_at, id) within the window (index clearance_requests_replay).
 */
export interface RecordedRequest {
  id: string;
  created_at: Date;
  tool_name: string;
  tool_args: unknown;
  context: unknown;
  agent_id: string;
  session_id: string;
  human_principal: string | null;
  agent_identity: AgentIdentity | null;
  status: ClearanceStatus;
  reason_code: string | null;
  reviewed: boolean;
  /** judge_trace.failed_closed: why the judge could not decide, null when it did. */
  failed_closed: string | null;
}

export interface RecordedCursor {
  created_at: Date;
  id: string;
}

export async function countRecorded(sql: Sql, since: Date, until: Date): Promise<number> {
  const [row] = await sql.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM clearance_requests WHERE kind = 'clearance' AND created_at >= $1 AND created_at <= $2",
    [since, until],
  );
  return row?.n ?? 0;
}

export async function recordedPage(sql: Sql, window: { since: Date; until: Date }, after: RecordedCursor | null, limit: number): Promise<RecordedRequest[]> {
  const rows = await sql.query<RecordedRequest>(
    `SELECT id, created_at, tool_name, tool_args, context, agent_id, session_id, human_principal, agent_identity, status, reason_code,
            review_rules IS NOT NULL AS reviewed, judge_trace->>'failed_closed' AS failed_closed
       FROM clearance_requests
      WHERE kind = 'clearance' AND created_at >= $1 AND created_at <= $2
        AND ($3::timestamptz IS NULL OR (created_at, id) < ($3::timestamptz, $4::text))
      ORDER BY created_at DESC, id DESC
      LIMIT $5`,
    [window.since, window.until, after?.created_at ?? null, after?.id ?? "", limit],
  );
  return rows;
}

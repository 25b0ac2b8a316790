import { z } from "zod";
import { isoTime } from "./common.js";

/** POST /tokens/{jti}/execution (src/requests/execution-service.ts): the stored execution report. */
export const executionResponseSchema = z.object({
  jti: z.string(),
  request_id: z.string(),
  tool: z.string(),
  status: z.int().min(100).max(599).nullable().describe("The action's HTTP status; null when there was none."),
  outcome: z.enum(["succeeded", "failed", "error", "unknown"]),
  duration_ms: z.int().min(0).nullable().describe("Null only for a lost consume a reviewer closed."),
  response_sha256: z.string().regex(/^[0-9a-f]{64}$/).nullable(),
  detail: z.string().nullable(),
  reported_at: isoTime,
  reported_by: z.string().describe("The id of the API key that reported it (for a console session, the key its reviewer signed in with)."),
  closed_by: z.string().optional().describe("Only on a lost consume a reviewer closed: who closed it, as `name (reviewer id)` (or `API key <id>` for an admin key)."),
  replayed: z.boolean().describe("True when this call repeated the stored report: nothing new was recorded."),
});

/** GET /tokens/unreported: burns never followed by an execution report, after the timeout. */
export const unreportedListSchema = z.object({
  tokens: z.array(
    z.object({
      jti: z.string(),
      request_id: z.string(),
      tool: z.string(),
      agent_id: z.string(),
      consumed_at: isoTime,
      consumed_by: z.string().describe("The id of the API key that burned it."),
    }),
  ),
  next_cursor: z.string().nullable().describe("Pass back as `cursor` for the next page; null on the last page."),
  timeout_seconds: z.int().min(0).describe("VAULT_EXECUTION_REPORT_TIMEOUT_SECONDS: burns younger than this are not listed yet."),
});

import { z } from "zod";
import { isoTime } from "./common.js";

/**
 * What the grant routes answer (src/grants/grant-views.ts), for the OpenAPI document. The integration
 * test parses real answers with these schemas.
 */
export const grantSchema = z.object({
  id: z.string().describe("grt_…"),
  status: z.enum(["active", "expired", "revoked"]),
  scope: z.enum(["session", "window"]),
  tool_name: z.string(),
  policy_id: z.string(),
  agent_id: z.string(),
  api_key_id: z.string().describe("The API key the approved request came through: later requests must too."),
  agent_signer: z.string().nullable().describe("The verified Sigilum signer (namespace/subject) of the approved request, which later requests must carry; null when it was unsigned."),
  session_id: z.string().nullable().describe("Scope session only."),
  window_minutes: z.number().int().nullable().describe("Scope window only."),
  constraint: z.string().nullable().describe("A CEL expression over args that later requests must satisfy; null: any arguments."),
  constraint_words: z.string().describe("The constraint in plain words (or the expression itself when it has no faithful wording)."),
  starts_at: isoTime,
  expires_at: isoTime,
  source_request_id: z.string().describe("The request whose approval created the grant."),
  approvers: z.array(z.object({ reviewer_id: z.string(), reviewer_name: z.string(), reviewer_email: z.string(), groups: z.array(z.string()), passkey: z.boolean() })),
  created_at: isoTime,
  created_event_uuid: z.string().describe("The grant.created vault.audit ledger event."),
  revoked_at: isoTime.nullable(),
  revoked_by: z.string().nullable(),
  revoke_reason: z.string().nullable(),
  revoked_event_uuid: z.string().nullable().describe("The grant.revoked vault.audit ledger event."),
});

export const grantExample = {
  id: "grt_6f0d2b3e-9a41-4c7e-8b15-2d3e4f5a6b7c",
  status: "active",
  scope: "window",
  tool_name: "stripe_refund",
  policy_id: "refund-policy",
  agent_id: "agent-7",
  api_key_id: "key_4b1c9e0d2a7f3e58",
  agent_signer: null,
  session_id: null,
  window_minutes: 60,
  constraint: 'args.amount <= 200 && args.currency == "usd"',
  constraint_words: "amount ≤ 200 and currency = usd",
  starts_at: "2026-03-01T10:07:00.000Z",
  expires_at: "2026-03-01T11:07:00.000Z",
  source_request_id: "req_3f6c2a9e-8d41-4b7a-9c55-1e2f0a7b6d13",
  approvers: [{ reviewer_id: "rvw_2c9d4e1f-5a6b-4c7d-8e9f-0a1b2c3d4e5f", reviewer_name: "Alice", reviewer_email: "alice@example.com", groups: ["finance"], passkey: false }],
  created_at: "2026-03-01T10:07:00.000Z",
  created_event_uuid: "0195f0c2-8b1a-7e4d-9c3b-2a1f0e9d8c7b",
  revoked_at: null,
  revoked_by: null,
  revoke_reason: null,
  revoked_event_uuid: null,
};

export const grantListSchema = z.object({
  grants: z.array(grantSchema),
  next_cursor: z.string().nullable().describe("Pass as `cursor` for the next page; null on the last page."),
});

export const grantListExample = { grants: [grantExample], next_cursor: null };

export const revokedGrantExample = {
  ...grantExample,
  status: "revoked",
  revoked_at: "2026-03-01T10:20:00.000Z",
  revoked_by: "rvw_2c9d4e1f-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
  revoke_reason: "Ticket closed",
  revoked_event_uuid: "0195f0ce-1d2e-7f3a-8b4c-5d6e7f8a9b0c",
};

export const describeConstraintSchema = z.object({
  valid: z.boolean().describe("Whether a vote may carry this constraint (it compiles and reads only args)."),
  words: z.string().describe("The constraint in plain words, or the expression itself when it has no faithful wording."),
  error: z.string().optional().describe("Why it is not valid."),
});

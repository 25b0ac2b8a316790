import { z } from "zod";
import { evidenceChunkSchema } from "../../../judge/judge.js";
import { clearanceResponseSchema } from "./clearance.js";
import { grantSchema } from "./grants.js";
import { bucket, decisionStatus, isoTime, jsonObject } from "./common.js";

/**
 * What the review routes answer (src/reviews/review-views.ts, src/requests/response.ts), for the
 * OpenAPI document. z.object, not strict: a field added later must not make the document wrong.
 * test/integration/openapi-reviews.test.ts parses real answers with these schemas.
 */

const clearanceStatus = z.enum(["processing", "pending_review", "approved", "denied"]);

export const reviewSummarySchema = z.object({
  request_id: z.string(),
  status: clearanceStatus,
  decided_by: z.enum(["review", "automatic"]).nullable().describe("`review`: it went to review; `automatic`: the conditions or the judge decided alone; null while processing."),
  decision_status: decisionStatus.nullable(),
  reason_code: z.string().nullable(),
  tool_name: z.string(),
  agent_id: z.string(),
  human_principal: z.string().nullable(),
  policy_id: z.string().nullable(),
  reason: z.string(),
  confidence_bucket: bucket,
  created_at: isoTime,
  decided_at: isoTime.nullable(),
  expires_at: isoTime.nullable().describe("When a pending request is denied as expired."),
  age_seconds: z.number().int().min(0),
  approvals: z.object({
    received: z.number().int().min(0),
    required: z.number().int().min(1),
    groups: z.array(z.object({ name: z.string(), received: z.number().int().min(0), required: z.number().int().min(1) })),
  }),
  votes: z.number().int().min(0).describe("Votes cast so far, approvals and denials."),
});

export const reviewSummaryExample = {
  request_id: "req_3f6c2a9e-8d41-4b7a-9c55-1e2f0a7b6d13",
  status: "pending_review",
  decided_by: "review",
  decision_status: "approved_pending_review",
  reason_code: "condition_matched",
  tool_name: "stripe_refund",
  agent_id: "agent-7",
  human_principal: "alice@example.com",
  policy_id: "refund-policy",
  reason: "Refunds over $100 need a human",
  confidence_bucket: "extra_high",
  created_at: "2026-03-01T10:00:00.000Z",
  decided_at: "2026-03-01T10:00:00.000Z",
  expires_at: "2026-03-02T10:00:00.000Z",
  age_seconds: 420,
  approvals: { received: 1, required: 2, groups: [{ name: "finance", received: 1, required: 1 }] },
  votes: 1,
};

export const reviewListSchema = z.object({
  reviews: z.array(reviewSummarySchema),
  next_cursor: z.string().nullable().describe("Pass as `cursor` for the next page; null on the last page."),
});

export const reviewListExample = {
  reviews: [reviewSummaryExample],
  next_cursor: null,
};

/** The SSE stream is text; each `event: review` carries one review summary as its `data` line. */
export const reviewStreamSchema = z.string();

export const reviewStreamExample = `retry: 2000\n: connected\n\nevent: review\ndata: ${JSON.stringify(reviewSummaryExample)}\n\n: ping\n\n`;

export const reviewDetailSchema = reviewSummarySchema.extend({
  judge_reason: z
    .string()
    .nullable()
    .describe("The judge's reason as recorded when it decided (`reason` is the request's as it stands, which a reviewer's decision replaces); null when the judge never decided."),
  policy_default_decision: z.string().nullable().describe("The default decision of the policy version that judged the request (\"approve\" warrants care)."),
  tool_args: jsonObject,
  context: jsonObject,
  session_id: z.string(),
  matched_condition_ids: z.array(z.string()),
  citations: z.array(evidenceChunkSchema),
  evidence_chunks: z.array(evidenceChunkSchema),
  rules: z
    .object({
      approvals_required: z.number().int().min(1),
      groups: z.array(z.object({ name: z.string(), approvals_required: z.number().int().min(1) })),
      reviewers: z.array(z.string()).nullable(),
      expiry_seconds: z.number().int().min(1),
      reminder_after_seconds: z.number().int().min(1).nullable(),
      escalate_after_seconds: z.number().int().min(1).nullable(),
      require_passkey: z.boolean().describe("An approval needs a passkey signature over the request's commitment (docs/passkeys.md)."),
    })
    .describe("The review rules stored with the request when it went to review."),
  votes_detail: z.array(
    z.object({
      reviewer_id: z.string(),
      reviewer_name: z.string(),
      reviewer_email: z.string(),
      voter_kind: z.enum(["reviewer", "api_key"]).describe("`reviewer`: a person's key or console session; `api_key`: a key with no reviewer identity."),
      api_key_id: z.string(),
      api_key_label: z.string().nullable(),
      scope: z.string(),
      approved: z.boolean(),
      reason: z.string(),
      created_at: isoTime,
      passkey: z
        .object({ credential_id: z.string() })
        .nullable()
        .describe("The passkey that signed this vote (base64url credential id); its assertion is in the vote's ledger event. Null when none did."),
    }),
  ),
  viewer: z.object({ reviewer_id: z.string(), can_approve: z.boolean(), can_deny: z.boolean(), why_not: z.string().nullable() }).describe("What the caller may do with this request; `why_not` says why approving is refused."),
  ledger: z
    .object({ events: z.number().int().min(0), in_checkpoint: z.boolean(), checkpoint_id: z.number().int().nullable() })
    .describe("The request's ledger events, and the first signed checkpoint that covers them all."),
  stepauth: z
    .object({
      sender: z.string(),
      request_id: z.string(),
      summary: z.string(),
      category: z.string(),
      name: z.string().nullable(),
      principal: z.unknown().describe("The principal chain as sent: {subject, attributes?: labelled entries, operator?}."),
      details: z.array(z.unknown()).describe("action.details as sent: labelled entries {key, label, value}, value a string or a group."),
      target: z.unknown().nullable(),
      approver: z.string().nullable(),
      expires_at: isoTime,
      callback: z.object({ url: z.string().nullable(), status: z.string(), attempts: z.number().int(), last_error: z.string().nullable() }).nullable(),
      decision: z.object({ decision: z.enum(["approved", "denied"]), decided_by: z.array(z.string()), decided_at: z.string() }).nullable(),
      execution: z.object({ status: z.enum(["success", "error"]), error: z.string().nullable() }).nullable(),
    })
    .optional()
    .describe("Requests of kind stepauth (docs/stepauth.md): what the SP asked, and where its callback, signed decision and execution result stand."),
  approval_terms: z
    .object({
      grant: z.object({ scope: z.enum(["session", "window"]), window_minutes: z.number().int().nullable(), constraint: z.string().nullable() }).nullable(),
      edited_tool_args: jsonObject.nullable(),
    })
    .nullable()
    .describe("What the first approving vote approved beyond the request (docs/grants.md): every further approving vote must carry the same grant and edited arguments. null before any approval."),
  edited_tool_args: jsonObject.nullable().describe("The arguments the approval is for, when the reviewers edited them (the token binds these)."),
  grant_id: z.string().nullable().describe("The grant that approved this request (reason_code grant_approved)."),
  created_grant_id: z.string().nullable().describe("The grant this request's approval created."),
});

const exampleChunk = {
  chunk_id: "chk_1d4b7e90-3c2a-4f68-b5e1-9a0c7d2f4e36",
  policy_id: "refund-policy",
  policy_version_id: "pv_5b0e7c1d-2a9f-4e36-8c1b-7d4a9e2f6c80",
  source: "rule",
  heading: "refund-policy › Rule 1",
  excerpt: "Refunds up to $100 may be issued automatically",
  score: 0.82,
};

export const reviewDetailExample = {
  ...reviewSummaryExample,
  judge_reason: "Refunds over $100 need a human",
  policy_default_decision: "review",
  tool_args: { amount: 500, order_id: "o-1" },
  context: { ticket: "SUP-1042" },
  session_id: "sess-19",
  matched_condition_ids: ["refund-policy/needs-human"],
  citations: [exampleChunk],
  evidence_chunks: [exampleChunk],
  rules: {
    approvals_required: 2,
    groups: [{ name: "finance", approvals_required: 1 }],
    reviewers: null,
    expiry_seconds: 86400,
    reminder_after_seconds: 3600,
    escalate_after_seconds: null,
    require_passkey: false,
  },
  votes_detail: [
    {
      reviewer_id: "rvw_0c9e4f3a-6b2d-4d8e-a1f7-5e3b2c1d0a9f",
      reviewer_name: "Ana Lima",
      reviewer_email: "ana@example.com",
      voter_kind: "reviewer",
      api_key_id: "key_4f1a9c2e7b3d5a08",
      api_key_label: "Ana Lima",
      scope: "reviewer",
      approved: true,
      reason: "Order checked",
      created_at: "2026-03-01T10:05:00.000Z",
      passkey: { credential_id: "x7Qm3fK9pL2vR8sT1uW4yZ6aB0cD5eF7gH9iJ1kL3mN" },
    },
  ],
  viewer: { reviewer_id: "rvw_7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", can_approve: true, can_deny: true, why_not: null },
  ledger: { events: 2, in_checkpoint: false, checkpoint_id: null },
  approval_terms: { grant: { scope: "window", window_minutes: 60, constraint: "args.amount <= 500" }, edited_tool_args: null },
  edited_tool_args: null,
  grant_id: null,
  created_grant_id: null,
};

/** The clearance answer (as /clearance-status gives it to this caller), plus the review's progress. */
export const reviewDecisionResponseSchema = clearanceResponseSchema.extend({
  review: reviewSummarySchema,
  grant: grantSchema.optional().describe("The grant this vote's approval created (docs/grants.md); only when the approval completed with a session or window grant."),
});

export const reviewDecisionResponseExample = {
  request_id: reviewSummaryExample.request_id,
  status: "approved",
  decision_status: "approved",
  requires_manual_review: false,
  token: null,
  token_expires_at: null,
  reason: "Order checked",
  reason_code: "review_approved",
  confidence_bucket: "extra_high",
  minimum_confidence_bucket: "high",
  policy_id: "refund-policy",
  policy_version_id: null,
  decided_under_policy_version_id: "pv_5b0e7c1d-2a9f-4e36-8c1b-7d4a9e2f6c80",
  policy_content_hash: "sha256:9b1f0c7e2a4d6f8b0c2e4a6d8f0b2c4e6a8d0f2b4c6e8a0d2f4b6c8e0a2d4f6b",
  matched_condition_ids: ["refund-policy/needs-human"],
  citations: [exampleChunk],
  evidence_chunks: [exampleChunk],
  tool_name: "stripe_refund",
  tool_args_hash: "2c4e6a8d0f2b4c6e8a0d2f4b6c8e0a2d4f6b8c0e2a4d6f8b0c2e4a6d8f0b2c4e",
  created_at: "2026-03-01T10:00:00.000Z",
  decided_at: "2026-03-01T10:07:00.000Z",
  approved: true,
  confidence: 0.95,
  minimum_confidence_score: 0.85,
  review: {
    ...reviewSummaryExample,
    status: "approved",
    decision_status: "approved",
    reason_code: "review_approved",
    reason: "Order checked",
    decided_at: "2026-03-01T10:07:00.000Z",
    age_seconds: 420,
    approvals: { received: 2, required: 2, groups: [{ name: "finance", received: 1, required: 1 }] },
    votes: 2,
  },
};

import { z } from "zod";
import { confidenceBuckets, evidenceChunkSchema } from "../../../judge/judge.js";
import { bucket, decisionStatus, hex64, isoTime, jsonObject } from "./common.js";

/**
 * The clearance answer (src/requests/response.ts), shared by /request-clearance, /clearance-status and
 * the review decision. Ledgix wire protocol §2.1: never null where the SDK has a non-nullable default,
 * `decision_status` always present; the legacy fields are for 0.3.x SDKs (§6.10).
 */
export const clearanceResponseSchema = z.object({
  request_id: z.string(),
  status: z.enum(["processing", "pending_review", "approved", "denied"]),
  decision_status: decisionStatus.describe("This field alone decides denial (protocol §2.1)."),
  requires_manual_review: z.boolean(),
  token: z.string().nullable().describe("The A-JWT (compact JWS), for the key that asked or an admin, while approved."),
  token_expires_at: isoTime.nullable(),
  reason: z.string(),
  reason_code: z.string().nullable(),
  confidence_bucket: bucket,
  minimum_confidence_bucket: bucket.describe("The tenant threshold the decision was held to."),
  policy_id: z.string().nullable(),
  policy_version_id: z.string().nullable().describe("null after a reviewer's approval, so the SDK does not cache it for /mint-token."),
  decided_under_policy_version_id: z.string().nullable(),
  policy_content_hash: z.string().nullable(),
  matched_condition_ids: z.array(z.string()),
  citations: z.array(evidenceChunkSchema),
  evidence_chunks: z.array(evidenceChunkSchema),
  tool_name: z.string(),
  tool_args_hash: hex64.describe("SHA-256 of the RFC 8785 canonical JSON of tool_args."),
  edited_tool_args: jsonObject.optional().describe("Only when a reviewer edited the arguments before approving: the arguments the token is for (docs/grants.md)."),
  edited_tool_args_hash: hex64.optional().describe("SHA-256 of the canonical JSON of edited_tool_args: what the token's tool_args_hash binds. Only when edited."),
  grant_id: z.string().optional().describe("Only when an active grant approved the request (reason_code grant_approved): its id (docs/grants.md)."),
  created_at: isoTime,
  decided_at: isoTime.nullable(),
  approved: z.boolean().describe("Legacy (0.3.x SDKs)."),
  confidence: z.number().describe(`Legacy float midpoint of confidence_bucket (${confidenceBuckets.join(", ")}).`),
  minimum_confidence_score: z.number().describe("Legacy float midpoint of minimum_confidence_bucket."),
});

import { z } from "zod";
import { parseAgentPublicKey } from "../../protocols/http-signatures/agent-certificate.js";
import { isoTime } from "../openapi/schemas/common.js";
import { queryInteger } from "../query.js";

/**
 * Request and answer schemas of the agent-identity routes (sigilum.ts, agent-admin.ts), with their
 * examples. The request schemas are what the handlers parse with.
 */

const agentKey = z
  .string()
  .max(128)
  .refine((k) => parseAgentPublicKey(k) !== null, "must be ed25519:<standard base64 of a 32-byte key>")
  .describe("ed25519:<standard base64 of the raw 32-byte key>");
const slug = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$/, "lowercase letters, digits and inner hyphens, at most 64");
export const namespaceName = z.string().regex(/^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$/, "lowercase letters, digits and inner hyphens, 3-64 characters");

// Text the database stores: PostgreSQL refuses NUL, and a refusal there must be the client's 400, not a 5xx.
const text = (min: number, max: number) => z.string().min(min).max(max).refine((t) => !t.includes("\u0000"), "must not contain NUL characters");
// Looked up in the database after the signature: a NUL must be VALIDATION_ERROR here (Sigilum's code), not the database's refusal.
export const verifyQuery = z.object({ namespace: text(3, 64), public_key: agentKey, service: text(1, 64) });
export const namespaceClaimsQuery = z.object({
  service: z.string().min(1).max(64).optional().describe("Must be the key's own service (the default)."),
  limit: queryInteger(1, 2000).default(500).describe("1-2000, default 500."),
  offset: queryInteger(0, 1_000_000_000).default(0),
});
export const claimBody = z.object({
  namespace: text(3, 64),
  public_key: agentKey,
  service: text(1, 64),
  agent_ip: text(0, 64),
  nonce: text(8, 256),
  subject: text(1, 256).optional(),
  agent_id: text(1, 128).optional(),
  agent_name: z.string().trim().min(1).max(128).refine((t) => !t.includes("\u0000"), "must not contain NUL characters").optional(),
});
export const claimParams = z.object({ id: text(1, 64) });
export const claimActionBody = z.strictObject({ reason: z.string().max(2000).default("") }).optional();
export const claimListQuery = z.object({
  status: z.enum(["pending", "approved", "rejected", "revoked"]).optional(),
  limit: queryInteger(1, 500).default(100),
});
export const namespaceBody = z.strictObject({ namespace: namespaceName });
export const serviceBody = z.strictObject({ slug, name: z.string().trim().min(1).max(200), description: z.string().max(2000).default("") });
export const serviceParams = z.object({ slug: z.string().min(1).max(64) });
export const serviceKeyBody = z.strictObject({ label: z.string().trim().max(200).regex(/^\P{Cc}*$/u, "control characters are not allowed").optional() }).optional();

const claimStatus = z.enum(["pending", "approved", "rejected", "revoked"]);
export const verifyAnswerSchema = z.union([
  z.object({ authorized: z.literal(true), claim_id: z.string(), approved_at: isoTime }),
  z.object({ authorized: z.literal(false), reason: z.enum(["no_approved_claim", "claim_pending", "claim_rejected", "claim_revoked"]) }),
]);
export const namespaceClaimsSchema = z.object({
  claims: z.array(
    z.object({
      claim_id: z.string(), namespace: z.string(), public_key: z.string(), service: z.string(), subject: z.string(),
      agent_id: z.string().nullable(), agent_name: z.string().nullable(), approved_at: isoTime,
    }),
  ),
  pagination: z.object({ limit: z.number().int(), offset: z.number().int(), total: z.number().int(), has_more: z.boolean() }),
});
export const submitAnswerSchema = z.object({ claim_id: z.string(), status: claimStatus, service: z.string(), message: z.string() });
export const claimSchema = z.object({
  claim_id: z.string(), namespace: z.string(), service: z.string(), public_key: z.string(), status: claimStatus, subject: z.string(),
  agent_id: z.string().nullable(), agent_name: z.string().nullable(), agent_ip: z.string(), request_id: z.string().nullable(),
  reason: z.string().nullable(), created_at: isoTime, approved_at: isoTime.nullable(), decided_at: isoTime.nullable(), revoked_at: isoTime.nullable(),
});
export const claimVoteSchema = claimSchema.extend({ review: z.record(z.string(), z.unknown()).describe("The review's progress, as GET /reviews/{request_id} shows it.") });
export const claimListSchema = z.object({ claims: z.array(claimSchema) });
export const namespaceSchema = z.object({ namespace: z.string(), tenant_id: z.string(), created_at: isoTime });
export const serviceSchema = z.object({ slug: z.string(), name: z.string(), description: z.string(), created_at: isoTime });
export const serviceKeySchema = z.object({
  api_key_id: z.string(), service: z.string(), label: z.string(), key_prefix: z.string(), created_at: isoTime,
  api_key: z.string().describe("The raw key: shown in this answer only, never stored by the vault"),
});

const key = "ed25519:J07dj/co4diCmQYTTQGq4adhnMKYejHazCYUQ7eBh0k=";
const claim = {
  claim_id: "cl_9f2c4e6a8b0d1f3a5c7e9b1d", namespace: "acme-corp", service: "billing-api", public_key: key, status: "approved",
  subject: "alice@acme.example", agent_id: "invoice-bot", agent_name: "Invoice bot", agent_ip: "203.0.113.7",
  request_id: "req_5b0f3c1e-2a4d-4f6b-8c9e-1d3f5a7b9c0e", reason: "Approved by Dana", created_at: "2026-03-02T09:00:00.000Z",
  approved_at: "2026-03-02T09:12:00.000Z", decided_at: "2026-03-02T09:12:00.000Z", revoked_at: null,
};
export const agentExamples = {
  verifyAuthorized: { authorized: true, claim_id: claim.claim_id, approved_at: claim.approved_at },
  namespaceClaims: {
    claims: [{ claim_id: claim.claim_id, namespace: "acme-corp", public_key: key, service: "billing-api", subject: claim.subject, agent_id: "invoice-bot", agent_name: "Invoice bot", approved_at: claim.approved_at }],
    pagination: { limit: 500, offset: 0, total: 1, has_more: false },
  },
  claimBody: { namespace: "acme-corp", public_key: key, service: "billing-api", agent_ip: "203.0.113.7", nonce: "2f1c9a7e-5b3d-4e8f", subject: "alice@acme.example", agent_id: "invoice-bot", agent_name: "Invoice bot" },
  submitted: { claim_id: claim.claim_id, status: "pending", service: "billing-api", message: "Access request submitted. Awaiting review." },
  existing: { claim_id: claim.claim_id, status: "approved", service: "billing-api", message: "Authorization already approved for this key." },
  claim,
  voted: {
    ...claim,
    review: {
      request_id: claim.request_id, status: "approved", decided_by: "review", decision_status: "approved", reason_code: "review_approved",
      tool_name: "countersign.agent_claim", agent_id: "invoice-bot", human_principal: claim.subject, policy_id: null, reason: "Approved by Dana",
      confidence_bucket: "none", created_at: claim.created_at, decided_at: claim.approved_at, expires_at: "2026-03-03T09:00:00.000Z",
      age_seconds: 720, approvals: { received: 1, required: 1, groups: [] }, votes: 1,
    },
  },
  revoked: { ...claim, status: "revoked", reason: "laptop lost", revoked_at: "2026-03-09T16:00:00.000Z" },
  claimList: { claims: [{ ...claim, status: "pending", approved_at: null, decided_at: null, reason: null }] },
  namespace: { namespace: "acme-corp", tenant_id: "t_5d2c9e41a07b3f8c6e12", created_at: "2026-03-01T08:00:00.000Z" },
  service: { slug: "billing-api", name: "Billing API", description: "Invoices and refunds", created_at: "2026-03-01T08:05:00.000Z" },
  serviceKey: {
    api_key_id: "key_8c1e3a5f7b9d0e2c", service: "billing-api", label: "billing gateway", key_prefix: "csk_Qm7v",
    created_at: "2026-03-01T08:06:00.000Z", api_key: "csk_Qm7vN0tARealKeyJustAnExampleOfItsShape0123",
  },
};

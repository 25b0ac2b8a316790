import { z } from "zod";
import { confidenceBuckets } from "../../../judge/judge.js";
import { decisions } from "../../../policies/policy-schema.js";
import { reviewRulesSchema } from "../../../requests/review-rules.js";
import { isoTime } from "./common.js";

/** The policy endpoints' answers (src/http/routes/policies.ts, policy-management.ts). They describe answers; nothing parses with them. */
const contentHash = z.string().regex(/^sha256:[0-9a-f]{64}$/).describe("sha256: and the SHA-256 of the version's RFC 8785 canonical content");
const status = z.enum(["active", "retired"]).describe("retired: DELETE /policies/{policy_id} made a version that applies to nothing");
const warningSchema = z.object({ code: z.enum(["default_approve", "shadow_mode"]), message: z.string() });
const conditionSchema = z.object({ id: z.string(), when: z.string().describe("A CEL expression"), decision: z.enum(decisions), reason: z.string() });
const documentRefSchema = z.object({
  document_id: z.string(),
  title: z.string(),
  media_type: z.enum(["text/markdown", "text/plain"]),
  content_hash: z.string(),
});

const HASH = "sha256:4b8e1cd1a0c3f5bb2b7e3b0f9a8d7c6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c";
const HASH_2 = "sha256:9f1c2d3e4a5b6c7d8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5";
const AT = "2026-12-05T03:40:12.345Z";

export const policyListSchema = z.object({
  policies: z.array(
    z.object({
      policy_id: z.string(),
      policy_version_id: z.string(),
      version: z.int().positive(),
      status,
      content_hash: contentHash,
      description: z.string(),
      tools: z.array(z.string()).describe("Tools the policy covers; empty = every tool"),
      default_decision: z.enum(decisions),
      condition_count: z.int().nonnegative(),
      registered_at: isoTime.describe("When the current version was registered"),
      warnings: z.array(warningSchema),
    }),
  ),
  next_cursor: z.string().nullable().describe("Pass back as `cursor` for the next page; null on the last page"),
});
export const policyListExample = {
  policies: [
    {
      policy_id: "refund-policy",
      policy_version_id: "pv_01JEXAMPLE",
      version: 3,
      status: "active",
      content_hash: HASH,
      description: "Refunds of customer payments",
      tools: ["stripe_refund"],
      default_decision: "review",
      condition_count: 2,
      registered_at: AT,
      warnings: [],
    },
  ],
  next_cursor: null,
};

export const policyDetailSchema = z.object({
  policy_id: z.string(),
  status,
  policy_version_id: z.string(),
  version: z.int().positive(),
  content_hash: contentHash,
  registered_at: isoTime,
  description: z.string(),
  rules: z.array(z.string()),
  tools: z.array(z.string()),
  conditions: z.array(conditionSchema),
  default_decision: z.enum(decisions),
  documents: z.array(documentRefSchema),
  warnings: z.array(warningSchema),
});
export const policyDetailExample = {
  policy_id: "refund-policy",
  status: "active",
  policy_version_id: "pv_01JEXAMPLE",
  version: 3,
  content_hash: HASH,
  registered_at: AT,
  description: "Refunds of customer payments",
  rules: ["Refunds over $1000 are never issued by agents"],
  tools: ["stripe_refund"],
  conditions: [{ id: "too-large", when: "args.amount > 1000", decision: "deny", reason: "Amount exceeds $1000 limit" }],
  default_decision: "review",
  documents: [{ document_id: "doc_01JEXAMPLE", title: "Refund handbook", media_type: "text/markdown", content_hash: HASH_2 }],
  warnings: [],
};

export const policyVersionsSchema = z.object({
  policy_id: z.string(),
  versions: z.array(
    z.object({ policy_version_id: z.string(), version: z.int().positive(), status, content_hash: contentHash, registered_at: isoTime, current: z.boolean() }),
  ),
});
export const policyVersionsExample = {
  policy_id: "refund-policy",
  versions: [
    { policy_version_id: "pv_01JEXAMPLE2", version: 2, status: "retired", content_hash: HASH_2, registered_at: AT, current: true },
    { policy_version_id: "pv_01JEXAMPLE", version: 1, status: "active", content_hash: HASH, registered_at: AT, current: false },
  ],
};

export const policyDiffSchema = z.object({
  policy_id: z.string(),
  from: z.object({ version: z.int().nonnegative().describe("0: no version (the diff of a first version)"), content_hash: contentHash.nullable() }),
  to: z.object({ version: z.int().positive(), content_hash: contentHash }),
  format: z.enum(["yaml", "json"]),
  diff: z.string().describe("A unified diff of the two versions' content, as canonical pretty-printed YAML or JSON"),
});
export const policyDiffExample = {
  policy_id: "refund-policy",
  from: { version: 1, content_hash: HASH },
  to: { version: 2, content_hash: HASH_2 },
  format: "yaml",
  diff: "===================================================================\n--- refund-policy v1\n+++ refund-policy v2\n@@ -1,2 +1,3 @@\n policy_id: refund-policy\n+retired: true\n description: Refunds of customer payments\n",
};

export const policyRetiredSchema = z.object({ policy_id: z.string(), status: z.literal("retired"), policy_version_id: z.string(), version: z.int().positive(), content_hash: contentHash });
export const policyRetiredExample = { policy_id: "refund-policy", status: "retired", policy_version_id: "pv_01JEXAMPLE2", version: 2, content_hash: HASH_2 };

export const policyRegisteredSchema = z.object({
  policy_id: z.string(),
  status: z.enum(["registered", "unchanged"]).describe("unchanged: the current version already has this content; no version was made"),
  message: z.string(),
  policy_version_id: z.string(),
  policy_content_hash: contentHash,
  version: z.int().positive(),
  warnings: z.array(warningSchema),
});
export const policyRegisteredExample = {
  policy_id: "refund-policy",
  status: "registered",
  message: "Policy registered as version 3",
  policy_version_id: "pv_01JEXAMPLE",
  policy_content_hash: HASH,
  version: 3,
  warnings: [],
};

export const documentChangeSchema = z.object({
  status: z.enum(["registered", "unchanged"]),
  policy_id: z.string(),
  document_id: z.string(),
  policy_version_id: z.string(),
  policy_content_hash: contentHash,
  version: z.int().positive(),
  chunks: z.int().nonnegative(),
  embedding_model: z.string().nullable(),
});
export const documentChangeExample = {
  status: "registered",
  policy_id: "refund-policy",
  document_id: "doc_01JEXAMPLE",
  policy_version_id: "pv_01JEXAMPLE",
  policy_content_hash: HASH,
  version: 3,
  chunks: 12,
  embedding_model: "text-embedding-3-small",
};

export const documentListSchema = z.object({
  policy_id: z.string(),
  policy_version_id: z.string(),
  documents: z.array(documentRefSchema.extend({ chunks: z.int().nonnegative() })),
});
export const documentListExample = {
  policy_id: "refund-policy",
  policy_version_id: "pv_01JEXAMPLE",
  documents: [{ document_id: "doc_01JEXAMPLE", title: "Refund handbook", media_type: "text/markdown", content_hash: HASH_2, chunks: 12 }],
};

const rulesOut = reviewRulesSchema;
export const reviewSettingsViewSchema = rulesOut.extend({ minimum_confidence_bucket: z.enum(confidenceBuckets), policies: z.record(z.string(), rulesOut) });
const exampleRules = { approvals_required: 1, groups: [], reviewers: null, expiry_seconds: 86_400, reminder_after_seconds: null, escalate_after_seconds: null, require_passkey: false };
export const reviewSettingsViewExample = {
  minimum_confidence_bucket: "high",
  ...exampleRules,
  policies: { "refund-policy": { ...exampleRules, approvals_required: 2 } },
};
export const policyReviewRulesSchema = rulesOut.extend({ policy_id: z.string(), source: z.enum(["policy", "tenant"]) });
export const policyReviewRulesExample = { policy_id: "refund-policy", source: "policy", ...exampleRules, approvals_required: 2 };

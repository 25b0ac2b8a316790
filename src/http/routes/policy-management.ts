import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import type { AppContext } from "../app-context.js";
import { AppError } from "../../errors.js";
import { policyDiff, policyFormats } from "../../policies/policy-diff.js";
import { listPolicies, listPolicyVersions, readPolicyVersion, type PolicyVersionRecord } from "../../policies/policy-reads.js";
import { retirePolicy } from "../../policies/policy-retire.js";
import { policyWarnings } from "../../policies/policy-schema.js";
import { requireScope, type Scope } from "../../tenancy/api-keys.js";
import { authenticate, principalOf } from "../auth.js";
import { documented } from "../openapi/route-doc.js";
import {
  policyDetailExample,
  policyDetailSchema,
  policyDiffExample,
  policyDiffSchema,
  policyListExample,
  policyListSchema,
  policyRetiredExample,
  policyRetiredSchema,
  policyVersionsExample,
  policyVersionsSchema,
} from "../openapi/schemas/policies.js";
import { queryInteger } from "../query.js";

export const policyParams = z.object({ policy_id: z.string().min(1).max(128) });
const versionNumber = queryInteger(1, 2_147_483_647);
const versionParams = policyParams.extend({ version: versionNumber });
const listQuery = z.object({
  limit: queryInteger(1, 200).default(50),
  cursor: z.string().min(1).max(500).optional(),
  include_retired: z.enum(["true", "false"]).default("false"),
});
const diffQuery = z.object({ from: versionNumber.optional(), to: versionNumber.optional(), format: z.enum(policyFormats).default("yaml") });

const READERS: Scope[] = ["admin", "reviewer"];
const COMMON_ERRORS = ["insufficient_scope", "tenant_secrets_unavailable"];

/** One entry of GET /policies: what a reviewer needs to judge requests against it, plus its warnings. */
function listEntry(p: PolicyVersionRecord) {
  return {
    policy_id: p.policyId,
    policy_version_id: p.versionId,
    version: p.version,
    status: p.status,
    content_hash: p.contentHash,
    description: p.doc.description ?? "",
    tools: p.doc.tools ?? [],
    default_decision: p.doc.default_decision ?? "review",
    condition_count: (p.doc.conditions ?? []).length,
    registered_at: p.registeredAt.toISOString(),
    warnings: policyWarnings(p.doc),
  };
}

/** A version in full (GET /policies/{id}, /versions/{version}). Older stored content may lack defaulted members. */
function detail(p: PolicyVersionRecord) {
  return {
    policy_id: p.policyId,
    status: p.status,
    policy_version_id: p.versionId,
    version: p.version,
    content_hash: p.contentHash,
    registered_at: p.registeredAt.toISOString(),
    description: p.doc.description ?? "",
    rules: p.doc.rules ?? [],
    tools: p.doc.tools ?? [],
    conditions: (p.doc.conditions ?? []).map((c) => ({ id: c.id, when: c.when, decision: c.decision, reason: c.reason ?? "" })),
    default_decision: p.doc.default_decision ?? "review",
    documents: (p.doc.documents ?? []).map((d) => ({ document_id: d.document_id, title: d.title, media_type: d.media_type, content_hash: d.content_hash })),
    warnings: policyWarnings(p.doc),
  };
}

const listDoc = documented({
  summary: "List policies (current version of each)",
  description: "Ordered by policy_id. Keyset pagination: pass `next_cursor` back as `cursor`. Retired policies are left out unless include_retired=true.",
  tags: ["policies"],
  auth: READERS,
  query: listQuery,
  responses: { 200: { description: "One page of policies", schema: policyListSchema, example: policyListExample } },
  errors: ["validation_failed", ...COMMON_ERRORS],
});
const getDoc = documented({
  summary: "Read a policy's current version",
  description: "Conditions, rules, attached documents, default decision and content hash. A retired policy answers its retired version (status retired).",
  tags: ["policies"],
  auth: READERS,
  params: policyParams,
  responses: { 200: { description: "The current version", schema: policyDetailSchema, example: policyDetailExample } },
  errors: ["validation_failed", "policy_not_found", ...COMMON_ERRORS],
});
const versionsDoc = documented({
  summary: "List a policy's versions, newest first",
  tags: ["policies"],
  auth: READERS,
  params: policyParams,
  responses: { 200: { description: "Every version, with its hash and status", schema: policyVersionsSchema, example: policyVersionsExample } },
  errors: ["validation_failed", "policy_not_found", ...COMMON_ERRORS],
});
const versionDoc = documented({
  summary: "Read one version of a policy",
  tags: ["policies"],
  auth: READERS,
  params: versionParams,
  responses: { 200: { description: "That version", schema: policyDetailSchema, example: policyDetailExample } },
  errors: ["validation_failed", "policy_not_found", "policy_version_not_found", ...COMMON_ERRORS],
});
const diffDoc = documented({
  summary: "Diff two versions of a policy",
  description:
    "A unified diff of the two versions' content as canonical pretty-printed YAML (default) or JSON. `to` defaults to the current version, `from` to the one before `to` (0, nothing, for a first version).",
  tags: ["policies"],
  auth: READERS,
  params: policyParams,
  query: diffQuery,
  responses: { 200: { description: "The diff", schema: policyDiffSchema, example: policyDiffExample } },
  errors: ["validation_failed", "policy_not_found", "policy_version_not_found", ...COMMON_ERRORS],
});
const retireDoc = documented({
  summary: "Retire a policy",
  description:
    "Makes a new version, marked retired, that applies to nothing: the policy never decides again (a request naming it in context.policy_id goes to review as policy_not_found). History and hashes stay. Retiring a retired policy answers the same version. Registering the policy id again makes a new active version.",
  tags: ["policies"],
  auth: ["admin"],
  params: policyParams,
  responses: { 200: { description: "The retired version", schema: policyRetiredSchema, example: policyRetiredExample } },
  errors: ["validation_failed", "policy_not_found", ...COMMON_ERRORS],
});

/** GET /policies (paged), one policy, its versions and diffs, and DELETE (retire). */
export function policyManagementRoutes(app: FastifyInstance, ctx: AppContext) {
  const reader = (request: FastifyRequest, action: string) => requireScope(principalOf(request), READERS, action);

  // Reviewers read policies too (as GET /review-settings): they judge requests against them.
  app.get("/policies", { preHandler: authenticate(ctx), config: listDoc }, async (request) => {
    reader(request, "list policies");
    const q = listQuery.parse(request.query);
    const page = await listPolicies(request.tenantSql, { limit: q.limit, cursor: q.cursor, includeRetired: q.include_retired === "true" });
    return { policies: page.policies.map(listEntry), next_cursor: page.nextCursor };
  });

  app.get("/policies/:policy_id", { preHandler: authenticate(ctx), config: getDoc }, async (request) => {
    reader(request, "read policies");
    const { policy_id } = policyParams.parse(request.params);
    return detail(await readPolicyVersion(request.tenantSql, policy_id));
  });

  app.get("/policies/:policy_id/versions", { preHandler: authenticate(ctx), config: versionsDoc }, async (request) => {
    reader(request, "read policies");
    const { policy_id } = policyParams.parse(request.params);
    const versions = await listPolicyVersions(request.tenantSql, policy_id);
    return {
      policy_id,
      versions: versions.map((v) => ({
        policy_version_id: v.versionId,
        version: v.version,
        status: v.status,
        content_hash: v.contentHash,
        registered_at: v.registeredAt.toISOString(),
        current: v.current,
      })),
    };
  });

  app.get("/policies/:policy_id/versions/:version", { preHandler: authenticate(ctx), config: versionDoc }, async (request) => {
    reader(request, "read policies");
    const { policy_id, version } = versionParams.parse(request.params);
    return detail(await readPolicyVersion(request.tenantSql, policy_id, version));
  });

  app.get("/policies/:policy_id/diff", { preHandler: authenticate(ctx), config: diffDoc }, async (request) => {
    reader(request, "read policies");
    const { policy_id } = policyParams.parse(request.params);
    const q = diffQuery.parse(request.query);
    const sql = request.tenantSql;
    const to = await readPolicyVersion(sql, policy_id, q.to);
    const fromVersion = q.from ?? to.version - 1;
    if (q.from !== undefined && q.from === to.version) throw new AppError("validation_failed", "from and to name the same version");
    const from = fromVersion === 0 ? null : await readPolicyVersion(sql, policy_id, fromVersion);
    const diff = policyDiff(
      { label: from ? `${policy_id} v${from.version}` : `${policy_id} (none)`, content: from?.doc ?? null },
      { label: `${policy_id} v${to.version}`, content: to.doc },
      q.format,
    );
    return {
      policy_id,
      from: { version: fromVersion, content_hash: from?.contentHash ?? null },
      to: { version: to.version, content_hash: to.contentHash },
      format: q.format,
      diff,
    };
  });

  // Admin only, as registration: retiring a strict policy would loosen what agents may do.
  app.delete("/policies/:policy_id", { preHandler: authenticate(ctx), config: retireDoc }, async (request) => {
    const principal = principalOf(request);
    requireScope(principal, ["admin"], "retire policies");
    const { policy_id } = policyParams.parse(request.params);
    const result = await retirePolicy(request.tenantSql, policy_id);
    ctx.policies.invalidate(principal.tenantId);
    return result;
  });
}

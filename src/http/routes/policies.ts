import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import type { AppContext } from "../app-context.js";
import { AppError } from "../../errors.js";
import { addPolicyDocument, listPolicyDocuments, removePolicyDocument, type NewDocument } from "../../policies/policy-documents.js";
import { policyWarnings, registerPolicySchema } from "../../policies/policy-schema.js";
import { listCurrentPolicies, registerPolicy, type PolicyListing } from "../../policies/policy-store.js";
import { reviewRulesSchema } from "../../requests/review-rules.js";
import { readReviewSettings, reviewSettingsSchema, rulesFor, settingsView, writePolicyReviewRules, writeReviewSettings } from "../../requests/review-settings.js";
import { requireScope } from "../../tenancy/api-keys.js";
import { withIdempotency } from "../../tenancy/idempotency.js";
import { canonicalJson, sha256Hex } from "../../tokens/canonical-json.js";
import { authenticate, idempotencyKeyOf, principalOf } from "../auth.js";

const MAX_DOCUMENT_CHARS = 512 * 1024;
const documentText = z
  .string()
  .max(MAX_DOCUMENT_CHARS, `a document may hold at most ${MAX_DOCUMENT_CHARS} characters`)
  .refine((s) => s.trim() !== "", "the document is empty");
const documentBodySchema = z.strictObject({
  title: z.string().trim().min(1).max(300),
  content: documentText,
  media_type: z.enum(["text/markdown", "text/plain"]).default("text/markdown"),
});
const policyParams = z.object({ policy_id: z.string().min(1).max(128) });
const documentParams = policyParams.extend({ document_id: z.string().min(1).max(100) });
const policyQuery = z.object({ policy_id: z.string().min(1).max(128).optional() });
const titleQuery = z.object({ title: z.string().trim().min(1).max(300).default("Untitled document") });

/** A document arrives as JSON ({title, content, media_type}) or as the raw markdown / text itself. */
function documentOf(request: FastifyRequest): NewDocument {
  // Decided by the declared type, not the parsed value: a JSON string body is not a document.
  const type = request.headers["content-type"]?.split(";")[0]?.trim().toLowerCase();
  if (type !== "text/markdown" && type !== "text/plain") return documentBodySchema.parse(request.body);
  const media_type = type;
  return { title: titleQuery.parse(request.query).title, media_type, content: documentText.parse(request.body) };
}

/** One entry of GET /policies: what a reviewer needs to judge requests against it, plus its warnings. */
function policyView(p: PolicyListing) {
  return {
    policy_id: p.policyId,
    policy_version_id: p.versionId,
    version: p.version,
    description: p.doc.description ?? "",
    tools: p.doc.tools ?? [],
    default_decision: p.doc.default_decision ?? "review",
    condition_count: (p.doc.conditions ?? []).length,
    registered_at: p.registeredAt.toISOString(),
    warnings: policyWarnings(p.doc),
  };
}

export function policyRoutes(app: FastifyInstance, ctx: AppContext) {
  // Admin only: an agent that could rewrite its own policy would approve itself.
  const admin = (request: FastifyRequest, action: string) => {
    const principal = principalOf(request);
    requireScope(principal, ["admin"], action);
    return principal;
  };

  app.post("/register-policy", { preHandler: authenticate(ctx) }, async (request) => {
    const principal = admin(request, "register policies");
    const doc = registerPolicySchema.parse(request.body);
    const sql = request.tenantSql;
    const result = await withIdempotency(sql, "register-policy", idempotencyKeyOf(request), sha256Hex(canonicalJson(request.body)), () =>
      // Warnings are part of the stored answer, so a replay under the same Idempotency-Key repeats them.
      // The tenant's own embedding key, when its bundle gives one (authenticate opened its database, reading the bundle).
      registerPolicy(sql, doc, ctx.embeddingsFor(principal.tenantId)).then((registered) => ({ ...registered, warnings: policyWarnings(doc) })),
    );
    ctx.policies.invalidate(principal.tenantId);
    return result;
  });

  // Reviewers read it too (as GET /review-settings): they judge requests against these policies.
  app.get("/policies", { preHandler: authenticate(ctx) }, async (request) => {
    const principal = principalOf(request);
    requireScope(principal, ["admin", "reviewer"], "list policies");
    const policies = await listCurrentPolicies(request.tenantSql);
    return { policies: policies.map(policyView) };
  });

  // Markdown and plain-text bodies are accepted here only; every other endpoint takes JSON alone.
  app.register(async (documents) => {
    documents.addContentTypeParser(["text/markdown", "text/plain"], { parseAs: "string" }, (_request, body, done) => done(null, body));

    documents.post("/policies/:policy_id/documents", { preHandler: authenticate(ctx) }, async (request, reply) => {
      const principal = admin(request, "attach policy documents");
      const { policy_id } = policyParams.parse(request.params);
      const doc = documentOf(request);
      const sql = request.tenantSql;
      const bodyHash = sha256Hex(canonicalJson({ policy_id, ...doc }));
      const result = await withIdempotency(sql, "policy-document", idempotencyKeyOf(request), bodyHash, () =>
        addPolicyDocument(sql, ctx.embeddingsFor(principal.tenantId), policy_id, doc),
      );
      ctx.policies.invalidate(principal.tenantId);
      return reply.code(result.status === "unchanged" ? 200 : 201).send(result);
    });
  });

  app.get("/policies/:policy_id/documents", { preHandler: authenticate(ctx) }, async (request) => {
    admin(request, "list policy documents");
    const { policy_id } = policyParams.parse(request.params);
    return listPolicyDocuments(request.tenantSql, policy_id);
  });

  app.delete("/policies/:policy_id/documents/:document_id", { preHandler: authenticate(ctx) }, async (request) => {
    const principal = admin(request, "remove policy documents");
    const { policy_id, document_id } = documentParams.parse(request.params);
    const result = await removePolicyDocument(request.tenantSql, policy_id, document_id);
    ctx.policies.invalidate(principal.tenantId);
    return result;
  });

  // Without policy_id: the tenant's threshold and default rules. With it: that policy's override.
  app.get("/review-settings", { preHandler: authenticate(ctx) }, async (request) => {
    const principal = principalOf(request);
    requireScope(principal, ["admin", "reviewer"], "read review settings");
    const { policy_id } = policyQuery.parse(request.query);
    const settings = await readReviewSettings(request.tenantSql);
    if (!policy_id) return settingsView(settings);
    return { policy_id, source: settings.policies[policy_id] ? "policy" : "tenant", ...rulesFor(settings, policy_id) };
  });

  app.put("/review-settings", { preHandler: authenticate(ctx) }, async (request) => {
    const principal = admin(request, "change review settings");
    const { policy_id } = policyQuery.parse(request.query);
    const sql = request.tenantSql;
    const result = policy_id
      ? await writePolicyReviewRules(sql, policy_id, reviewRulesSchema.parse(request.body))
      : await writeReviewSettings(sql, reviewSettingsSchema.parse(request.body));
    ctx.reviewSettings.invalidate(principal.tenantId);
    return policy_id ? { policy_id, source: "policy", ...rulesFor(result, policy_id) } : settingsView(result);
  });

  app.delete("/review-settings", { preHandler: authenticate(ctx) }, async (request) => {
    const principal = admin(request, "change review settings");
    const { policy_id } = policyQuery.parse(request.query);
    if (!policy_id) throw new AppError("bad_request", "DELETE /review-settings needs ?policy_id= (the tenant settings can only be replaced)");
    const result = await writePolicyReviewRules(request.tenantSql, policy_id, null);
    ctx.reviewSettings.invalidate(principal.tenantId);
    return { policy_id, source: "tenant", ...rulesFor(result, policy_id) };
  });
}

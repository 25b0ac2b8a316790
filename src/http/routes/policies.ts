import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import type { AppContext } from "../app-context.js";
import { AppError } from "../../errors.js";
import { addPolicyDocument, listPolicyDocuments, removePolicyDocument, type NewDocument } from "../../policies/policy-documents.js";
import { policyWarnings, registerPolicySchema } from "../../policies/policy-schema.js";
import { modeWarnings } from "../../policies/policy-modes.js";
import { registerPolicy } from "../../policies/policy-store.js";
import { reviewRulesSchema } from "../../requests/review-rules.js";
import { readReviewSettings, reviewSettingsSchema, rulesFor, settingsView, writePolicyReviewRules, writeReviewSettings } from "../../requests/review-settings.js";
import { requireScope } from "../../tenancy/api-keys.js";
import { withIdempotency } from "../../tenancy/idempotency.js";
import { canonicalJson, sha256Hex } from "../../tokens/canonical-json.js";
import { authenticate, idempotencyKeyOf, principalOf } from "../auth.js";
import { documented } from "../openapi/route-doc.js";
import {
  documentChangeExample,
  documentChangeSchema,
  documentListExample,
  documentListSchema,
  policyRegisteredExample,
  policyRegisteredSchema,
  policyReviewRulesExample,
  policyReviewRulesSchema,
  reviewSettingsViewExample,
  reviewSettingsViewSchema,
} from "../openapi/schemas/policies.js";
import { policyManagementRoutes, policyParams } from "./policy-management.js";
import { policyModeRoutes } from "./policy-modes.js";

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

const COMMON_ERRORS = ["insufficient_scope", "tenant_secrets_unavailable"];
const settingsAnswer = z.union([reviewSettingsViewSchema, policyReviewRulesSchema]);

const registerDoc = documented({
  summary: "Register a policy (a new version when its content changed)",
  description:
    "Idempotent by content: the same content answers `unchanged` with the current version. Conditions are CEL and are compiled here; one that does not compile is a 400 naming it. Registering a retired policy id makes a new active version. Honours Idempotency-Key.",
  tags: ["policies"],
  auth: ["admin"],
  body: registerPolicySchema,
  bodyExample: {
    policy_id: "refund-policy",
    description: "Refunds of customer payments",
    rules: ["Refunds over $1000 are never issued by agents"],
    tools: ["stripe_refund"],
    conditions: [{ id: "too-large", when: "args.amount > 1000", decision: "deny", reason: "Amount exceeds $1000 limit" }],
    default_decision: "review",
  },
  responses: { 200: { description: "The registered (or unchanged) version, with warnings about it", schema: policyRegisteredSchema, example: policyRegisteredExample } },
  errors: ["validation_failed", "invalid_condition", "idempotency_key_reused", "embedding_unavailable", ...COMMON_ERRORS],
});
const addDocumentDoc = documented({
  summary: "Attach a document to a policy (a new version)",
  description: "JSON {title, content, media_type}, or the markdown / plain text itself with ?title=. The same document again answers 200 `unchanged`. Honours Idempotency-Key.",
  tags: ["policies"],
  auth: ["admin"],
  params: policyParams,
  query: titleQuery,
  body: documentBodySchema,
  bodyExample: { title: "Refund handbook", content: "# Refunds\n\nRefunds over $1000 need a manager.", media_type: "text/markdown" },
  bodyMediaTypes: ["application/json", "text/markdown", "text/plain"],
  responses: {
    200: { description: "Already attached: nothing changed", schema: documentChangeSchema, example: { ...documentChangeExample, status: "unchanged" } },
    201: { description: "Attached, as a new version", schema: documentChangeSchema, example: documentChangeExample },
  },
  errors: ["validation_failed", "policy_not_found", "policy_retired", "idempotency_key_reused", "embedding_unavailable", "unsupported_media_type", ...COMMON_ERRORS],
});
const listDocumentsDoc = documented({
  summary: "List the documents of a policy's current version",
  tags: ["policies"],
  auth: ["admin"],
  params: policyParams,
  responses: { 200: { description: "The documents, with their chunk counts", schema: documentListSchema, example: documentListExample } },
  errors: ["validation_failed", "policy_not_found", ...COMMON_ERRORS],
});
const removeDocumentDoc = documented({
  summary: "Detach a document from a policy (a new version)",
  description: "Older versions, and the evidence of decisions made under them, keep the document.",
  tags: ["policies"],
  auth: ["admin"],
  params: documentParams,
  responses: { 200: { description: "The new version without the document", schema: documentChangeSchema, example: { ...documentChangeExample, chunks: 0, embedding_model: null } } },
  errors: ["validation_failed", "policy_not_found", "policy_retired", "document_not_found", ...COMMON_ERRORS],
});
const readSettingsDoc = documented({
  summary: "Read review settings (the tenant's, or one policy's rules)",
  description: "Without policy_id: the confidence threshold, the default review rules and every policy override. With it: the rules that policy's requests are reviewed by, and where they come from.",
  tags: ["policies"],
  auth: ["admin", "reviewer"],
  query: policyQuery,
  responses: { 200: { description: "The settings", schema: settingsAnswer, example: reviewSettingsViewExample } },
  errors: ["validation_failed", ...COMMON_ERRORS],
});
const writeSettingsDoc = documented({
  summary: "Replace review settings (the tenant's, or one policy's rules)",
  description: "Without policy_id the body is the tenant settings (threshold and rules); with it, that policy's review rules.",
  tags: ["policies"],
  auth: ["admin"],
  query: policyQuery,
  body: z.union([reviewSettingsSchema, reviewRulesSchema]),
  bodyExample: { minimum_confidence_bucket: "high", approvals_required: 1 },
  responses: { 200: { description: "The settings now in force", schema: settingsAnswer, example: policyReviewRulesExample } },
  errors: ["validation_failed", ...COMMON_ERRORS],
});
const resetSettingsDoc = documented({
  summary: "Remove a policy's review rules override",
  description: "The policy's requests are then reviewed by the tenant's rules. Needs ?policy_id=.",
  tags: ["policies"],
  auth: ["admin"],
  query: policyQuery,
  responses: { 200: { description: "The rules now in force for the policy", schema: policyReviewRulesSchema, example: { ...policyReviewRulesExample, source: "tenant", approvals_required: 1 } } },
  errors: ["bad_request", "validation_failed", ...COMMON_ERRORS],
});

export function policyRoutes(app: FastifyInstance, ctx: AppContext) {
  // Admin only: an agent that could rewrite its own policy would approve itself.
  const admin = (request: FastifyRequest, action: string) => {
    const principal = principalOf(request);
    requireScope(principal, ["admin"], action);
    return principal;
  };

  app.post("/register-policy", { preHandler: authenticate(ctx), config: registerDoc }, async (request) => {
    const principal = admin(request, "register policies");
    const doc = registerPolicySchema.parse(request.body);
    const sql = request.tenantSql;
    const result = await withIdempotency(sql, "register-policy", idempotencyKeyOf(request), sha256Hex(canonicalJson(request.body)), () =>
      // Warnings are part of the stored answer, so a replay under the same Idempotency-Key repeats them.
      // The tenant's own embedding key, when its bundle gives one (authenticate opened its database, reading the bundle).
      registerPolicy(sql, doc, ctx.embeddingsFor(principal.tenantId)).then(async (registered) => ({
        ...registered,
        warnings: [...policyWarnings(doc), ...(await modeWarnings(sql, doc.policy_id))],
      })),
    );
    ctx.policies.invalidate(principal.tenantId);
    return result;
  });

  policyManagementRoutes(app, ctx);
  policyModeRoutes(app, ctx);

  // Markdown and plain-text bodies are accepted here only; every other endpoint takes JSON alone.
  app.register(async (documents) => {
    documents.addContentTypeParser(["text/markdown", "text/plain"], { parseAs: "string" }, (_request, body, done) => done(null, body));

    documents.post("/policies/:policy_id/documents", { preHandler: authenticate(ctx), config: addDocumentDoc }, async (request, reply) => {
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

  app.get("/policies/:policy_id/documents", { preHandler: authenticate(ctx), config: listDocumentsDoc }, async (request) => {
    admin(request, "list policy documents");
    const { policy_id } = policyParams.parse(request.params);
    return listPolicyDocuments(request.tenantSql, policy_id);
  });

  app.delete("/policies/:policy_id/documents/:document_id", { preHandler: authenticate(ctx), config: removeDocumentDoc }, async (request) => {
    const principal = admin(request, "remove policy documents");
    const { policy_id, document_id } = documentParams.parse(request.params);
    const result = await removePolicyDocument(request.tenantSql, policy_id, document_id);
    ctx.policies.invalidate(principal.tenantId);
    return result;
  });

  // Without policy_id: the tenant's threshold and default rules. With it: that policy's override.
  app.get("/review-settings", { preHandler: authenticate(ctx), config: readSettingsDoc }, async (request) => {
    const principal = principalOf(request);
    requireScope(principal, ["admin", "reviewer"], "read review settings");
    const { policy_id } = policyQuery.parse(request.query);
    const settings = await readReviewSettings(request.tenantSql);
    if (!policy_id) return settingsView(settings);
    return { policy_id, source: settings.policies[policy_id] ? "policy" : "tenant", ...rulesFor(settings, policy_id) };
  });

  app.put("/review-settings", { preHandler: authenticate(ctx), config: writeSettingsDoc }, async (request) => {
    const principal = admin(request, "change review settings");
    const { policy_id } = policyQuery.parse(request.query);
    const sql = request.tenantSql;
    const result = policy_id
      ? await writePolicyReviewRules(sql, policy_id, reviewRulesSchema.parse(request.body))
      : await writeReviewSettings(sql, reviewSettingsSchema.parse(request.body));
    ctx.reviewSettings.invalidate(principal.tenantId);
    return policy_id ? { policy_id, source: "policy", ...rulesFor(result, policy_id) } : settingsView(result);
  });

  app.delete("/review-settings", { preHandler: authenticate(ctx), config: resetSettingsDoc }, async (request) => {
    const principal = admin(request, "change review settings");
    const { policy_id } = policyQuery.parse(request.query);
    if (!policy_id) throw new AppError("bad_request", "DELETE /review-settings needs ?policy_id= (the tenant settings can only be replaced)");
    const result = await writePolicyReviewRules(request.tenantSql, policy_id, null);
    ctx.reviewSettings.invalidate(principal.tenantId);
    return { policy_id, source: "tenant", ...rulesFor(result, policy_id) };
  });
}

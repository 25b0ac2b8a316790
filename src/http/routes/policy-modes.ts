import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import type { AppContext } from "../app-context.js";
import { policyModes } from "../../policies/policy-modes.js";
import { decisions } from "../../policies/policy-schema.js";
import { replayBodyDocSchema, replayBodySchema } from "../../requests/replay-schema.js";
import { requireScope, type Principal, type Scope } from "../../tenancy/api-keys.js";
import { authenticate, principalOf } from "../auth.js";
import { documented } from "../openapi/route-doc.js";
import {
  modesViewExample,
  modesViewSchema,
  policyModeExample,
  policyModeSchema,
  replayReportExample,
  replayReportSchema,
  tenantModeExample,
  tenantModeSchema,
} from "../openapi/schemas/policy-modes.js";
import { policyParams } from "./policy-management.js";

const reason = z.string().max(500).default("").describe("Why, for the ledger event, the webhook and the notification");
const policyModeBody = z.strictObject({ mode: z.enum(policyModes), reason });
const tenantModeBody = z.strictObject({
  mode: z.enum(policyModes),
  shadow_default: z.enum(decisions).optional().describe("Left out: unchanged"),
  reason,
});

const READERS: Scope[] = ["admin", "reviewer"];
const COMMON_ERRORS = ["insufficient_scope", "tenant_secrets_unavailable"];
const MODE_NOTE =
  "Each change is one transaction with a `vault.audit` ledger event (policy.mode_changed / tenant.mode_changed), a `policy.mode_changed` webhook and a Slack/email notification (log-only is called out). A request that changes nothing writes nothing (`changed: false`). Other vault processes and a judge service see the change within VAULT_POLICY_CACHE_TTL_MS.";

const readModesDoc = documented({
  summary: "Read the tenant's mode, shadow default and the policies in shadow mode",
  tags: ["policies"],
  auth: READERS,
  responses: { 200: { description: "The modes", schema: modesViewSchema, example: modesViewExample } },
  errors: [...COMMON_ERRORS],
});
const writeTenantDoc = documented({
  summary: "Set the tenant's mode (enforce or shadow) and its shadow default",
  description: `In shadow mode every policy is evaluated and recorded but none decides: every request gets the shadow default. The shadow default also answers requests that only shadow-mode policies apply to. ${MODE_NOTE}`,
  tags: ["policies"],
  auth: ["admin"],
  body: tenantModeBody,
  bodyExample: { mode: "enforce", shadow_default: "review", reason: "log-only rollout finished" },
  responses: { 200: { description: "The tenant's mode now", schema: tenantModeSchema, example: tenantModeExample } },
  errors: ["validation_failed", ...COMMON_ERRORS],
});
const readPolicyDoc = documented({
  summary: "Read a policy's mode",
  tags: ["policies"],
  auth: READERS,
  params: policyParams,
  responses: { 200: { description: "The policy's mode", schema: policyModeSchema, example: { ...policyModeExample, changed: false, ledger_event_uuid: null } } },
  errors: ["validation_failed", "policy_not_found", ...COMMON_ERRORS],
});
const writePolicyDoc = documented({
  summary: "Switch a policy between enforce and shadow (log-only)",
  description: `A shadow policy is evaluated (conditions and default decision, never the LLM) on every request it applies to; what it would have decided goes into the request's ledger event (evidence chunk \`shadow\`, enforced false), and the enforcing policies decide. Not part of the policy's content: no new version, no new hash. ${MODE_NOTE}`,
  tags: ["policies"],
  auth: ["admin"],
  params: policyParams,
  body: policyModeBody,
  bodyExample: { mode: "shadow", reason: "try the new refund limits on live traffic first" },
  responses: { 200: { description: "The policy's mode now", schema: policyModeSchema, example: policyModeExample } },
  errors: ["validation_failed", "policy_not_found", ...COMMON_ERRORS],
});
const replayDoc = documented({
  summary: "Replay a candidate version of a policy over recorded requests",
  description:
    "Judges the tenant's recorded clearance requests in the window (newest first, up to `limit`) with `candidate` in place of the policy's current version, alongside the other active policies, and reports old → new decisions and the requests that would change. Conditions and defaults always; retrieval over the candidate's text and the LLM step only with `with_llm` (the report counts the decisions that relied on it). Writes nothing but a `policy.replayed` vault.audit ledger event. One replay per tenant at a time (409 `replay_in_progress`); a time budget bounds it (`stopped: time_budget`).",
  tags: ["policies"],
  auth: ["admin"],
  params: policyParams,
  body: replayBodyDocSchema,
  bodyExample: {
    candidate: {
      policy_id: "refund-policy",
      tools: ["stripe_refund"],
      conditions: [{ id: "over-500", when: "args.amount > 500", decision: "deny", reason: "Refunds over $500 need a manager" }],
      default_decision: "approve",
    },
    since: "30d",
    limit: 10000,
  },
  responses: { 200: { description: "The report", schema: replayReportSchema, example: replayReportExample } },
  errors: ["validation_failed", "invalid_condition", "replay_in_progress", "replay_capacity", "replay_llm_unavailable", "embedding_unavailable", ...COMMON_ERRORS],
});

/** Who made a change, as recorded: the reviewer behind the key or session, else the API key. */
const actorOf = (p: Principal) => p.reviewer?.id ?? p.keyId;

/** Shadow mode (policy and tenant) and replay (docs/shadow-mode.md). */
export function policyModeRoutes(app: FastifyInstance, ctx: AppContext) {
  // Admin only, as registration: switching a policy to shadow disarms it.
  const admin = (request: FastifyRequest, action: string) => {
    const principal = principalOf(request);
    requireScope(principal, ["admin"], action);
    return principal;
  };
  const reader = (request: FastifyRequest, action: string) => requireScope(principalOf(request), READERS, action);

  app.get("/policy-mode", { preHandler: authenticate(ctx), config: readModesDoc }, async (request) => {
    reader(request, "read policy modes");
    return ctx.policyModes.readAll(request.tenantSql);
  });

  app.put("/policy-mode", { preHandler: authenticate(ctx), config: writeTenantDoc }, async (request) => {
    const principal = admin(request, "change the tenant's mode");
    const body = tenantModeBody.parse(request.body);
    return ctx.policyModes.setTenant(request.tenantSql, principal.tenantId, { mode: body.mode, shadow_default: body.shadow_default, actor: actorOf(principal), reason: body.reason });
  });

  app.get("/policies/:policy_id/mode", { preHandler: authenticate(ctx), config: readPolicyDoc }, async (request) => {
    reader(request, "read policy modes");
    const { policy_id } = policyParams.parse(request.params);
    return ctx.policyModes.readPolicy(request.tenantSql, policy_id);
  });

  app.put("/policies/:policy_id/mode", { preHandler: authenticate(ctx), config: writePolicyDoc }, async (request) => {
    const principal = admin(request, "change policy modes");
    const { policy_id } = policyParams.parse(request.params);
    const body = policyModeBody.parse(request.body);
    return ctx.policyModes.setPolicy(request.tenantSql, principal.tenantId, { policyId: policy_id, mode: body.mode, actor: actorOf(principal), reason: body.reason });
  });

  app.post("/policies/:policy_id/replay", { preHandler: authenticate(ctx), config: replayDoc }, async (request) => {
    const principal = admin(request, "replay policies");
    const { policy_id } = policyParams.parse(request.params);
    const body = replayBodySchema.parse(request.body);
    return ctx.replay.run(request.tenantSql, principal.tenantId, actorOf(principal), policy_id, body);
  });
}

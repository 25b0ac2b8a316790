import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import { authenticationResponseSchema, registrationResponseSchema } from "../../requests/passkey-assertion-schema.js";
import { reviewDecisionSchema } from "../../requests/request-schema.js";
import { requireScope } from "../../tenancy/api-keys.js";
import type { AppContext } from "../app-context.js";
import { authenticate, principalOf } from "../auth.js";
import { documented } from "../openapi/route-doc.js";
import {
  assertionOptionsExample,
  assertionOptionsSchema,
  passkeyListExample,
  passkeyListSchema,
  registeredPasskeyExample,
  registeredPasskeySchema,
  registrationBodyExample,
  registrationOptionsExample,
  registrationOptionsSchema,
  removedPasskeyExample,
  removedPasskeySchema,
} from "../openapi/schemas/passkeys.js";
import { requestIdParams } from "./clearance.js";

const registerBody = z.strictObject({
  response: registrationResponseSchema,
  label: z.string().trim().max(100).optional(),
  assertion: authenticationResponseSchema
    .optional()
    .describe("Required while you have an active passkey: what startAuthentication returns for the registration options' `step_up` (one of your passkeys approving this enrolment)."),
});
const optionsBody = z.strictObject({});
const listQuery = z.object({ reviewer_id: z.string().min(1).max(256).optional().describe("Admin only: list this reviewer's passkeys instead of your own.") });
const passkeyParams = z.object({ id: z.string().min(1).max(100) });
/** What the approval will carry beyond the passkey: the challenge commits to the same grant and edited arguments. */
const assertionOptionsBody = reviewDecisionSchema.omit({ approved: true, review_reason: true, passkey: true });

const tenantErrors = ["insufficient_scope", "tenant_secrets_unavailable"] as const;

const registrationOptionsDoc = documented({
  summary: "Start enrolling a passkey",
  description:
    "WebAuthn registration options for the caller (the reviewer behind the key or console session): pass them to `startRegistration` of @simplewebauthn/browser, then send its result to POST /passkeys/register within 5 minutes. Only ES256 and EdDSA credentials, with user verification. When you already have a passkey, `step_up` holds request options for `startAuthentication` (challenge = SHA-256 of the canonical `{action: \"passkey.enrol\", reviewer, challenge: <this registration challenge>}`, allowCredentials = your passkeys): one of them must approve the new enrolment. `step_up` is null for a first passkey.",
  tags: ["passkeys"],
  auth: ["reviewer", "admin"],
  body: optionsBody,
  bodyExample: {},
  responses: { 200: { description: "PublicKeyCredentialCreationOptionsJSON", schema: registrationOptionsSchema, example: registrationOptionsExample } },
  errors: ["validation_failed", "csrf_header_missing", ...tenantErrors],
});

const registerDoc = documented({
  summary: "Enrol a passkey",
  description:
    "Verifies the registration (challenge issued to you and unused, origin, RP ID, user verification, algorithm) and stores the credential. While you have an active passkey, `assertion` must be one of them signing the options' `step_up` (UV, origin, RP ID, rising counter): a stolen API key or session alone cannot add a passkey next to yours. A first passkey is trust on first use. The enrolment is a `vault.audit` `passkey.enrolled` ledger event committing the public key and a `passkey.enrolled` webhook, written in the same transaction: an auditor verifies your later approvals with that key.",
  tags: ["passkeys"],
  auth: ["reviewer", "admin"],
  body: registerBody,
  bodyExample: registrationBodyExample,
  responses: { 201: { description: "The passkey, and its enrolment event", schema: registeredPasskeySchema, example: registeredPasskeyExample } },
  errors: ["validation_failed", "csrf_header_missing", "passkey_registration_invalid", "passkey_step_up_required", "passkey_invalid", "passkey_exists", ...tenantErrors],
});

const listDoc = documented({
  summary: "List passkeys",
  description: "Your active passkeys; an admin may name another reviewer with `reviewer_id`.",
  tags: ["passkeys"],
  auth: ["reviewer", "admin"],
  query: listQuery,
  responses: { 200: { description: "Active passkeys, oldest first", schema: passkeyListSchema, example: passkeyListExample } },
  errors: ["validation_failed", ...tenantErrors],
});

const removeDoc = documented({
  summary: "Remove a passkey",
  description:
    "Your own, or (admin) any of the tenant's. It never verifies an approval again; the removal is a `passkey.removed` ledger event and a `passkey.removed` webhook. Approvals it signed before stay verifiable. A reviewer's last active passkey is removed by an admin only (a lost authenticator): otherwise a stolen key could remove it and enrol its own as a first passkey; to replace yours, enrol the new one first.",
  tags: ["passkeys"],
  auth: ["reviewer", "admin"],
  params: passkeyParams,
  responses: { 200: { description: "Removed", schema: removedPasskeySchema, example: removedPasskeyExample } },
  errors: ["validation_failed", "csrf_header_missing", "passkey_not_found", "passkey_last_removal_forbidden", ...tenantErrors],
});

const assertionOptionsDoc = documented({
  summary: "Options for signing an approval with a passkey",
  description:
    "WebAuthn request options whose challenge commits to this approval: SHA-256 of the canonical `{request_id, tool, tool_args_hash, policy_version_id, vote: \"approve\"}` (with the vote's `grant`, and the hash of its `edited_tool_args`, when given: send the same fields the vote will carry). Pass them to `startAuthentication` and send the result as the vote's `passkey`. Nothing is stored: the vote recomputes the challenge.",
  tags: ["reviews", "passkeys"],
  auth: ["reviewer", "admin"],
  params: requestIdParams,
  body: assertionOptionsBody,
  bodyExample: {},
  responses: { 200: { description: "PublicKeyCredentialRequestOptionsJSON", schema: assertionOptionsSchema, example: assertionOptionsExample } },
  errors: [
    "validation_failed",
    "csrf_header_missing",
    "request_not_found",
    "request_not_pending",
    "reviewer_not_eligible",
    "self_approval_forbidden",
    "principal_approval_forbidden",
    "already_voted",
    "passkey_not_enrolled",
    ...tenantErrors,
  ],
});

/** Reviewers' passkeys (src/passkeys/, docs/passkeys.md): enrolment, listing, removal, and the options of a signed approval. */
export function passkeyRoutes(app: FastifyInstance, ctx: AppContext) {
  const preHandler = authenticate(ctx);
  const reviewer = (request: FastifyRequest, action: string) => {
    const principal = principalOf(request);
    requireScope(principal, ["reviewer", "admin"], action);
    return principal;
  };

  app.post("/passkeys/registration-options", { preHandler, config: registrationOptionsDoc }, async (request) => {
    const principal = reviewer(request, "enrol a passkey");
    optionsBody.parse(request.body ?? {});
    return ctx.passkeys.registrationOptions(request.tenantSql, principal);
  });

  app.post("/passkeys/register", { preHandler, config: registerDoc }, async (request, reply) => {
    const principal = reviewer(request, "enrol a passkey");
    const body = registerBody.parse(request.body);
    reply.code(201);
    return ctx.passkeys.register(request.tenantSql, principal, body);
  });

  app.get("/passkeys", { preHandler, config: listDoc }, async (request) => {
    const principal = reviewer(request, "list passkeys");
    const { reviewer_id } = listQuery.parse(request.query);
    return { passkeys: await ctx.passkeys.list(request.tenantSql, principal, reviewer_id) };
  });

  app.delete("/passkeys/:id", { preHandler, config: removeDoc }, async (request) => {
    const principal = reviewer(request, "remove a passkey");
    const { id } = passkeyParams.parse(request.params);
    return ctx.passkeys.remove(request.tenantSql, principal, id);
  });

  app.post("/reviews/:request_id/passkey-options", { preHandler, config: assertionOptionsDoc }, async (request) => {
    const principal = reviewer(request, "sign an approval");
    const { request_id } = requestIdParams.parse(request.params);
    const body = assertionOptionsBody.parse(request.body ?? {});
    return ctx.reviews.passkeyOptions(request.tenantSql, principal, request_id, body);
  });
}

import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { AppContext } from "../app-context.js";
import { CLI_SESSION_KEY_LABEL, createApiKey, listApiKeys, requireScope, revokeTenantApiKey, scopes } from "../../tenancy/api-keys.js";
import { AppError } from "../../errors.js";
import { authenticate, principalOf } from "../auth.js";
import { documented } from "../openapi/route-doc.js";

const createKeyBody = z.strictObject({
  scope: z.enum(scopes),
  label: z
    .string()
    .trim()
    .max(200)
    // Labels are printed by `countersign keys list`: no escape sequences for someone else's terminal.
    .regex(/^\P{Cc}*$/u, "control characters are not allowed")
    .refine((l) => l !== CLI_SESSION_KEY_LABEL, "this label is reserved for the CLI's own temporary keys")
    .optional(),
});
const keyParams = z.object({ api_key_id: z.string().min(1).max(100) });

const createdKey = z.object({
  api_key_id: z.string(),
  tenant_id: z.string(),
  scope: z.enum(scopes),
  label: z.string(),
  key_prefix: z.string(),
  created_at: z.string(),
  api_key: z.string().describe("The raw key: shown in this answer only, never stored by the vault"),
});
const listedKey = z.object({
  api_key_id: z.string(),
  scope: z.enum(scopes),
  label: z.string(),
  key_prefix: z.string(),
  created_at: z.string(),
  revoked_at: z.string().nullable(),
});
const keyList = z.object({ keys: z.array(listedKey) });
const revokedKey = z.object({ api_key_id: z.string(), revoked: z.literal(true) });

const exampleCreated = {
  api_key_id: "key_3f9a1c0d5b7e2a64",
  tenant_id: "t_5d2c9e41a07b3f8c6e12",
  scope: "agent",
  label: "billing agent",
  key_prefix: "csk_Xb3q",
  created_at: "2026-12-05T04:00:00.000Z",
  api_key: "csk_Xb3qN0tARealKeyJustAnExampleOfItsShape0123",
};

/**
 * The tenant's API keys (admin only): create (the raw key is in the answer once, and only its hash is
 * stored), list (never a hash or a raw key) and revoke. The tenant is always the calling key's.
 */
export function keyRoutes(app: FastifyInstance, ctx: AppContext) {
  // Keys live in the control database: no tenant database is opened for these routes.
  const preHandler = authenticate(ctx, { tenantDatabase: false });

  app.post(
    "/keys",
    {
      preHandler,
      config: documented({
        summary: "Create an API key",
        description:
          "Creates an agent, reviewer or admin key for the calling key's tenant. The raw key is in this answer only. " +
          "Idempotency-Key is refused here: a replayed answer would have to be stored, and the vault never stores a raw key.",
        tags: ["keys"],
        auth: ["admin"],
        body: createKeyBody,
        bodyExample: { scope: "agent", label: "billing agent" },
        responses: { 201: { description: "The new key, with its raw value (shown once)", schema: createdKey, example: exampleCreated } },
        errors: ["validation_failed", "bad_request"],
      }),
    },
    async (request, reply) => {
      const principal = principalOf(request);
      requireScope(principal, ["admin"], "create API keys");
      if (request.headers["idempotency-key"] !== undefined) {
        throw new AppError("bad_request", "POST /keys does not take an Idempotency-Key: its answer holds the raw key, which the vault never stores");
      }
      const body = createKeyBody.parse(request.body);
      const key = await createApiKey(ctx.control, { tenantId: principal.tenantId, scope: body.scope, label: body.label });
      return reply.code(201).send({
        api_key_id: key.id,
        tenant_id: key.tenantId,
        scope: key.scope,
        label: key.label,
        key_prefix: key.keyPrefix,
        created_at: key.createdAt.toISOString(),
        api_key: key.apiKey,
      });
    },
  );

  app.get(
    "/keys",
    {
      preHandler,
      config: documented({
        summary: "List API keys",
        description: "Every key of the calling key's tenant, revoked ones too, oldest first. Only an 8-character prefix of each key is shown.",
        tags: ["keys"],
        auth: ["admin"],
        responses: {
          200: {
            description: "The tenant's keys",
            schema: keyList,
            example: { keys: [{ ...listedExample(), revoked_at: null }] },
          },
        },
      }),
    },
    async (request) => {
      const principal = principalOf(request);
      requireScope(principal, ["admin"], "list API keys");
      const keys = await listApiKeys(ctx.control, principal.tenantId);
      return {
        keys: keys.map((k) => ({
          api_key_id: k.id,
          scope: k.scope,
          label: k.label,
          key_prefix: k.key_prefix,
          created_at: new Date(k.created_at).toISOString(),
          revoked_at: k.revoked_at ? new Date(k.revoked_at).toISOString() : null,
        })),
      };
    },
  );

  app.delete(
    "/keys/:api_key_id",
    {
      preHandler,
      config: documented({
        summary: "Revoke an API key",
        description:
          "Revokes one of the tenant's active keys; it is refused at once by this vault process and by others within " +
          "VAULT_API_KEY_CACHE_TTL_MS. The tenant's last active admin key cannot be revoked (409 last_admin_key): create another first.",
        tags: ["keys"],
        auth: ["admin"],
        params: keyParams,
        responses: { 200: { description: "The key is revoked", schema: revokedKey, example: { api_key_id: exampleCreated.api_key_id, revoked: true } } },
        errors: ["api_key_not_found", "last_admin_key"],
      }),
    },
    async (request) => {
      const principal = principalOf(request);
      requireScope(principal, ["admin"], "revoke API keys");
      const { api_key_id } = keyParams.parse(request.params);
      const result = await revokeTenantApiKey(ctx.control, principal.tenantId, api_key_id);
      // Unknown, another tenant's and already revoked keys look the same: ids of other tenants stay unconfirmed.
      if (result === "not_found") throw new AppError("api_key_not_found", `No active API key ${api_key_id} in this tenant`);
      if (result === "last_admin") throw new AppError("last_admin_key", `${api_key_id} is this tenant's last active admin key: create another admin key before revoking it`);
      ctx.auth.forgetKey(api_key_id);
      return { api_key_id, revoked: true as const };
    },
  );
}

function listedExample() {
  const { api_key_id, scope, label, key_prefix, created_at } = exampleCreated;
  return { api_key_id, scope, label, key_prefix, created_at };
}

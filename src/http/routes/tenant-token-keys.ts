import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import { AppError } from "../../errors.js";
import { requireScope, type Principal } from "../../tenancy/api-keys.js";
import { RotationBusyError, RotationTooFrequentError } from "../../tokens/key-registry.js";
import { TenantKeyRotationUnsupported } from "../../tokens/tenant-token-keys.js";
import type { AppContext } from "../app-context.js";
import { authenticate, principalOf } from "../auth.js";
import { verificationExamples } from "../openapi/examples/token-verification.js";
import { documented } from "../openapi/route-doc.js";
import { tenantKeyRotationSchema, tenantKeySetSchema } from "../openapi/schemas/token-verification.js";

const tenantParams = z.object({ tenant_id: z.string().min(1).max(200) });
/** Rotation takes no options: an empty object, or no body at all. */
const rotateBody = z.strictObject({}).optional();

/**
 * A tenant's own token keys: the key set verifiers fetch (Intended's `/tenants/:id/authority-keys/public`
 * shape, with our field names), and rotation. Only keys of that tenant reach these routes; another
 * tenant's id is answered like an unknown one (404). Tenant ids are not secret: every tenant key's kid
 * and JWK in the public JWKS name their tenant.
 */
export function tenantTokenKeyRoutes(app: FastifyInstance, ctx: AppContext) {
  // The keys live in the control database: no tenant database is opened.
  const preHandler = authenticate(ctx, { tenantDatabase: false });
  const ownTenant = (request: FastifyRequest): { principal: Principal; tenantId: string } => {
    const principal = principalOf(request);
    const { tenant_id } = tenantParams.parse(request.params);
    if (tenant_id !== principal.tenantId) throw new AppError("tenant_not_found", `No tenant ${tenant_id} for this API key`);
    return { principal, tenantId: tenant_id };
  };

  app.get(
    "/tenants/:tenant_id/keys/public",
    {
      preHandler,
      config: documented({
        summary: "The tenant's token keys",
        description:
          "The Ed25519 keys the tenant's A-JWTs are signed with: the active key and previous ones still published (until the tokens they " +
          "signed have expired), each as SPKI PEM and JWK. Any key of the tenant may read it. The global JWKS lists the same keys. " +
          "`Cache-Control: max-age=60`.",
        tags: ["tokens"],
        auth: ["agent", "reviewer", "admin"],
        params: tenantParams,
        responses: { 200: { description: "The tenant's key set, active key first.", schema: tenantKeySetSchema, example: verificationExamples.keySet } },
        errors: ["tenant_not_found"],
      }),
    },
    async (request, reply) => {
      const { tenantId } = ownTenant(request);
      const views = await ctx.tenantTokenKeys.keySet(tenantId);
      reply.header("Cache-Control", "max-age=60");
      return {
        tenant_id: tenantId,
        keys: views.map((v) => {
          const pem = ctx.keys.publicKey(v.key).export({ format: "pem", type: "spki" }).toString();
          const jwk = v.key.public_jwk;
          return {
            kid: v.kid,
            alg: "EdDSA" as const,
            status: v.status,
            public_key_pem: pem,
            publicKeyPem: pem,
            public_jwk: { kty: "OKP" as const, crv: "Ed25519" as const, x: jwk.x, kid: v.kid, use: "sig" as const, alg: "EdDSA" as const },
            created_at: v.key.created_at.toISOString(),
            retired_at: v.key.retired_at?.toISOString() ?? null,
            published_until: v.publishedUntil?.toISOString() ?? null,
          };
        }),
      };
    },
  );

  app.post(
    "/tenants/:tenant_id/keys/rotate",
    {
      preHandler,
      config: documented({
        summary: "Rotate the tenant's token key",
        description:
          "Publishes the next generation of the tenant's token key and retires the current one: new tokens carry the new kid at once, " +
          "tokens already issued still verify, consume and re-render identically, and the old key stays in the JWKS until they have " +
          "expired (token TTL + 60 s). Admin keys of the tenant only. Refused with 429 rotation_too_frequent while 2 retired keys of the " +
          "tenant are still published (so one tenant adds at most 3 keys to the shared JWKS). With VAULT_SIGNER_BACKEND=aws_kms tokens are signed by the KMS " +
          "key for every tenant and this answers 409 tenant_key_rotation_unsupported.",
        tags: ["tokens"],
        auth: ["admin"],
        params: tenantParams,
        body: rotateBody,
        bodyExample: {},
        responses: { 200: { description: "The new current key and the retired one.", schema: tenantKeyRotationSchema, example: verificationExamples.rotated } },
        errors: ["tenant_not_found", "tenant_key_rotation_unsupported", "rotation_too_frequent", "tenant_key_rotation_busy"],
      }),
    },
    async (request) => {
      const { principal, tenantId } = ownTenant(request);
      requireScope(principal, ["admin"], "rotate token keys");
      rotateBody.parse(request.body ?? undefined);
      let rotated;
      try {
        rotated = await ctx.tenantTokenKeys.rotate(tenantId);
      } catch (err) {
        if (err instanceof TenantKeyRotationUnsupported) throw new AppError("tenant_key_rotation_unsupported", err.message);
        if (err instanceof RotationTooFrequentError) throw new AppError("rotation_too_frequent", err.message);
        if (err instanceof RotationBusyError) throw new AppError("tenant_key_rotation_busy", err.message);
        throw err;
      }
      if (!rotated) throw new AppError("tenant_not_found", `No tenant ${tenantId} for this API key`);
      request.log.info({ tenantId, kid: rotated.current, previousKid: rotated.retired, apiKeyId: principal.keyId }, "tenant token key rotated");
      return { tenant_id: tenantId, kid: rotated.current, previous_kid: rotated.retired };
    },
  );
}

import { createHash } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { getToken } from "../../requests/store/token-store.js";
import { requireScope } from "../../tenancy/api-keys.js";
import { verifyToken, type VerifyExpectations } from "../../tokens/token-verifier.js";
import type { AppContext } from "../app-context.js";
import { authenticate, principalOf } from "../auth.js";
import { verificationExamples } from "../openapi/examples/token-verification.js";
import { documented } from "../openapi/route-doc.js";
import { verifyTokenResponseSchema } from "../openapi/schemas/token-verification.js";

/** Fields Intended clients send in camelCase: either spelling is accepted, never both. */
const SPELLINGS = [
  ["expected_kid", "expectedKid"],
  ["expected_tenant_id", "expectedTenantId"],
  ["max_token_ttl_seconds", "maxTokenTtlSeconds"],
  ["clock_skew_seconds", "clockSkewSeconds"],
  ["public_key_pem", "publicKeyPem"],
] as const;

const id = z.string().min(1).max(300);
const ttl = z.number().int().min(1).max(86_400);
const skew = z.number().int().min(0).max(300);
const pem = z.string().min(1).max(8_192);

export const verifyTokenBody = z
  .strictObject({
    token: z.string().min(1).max(16_384).describe("The compact A-JWT"),
    expected_kid: id.optional(),
    expectedKid: id.optional(),
    expected_tenant_id: id.optional(),
    expectedTenantId: id.optional(),
    expected_tool: z.string().min(1).max(300).optional(),
    expected_tool_args: z.unknown().optional().describe("Arguments the token must approve (any JSON; compared by their RFC 8785 hash)"),
    expected_tool_args_hash: z.string().regex(/^[0-9a-fA-F]{64}$/).optional(),
    max_token_ttl_seconds: ttl.optional(),
    maxTokenTtlSeconds: ttl.optional(),
    clock_skew_seconds: skew.optional().describe("Tolerance for expiry and issue time; default 30"),
    clockSkewSeconds: skew.optional(),
    public_key_pem: pem.optional().describe("If given, it must be the registered key of the token's kid; it never replaces the lookup"),
    publicKeyPem: pem.optional(),
  })
  .superRefine((body, ctx) => {
    for (const [snake, camel] of SPELLINGS) {
      if (body[snake] !== undefined && body[camel] !== undefined) ctx.addIssue({ code: "custom", path: [camel], message: `give ${snake} or ${camel}, not both` });
    }
    if (body.expected_tool_args !== undefined && body.expected_tool_args_hash !== undefined) {
      ctx.addIssue({ code: "custom", path: ["expected_tool_args_hash"], message: "give expected_tool_args or expected_tool_args_hash, not both" });
    }
  });

const DEFAULT_SKEW_SECONDS = 30;

/**
 * POST /verify/token: verification as a service for consumers that cannot verify locally. It never
 * burns and never changes anything: the same token gets the same answer until it expires (or, for
 * `consumed`, until it is burned). A bad token is a 200 `valid:false` with a stable code; a bad
 * request (no token, wrong types, unknown fields) is a 400.
 */
export function tokenVerificationRoutes(app: FastifyInstance, ctx: AppContext) {
  app.post(
    "/verify/token",
    {
      preHandler: authenticate(ctx),
      config: documented({
        summary: "Verify a token without burning it",
        description:
          "Checks an A-JWT against the keys its tenant may use and the caller's expectations, in a fixed order (docs/tokens.md): " +
          "malformed, alg_unsupported, tenant_mismatch, unknown_kid, kid_mismatch, public_key_mismatch, invalid_signature, claims_invalid, " +
          "expired, not_yet_valid, ttl_too_long, binding_mismatch, then not_issued (a jti the tenant never stored). Side-effect free: a valid token stays consumable. " +
          "Intended's camelCase names (expectedKid, expectedTenantId, maxTokenTtlSeconds, clockSkewSeconds, publicKeyPem) are accepted too.",
        tags: ["tokens"],
        auth: ["agent", "admin"],
        body: verifyTokenBody,
        bodyExample: verificationExamples.request,
        responses: { 200: { description: "The verdict: valid with the claims, or the first failed check.", schema: verifyTokenResponseSchema, example: verificationExamples.valid } },
        errors: ["validation_failed"],
      }),
    },
    async (request) => {
      const principal = principalOf(request);
      requireScope(principal, ["agent", "admin"], "verify tokens");
      const body = verifyTokenBody.parse(request.body);
      const raw = request.body as Record<string, unknown>;
      const expect: VerifyExpectations = {
        callerTenantId: principal.tenantId,
        expectedTenantId: body.expected_tenant_id ?? body.expectedTenantId,
        expectedKid: body.expected_kid ?? body.expectedKid,
        publicKeyPem: body.public_key_pem ?? body.publicKeyPem,
        expectedTool: body.expected_tool,
        // Present (even as null) means expected: the arguments are compared, whatever their value.
        expectedToolArgs: Object.hasOwn(raw, "expected_tool_args") ? { value: raw.expected_tool_args } : undefined,
        expectedToolArgsHash: body.expected_tool_args_hash,
        maxTokenTtlSeconds: body.max_token_ttl_seconds ?? body.maxTokenTtlSeconds,
        expirySkewSeconds: body.clock_skew_seconds ?? body.clockSkewSeconds ?? DEFAULT_SKEW_SECONDS,
        issuedSkewSeconds: body.clock_skew_seconds ?? body.clockSkewSeconds ?? DEFAULT_SKEW_SECONDS,
      };
      const result = await verifyToken(body.token, { keys: ctx.keys, settings: ctx.config.jwt, clock: ctx.clock }, expect);
      if (!result.valid) {
        if (result.code === "invalid_signature" || result.code === "tenant_mismatch" || result.code === "public_key_mismatch") {
          // A security event: who asked, which key, and a hash of the token, never the token itself.
          request.log.warn(
            { event: "token_verification_refused", code: result.code, kid: result.header?.kid, tenantId: principal.tenantId, apiKeyId: principal.keyId, tokenSha256: createHash("sha256").update(body.token).digest("hex").slice(0, 32) },
            "token verification refused",
          );
        }
        return { valid: false, code: result.code, reason: result.reason, header: result.header, claims: null };
      }
      const stored = await getToken(request.tenantSql, result.claims.jti);
      // Correctly signed but never stored: not a token this tenant issued (a key used outside the vault).
      if (!stored) return { valid: false, code: "not_issued" as const, reason: `this tenant never issued a token with jti ${result.claims.jti}`, header: result.header, claims: null };
      return { valid: true, code: null, reason: null, header: result.header, claims: result.claims, consumed: stored?.consumed_at != null };
    },
  );
}

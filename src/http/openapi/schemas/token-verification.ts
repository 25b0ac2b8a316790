import { z } from "zod";
import { VERIFY_CODES } from "../../../tokens/token-verifier.js";
import { isoTime, jsonObject } from "./common.js";

/** POST /verify/token (src/http/routes/token-verification.ts): the verdict, never an error for a bad token. */
const header = z.object({ alg: z.string().optional(), kid: z.string().optional(), typ: z.string().optional() });

export const verifyTokenResponseSchema = z.union([
  z.object({
    valid: z.literal(true),
    code: z.null(),
    reason: z.null(),
    header,
    claims: jsonObject.describe("The verified payload, every claim as signed"),
    consumed: z.boolean().describe("Whether the token has been burned by /consume-token (verification never burns)"),
  }),
  z.object({
    valid: z.literal(false),
    code: z.enum(VERIFY_CODES).describe("The first check that failed (docs/tokens.md lists the order)"),
    reason: z.string(),
    header: header.nullable().describe("The decoded header, or null when it could not be read"),
    claims: z.null(),
  }),
]);

/** GET /tenants/{tenant_id}/keys/public: the tenant's token keys, current first. */
export const tenantKeySetSchema = z.object({
  tenant_id: z.string(),
  keys: z.array(
    z.object({
      kid: z.string(),
      alg: z.literal("EdDSA"),
      status: z.enum(["active", "previous"]),
      public_key_pem: z.string().describe("SPKI PEM (BEGIN PUBLIC KEY)"),
      publicKeyPem: z.string().describe("The same PEM, under the name Intended-style clients read"),
      public_jwk: z.object({ kty: z.literal("OKP"), crv: z.literal("Ed25519"), x: z.string(), kid: z.string(), use: z.literal("sig"), alg: z.literal("EdDSA") }),
      created_at: isoTime,
      retired_at: isoTime.nullable(),
      published_until: isoTime.nullable().describe("When a retired key leaves the JWKS (token TTL + 60 s after its retirement); null while current"),
    }),
  ),
});

/** POST /tenants/{tenant_id}/keys/rotate. */
export const tenantKeyRotationSchema = z.object({
  tenant_id: z.string(),
  kid: z.string().describe("The new current key: new tokens carry it from now on"),
  previous_kid: z.string().nullable().describe("The retired key; it stays published until the tokens it signed have expired"),
});

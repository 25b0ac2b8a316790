import { z } from "zod";
import { hex64, isoTime } from "./common.js";

/** /mint-token (src/requests/mint-service.ts): a fresh A-JWT with a new jti for a remembered approval. */
export const mintResponseSchema = z.object({
  request_id: z.string().describe("The new mint request's id (protocol §2.3 expects a fresh one)."),
  token: z.string(),
  token_expires_at: isoTime,
  status: z.literal("approved"),
  decision_status: z.literal("approved"),
  reason: z.string(),
  original_request_id: z.string(),
  policy_version_id: z.string().nullable(),
  policy_content_hash: z.string().nullable(),
});

/** /consume-token (src/requests/consume-service.ts): the burned token's claims. */
export const consumeResponseSchema = z.object({
  consumed: z.literal(true),
  jti: z.string(),
  request_id: z.string(),
  tool: z.string(),
  tool_args_hash: hex64,
  agent_id: z.string(),
  tenant_id: z.string(),
  consumed_at: isoTime,
});

/** Protocol §2.5: Ed25519 public keys only, token and ledger keys alike. */
export const jwksSchema = z.object({
  keys: z.array(
    z.object({
      kty: z.literal("OKP"),
      crv: z.literal("Ed25519"),
      x: z.string().regex(/^[A-Za-z0-9_-]{43}$/).describe("base64url of the 32-byte public key"),
      kid: z.string(),
      use: z.literal("sig"),
      alg: z.literal("EdDSA"),
      tenant_id: z.string().optional().describe("Ours, on a tenant's token key: the only tenant whose tokens it may verify"),
      purpose: z.literal("ledger").optional().describe("Ours, on a ledger key: it signs receipts and checkpoints, never tokens"),
    }),
  ),
});

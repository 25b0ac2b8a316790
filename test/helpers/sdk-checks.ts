import { createRemoteJWKSet, jwtVerify, type JWTPayload } from "jose";
import { z } from "zod";

/**
 * The response contract the public Ledgix TypeScript SDK (0.4) enforces, written from the wire
 * protocol document (§2.1): defaults may be omitted but never null, decision_status always present.
 */
const bucket = z.enum(["extra_high", "high", "medium", "low", "none"]);
export const ledgixClearanceResponse = z.object({
  status: z.enum(["processing", "approved", "denied", "pending_review", "pendingReview"]).default("denied"),
  decision_status: z.enum(["approved", "denied", "approved_pending_review"]),
  requires_manual_review: z.boolean().default(false),
  token: z.string().nullable().default(null),
  reason: z.string().default(""),
  request_id: z.string().default(""),
  confidence_bucket: bucket.default("none"),
  minimum_confidence_bucket: bucket.default("high"),
  policy_version_id: z.string().nullable().default(null),
  policy_content_hash: z.string().nullable().default(null),
  reason_code: z.string().nullable().default(null),
});

/** Verifies an A-JWT the way the SDK does (§3.3): JWKS by kid, EdDSA only, iss, aud, sub, jti, no skew. */
export async function verifyLikeSdk(baseUrl: string, token: string, opts: { issuer?: string; audience?: string } = {}): Promise<JWTPayload> {
  const jwks = createRemoteJWKSet(new URL(`${baseUrl}/.well-known/jwks.json`));
  const { payload, protectedHeader } = await jwtVerify(token, jwks, {
    algorithms: ["EdDSA"],
    issuer: opts.issuer ?? "alcv-vault",
    audience: opts.audience ?? "ledgix-sdk",
    subject: "clearance",
    clockTolerance: 0,
  });
  if (!payload.jti) throw new Error("A-JWT missing jti claim");
  if (!protectedHeader.kid) throw new Error("A-JWT has no kid");
  return payload;
}

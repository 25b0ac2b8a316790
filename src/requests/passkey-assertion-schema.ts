import { z } from "zod";

/**
 * The WebAuthn JSON a browser's @simplewebauthn/browser hands back (WebAuthn L3 §5.1
 * AuthenticationResponseJSON / RegistrationResponseJSON), as the vote and the enrolment routes accept
 * it. Strict, with every binary member base64url and bounded: real values are a few hundred bytes.
 * Here rather than in src/passkeys/ because the vote body (request-schema.ts) carries an assertion.
 */
const b64url = (max: number) => z.string().min(1).max(max).regex(/^[A-Za-z0-9_-]+={0,2}$/, "must be base64url");
const attachment = z.enum(["platform", "cross-platform"]).optional();
// Extension outputs are the browser's; the vault reads none of them, so they are only bounded by the body limit.
const extensionResults = z.record(z.string(), z.unknown()).default({});

export const authenticationResponseSchema = z.strictObject({
  id: b64url(1400),
  rawId: b64url(1400),
  type: z.literal("public-key"),
  response: z.strictObject({
    clientDataJSON: b64url(12_000),
    authenticatorData: b64url(6_000),
    signature: b64url(1_000),
    userHandle: b64url(400).optional(),
  }),
  clientExtensionResults: extensionResults,
  authenticatorAttachment: attachment,
});
export type AuthenticationResponseBody = z.infer<typeof authenticationResponseSchema>;

export const registrationResponseSchema = z.strictObject({
  id: b64url(1400),
  rawId: b64url(1400),
  type: z.literal("public-key"),
  response: z.strictObject({
    clientDataJSON: b64url(12_000),
    attestationObject: b64url(64_000),
    authenticatorData: b64url(64_000).optional(),
    transports: z.array(z.string().max(32)).max(10).optional(),
    publicKeyAlgorithm: z.int().optional(),
    publicKey: b64url(2_000).optional(),
  }),
  clientExtensionResults: extensionResults,
  authenticatorAttachment: attachment,
});
export type RegistrationResponseBody = z.infer<typeof registrationResponseSchema>;

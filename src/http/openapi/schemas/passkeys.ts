import { z } from "zod";
import { isoTime } from "./common.js";

/**
 * What the passkey routes answer (src/http/routes/passkeys.ts), for the OpenAPI document. The WebAuthn
 * options are what @simplewebauthn/server generates and @simplewebauthn/browser's startRegistration /
 * startAuthentication take as `optionsJSON` (WebAuthn L3 §5.4, §5.5 in their JSON form).
 */

const b64url = z.string().describe("base64url, no padding");
const descriptor = z.object({ id: b64url, type: z.literal("public-key"), transports: z.array(z.string()).optional() });

const creationOptionsSchema = z.object({
  rp: z.object({ id: z.string(), name: z.string() }),
  user: z.object({ id: b64url, name: z.string(), displayName: z.string() }),
  challenge: b64url.describe("Random, single use, valid 5 minutes."),
  pubKeyCredParams: z.array(z.object({ alg: z.int(), type: z.literal("public-key") })).describe("EdDSA (-8) and ES256 (-7) only."),
  timeout: z.int().optional(),
  excludeCredentials: z.array(descriptor).optional(),
  authenticatorSelection: z.object({ residentKey: z.string().optional(), userVerification: z.string().optional(), requireResidentKey: z.boolean().optional() }).optional(),
  attestation: z.string().optional(),
  extensions: z.record(z.string(), z.unknown()).optional(),
  hints: z.array(z.string()).optional(),
});

export const registrationOptionsExample = {
  rp: { id: "vault.example.com", name: "Countersign" },
  user: { id: "pJ3nUf0w2s8kq1yXc7m4Zr6tLh9eVb5aGd0iNo2QwE4", name: "ana@example.com", displayName: "Ana Lima" },
  challenge: "Qm9oVjNxd2V2a0x6UjRUeFhQYm5SZ0hzN2NkS2ZqVWg",
  pubKeyCredParams: [
    { alg: -8, type: "public-key" },
    { alg: -7, type: "public-key" },
  ],
  timeout: 300000,
  excludeCredentials: [],
  authenticatorSelection: { residentKey: "preferred", userVerification: "required", requireResidentKey: false },
  attestation: "none",
  extensions: { credProps: true },
  step_up: {
    rpId: "vault.example.com",
    challenge: "x0Lk3vR8cT2mQ9wZp5nJh7dYs4aFe1gUo6iKb2PtNqE",
    allowCredentials: [{ id: "h7D2Qm3Kp9sXv1LwYc4Rt8Nz0BfJu6Ea", type: "public-key", transports: ["usb"] }],
    timeout: 300000,
    userVerification: "required",
  },
};

export const registrationBodyExample = {
  label: "YubiKey 5C",
  response: {
    id: "h7D2Qm3Kp9sXv1LwYc4Rt8Nz0BfJu6Ea",
    rawId: "h7D2Qm3Kp9sXv1LwYc4Rt8Nz0BfJu6Ea",
    type: "public-key",
    response: {
      clientDataJSON: "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwiY2hhbGxlbmdlIjoiUW05b1ZqTnhkMlYyYTB4NlVqUlVlRmhRWW01U1owaHpOMk5rUzJacVZXZyIsIm9yaWdpbiI6Imh0dHBzOi8vdmF1bHQuZXhhbXBsZS5jb20ifQ",
      attestationObject: "o2NmbXRkbm9uZWdhdHRTdG10oGhhdXRoRGF0YVjF",
      transports: ["usb"],
    },
    clientExtensionResults: {},
  },
};

export const passkeySchema = z.object({
  id: z.string().describe("pk_…: the passkey's id here (also the subject of its vault.audit ledger events)."),
  reviewer_id: z.string(),
  credential_id: b64url.describe("The WebAuthn credential id."),
  label: z.string(),
  alg: z.int().describe("COSE algorithm: -7 ES256 or -8 EdDSA."),
  aaguid: z.string(),
  transports: z.array(z.string()),
  sign_count: z.int().nonnegative(),
  created_at: isoTime,
  last_used_at: isoTime.nullable(),
  enrolment_event_uuid: z.string().describe("The passkey.enrolled ledger event that committed its public key."),
});

const passkeyExample = {
  id: "pk_3b9d2c1e-7a4f-4e8b-9c0d-1f2a3b4c5d6e",
  reviewer_id: "rvw_0c9e4f3a-6b2d-4d8e-a1f7-5e3b2c1d0a9f",
  credential_id: "h7D2Qm3Kp9sXv1LwYc4Rt8Nz0BfJu6Ea",
  label: "YubiKey 5C",
  alg: -7,
  aaguid: "00000000-0000-0000-0000-000000000000",
  transports: ["usb"],
  sign_count: 0,
  created_at: "2026-03-01T09:00:00.000Z",
  last_used_at: null,
  enrolment_event_uuid: "0195f3a2-7c1b-8e4d-9a2f-3b4c5d6e7f80",
};

export const registeredPasskeySchema = passkeySchema.extend({ ledger_event_uuid: z.string().describe("The passkey.enrolled event (same as enrolment_event_uuid).") });

export const registeredPasskeyExample = { ...passkeyExample, ledger_event_uuid: passkeyExample.enrolment_event_uuid };

export const passkeyListSchema = z.object({ passkeys: z.array(passkeySchema) });

export const passkeyListExample = { passkeys: [{ ...passkeyExample, sign_count: 12, last_used_at: "2026-03-02T15:04:05.000Z" }] };

export const removedPasskeySchema = z.object({ id: z.string(), removed_at: isoTime, ledger_event_uuid: z.string().describe("The passkey.removed ledger event.") });

export const removedPasskeyExample = { id: passkeyExample.id, removed_at: "2026-03-05T10:00:00.000Z", ledger_event_uuid: "0195f3a9-1d2e-8f30-8b4c-5d6e7f8091a2" };

export const assertionOptionsSchema = z.object({
  challenge: b64url.describe("The commitment: SHA-256 of the canonical {request_id, tool, tool_args_hash, policy_version_id, vote: \"approve\"[, grant]}."),
  timeout: z.int().optional(),
  rpId: z.string().optional(),
  allowCredentials: z.array(descriptor).optional(),
  userVerification: z.string().optional(),
  extensions: z.record(z.string(), z.unknown()).optional(),
  hints: z.array(z.string()).optional(),
});

export const registrationOptionsSchema = creationOptionsSchema.extend({
  step_up: assertionOptionsSchema
    .extend({ challenge: b64url.describe('SHA-256 of the canonical {action: "passkey.enrol", reviewer, challenge: <the registration challenge>}.') })
    .nullable()
    .describe("Null for your first passkey. Otherwise one of your passkeys must sign these options (startAuthentication) and the result goes to POST /passkeys/register as `assertion`."),
});

export const assertionOptionsExample = {
  rpId: "vault.example.com",
  challenge: "m2pXw9T7cVb3kLq0Rz5nYh8dFs1aGe4jUo6iKt2PxQw",
  allowCredentials: [{ id: "h7D2Qm3Kp9sXv1LwYc4Rt8Nz0BfJu6Ea", type: "public-key", transports: ["usb"] }],
  timeout: 300000,
  userVerification: "required",
};

/** A vote's `passkey` as @simplewebauthn/browser's startAuthentication returns it. */
export const assertionExample = {
  id: "h7D2Qm3Kp9sXv1LwYc4Rt8Nz0BfJu6Ea",
  rawId: "h7D2Qm3Kp9sXv1LwYc4Rt8Nz0BfJu6Ea",
  type: "public-key",
  response: {
    authenticatorData: "SZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2MFAAAADQ",
    clientDataJSON: "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0IiwiY2hhbGxlbmdlIjoibTJwWHc5VDdjVmIza0xxMFJ6NW5ZaDhkRnMxYUdlNGpVbzZpS3QyUHhRdyIsIm9yaWdpbiI6Imh0dHBzOi8vdmF1bHQuZXhhbXBsZS5jb20ifQ",
    signature: "MEUCIQDx3k7cYp0w9vJ2hL5sQ8nR1tA4bE6mK0zX3gV7yU2fNwIgL9pT4rB6cW1eH8jM3nS5vX0aQ2kY7dF4gZ1uJ6oP9iE",
  },
  clientExtensionResults: {},
};

import { z } from "zod";
import { documented, type RouteDoc } from "../openapi/route-doc.js";

/** The OpenAPI shapes and examples of the StepAuth routes (docs/stepauth.md); the handlers read raw envelopes. */

export const tenantParams = z.object({ tenant: z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/).describe("The tenant id: each tenant is its own hub.") });
export const pollParams = tenantParams.extend({ requestId: z.string().min(1).max(256).describe("The requestId the sender chose.") });

export const envelopeSchema = z.object({
  payload: z.string().describe("Standard base64 of the exact message bytes P."),
  signature: z.object({ keysetId: z.string(), signatures: z.array(z.string()).describe("One per key of the keyset, in idx order.") }),
});
export const envelopeExample = {
  payload: "eyJyZXF1ZXN0SWQiOiJyZXFfMSIsInNlbmRlcklkIjoic3AuZXhhbXBsZS5jb20ifQ==",
  signature: { keysetId: "ks_5f0c2a9e41d7b3c8", signatures: ["3q2+7w…(64 bytes)", "kZr1…(3309 bytes)"] },
};

const keysetSchema = z.object({
  keysetId: z.string(),
  keys: z.array(z.object({ idx: z.number().int(), alg: z.enum(["ed25519", "ml-dsa-65"]), pub: z.string() })),
});
const keysetExample = {
  keysetId: "ks_5f0c2a9e41d7b3c8",
  keys: [
    { idx: 0, alg: "ed25519" as const, pub: "Wm3uZp6kO8y0N7xv2q7N8bq8b1s3hQm0m6o7QyGc3sE=" },
    { idx: 1, alg: "ml-dsa-65" as const, pub: "MIIHsjALBglghkgBZQMEAxIDggehAK…(1952 bytes)" },
  ],
};

export const metadataSchema = z.object({ entity: z.string(), keysets: z.array(keysetSchema), host: z.string() });
export const metadataExample = { entity: "vault.example.com/stepauth/t_0c9f3e2a1b4d5e6f7a8b", keysets: [keysetExample], host: "https://vault.example.com/stepauth/t_0c9f3e2a1b4d5e6f7a8b" };

export const submittedSchema = z.object({ requestId: z.string(), status: z.literal("pending"), createdAt: z.string(), reviewDescription: z.string().optional() });
export const submittedExample = { requestId: "req_6f1c0e9a2b7d4c3e8f5a1b0c9d8e7f6a", status: "pending" as const, createdAt: "2026-01-01T00:00:01Z" };
export const pendingSchema = z.object({ requestId: z.string(), status: z.literal("pending") });
export const cancelledSchema = z.object({ requestId: z.string(), status: z.literal("cancelled") });

const itemSchema = z.object({ id: z.string().describe("A NameID: email:, group: or policy:"), label: z.string().optional(), provenance: z.string().optional(), count: z.number().int().optional() });
export const directorySchema = z.object({ items: z.array(itemSchema), nextCursor: z.string().optional() });
export const directoryExamples = {
  users: { items: [{ id: "email:rae@example.com", label: "Rae Lee", provenance: "countersign" }] },
  groups: { items: [{ id: "group:finance", label: "finance", provenance: "countersign", count: 3 }], nextCursor: "eyJhZnRlciI6ImZpbmFuY2UifQ" },
  policies: { items: [{ id: "policy:refund-policy", label: "Refunds of customer payments", provenance: "countersign" }] },
};

/** Every SP endpoint: no API key, the envelope authenticates; problems also carry `error` and `message`. */
const SP_ERRORS = ["malformed_request", "unknown_sender", "invalid_signature", "not_found", "overloaded", "tenant_secrets_unavailable"] as const;

export function spDoc(doc: Omit<RouteDoc, "tags" | "auth" | "errors"> & { errors?: readonly string[] }) {
  return documented({ ...doc, tags: ["stepauth"], auth: "none", errors: [...SP_ERRORS, ...(doc.errors ?? [])] });
}

export const senderSchema = z.object({
  id: z.string(),
  entity: z.string(),
  keysets: z.array(keysetSchema),
  callback_pattern: z.string().nullable(),
  description: z.string(),
  disabled_at: z.string().nullable(),
  created_at: z.string(),
});
export const senderExample = {
  id: "sps_2b8e4f1a-6c3d-4e5f-9a0b-7c1d2e3f4a5b",
  entity: "sp.example.com",
  keysets: [keysetExample],
  callback_pattern: "https://sp.example.com/stepauth/*",
  description: "Payments back office",
  disabled_at: null,
  created_at: "2026-01-01T00:00:00.000Z",
};
export const senderCreateExample = {
  entity: "sp.example.com",
  keysets: [{ keyId: "sp-key-1", publicKey: "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=" }],
  callback_pattern: "https://sp.example.com/stepauth/*",
  description: "Payments back office",
};

export const hubSchema = z.object({
  entity: z.string(),
  host: z.string(),
  metadata_url: z.string(),
  keysets: z.array(
    z.object({ keyset: keysetSchema, status: z.enum(["current", "retired"]), published: z.boolean(), created_at: z.string(), retired_at: z.string().nullable() }),
  ),
});
export const hubExample = {
  entity: metadataExample.entity,
  host: metadataExample.host,
  metadata_url: `${metadataExample.host}/v1/metadata`,
  keysets: [{ keyset: keysetExample, status: "current" as const, published: true, created_at: "2026-01-01T00:00:00.000Z", retired_at: null }],
};

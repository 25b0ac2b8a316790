import { z } from "zod";
import { isoTime } from "./common.js";
import { scopes } from "../../../tenancy/api-keys.js";

/**
 * What the reviewer and console-session routes answer (src/http/routes/reviewers.ts), for the
 * OpenAPI document. z.object, not strict: a field added later must not make the document wrong.
 */

const identity = z.object({ id: z.string(), name: z.string(), email: z.string(), groups: z.array(z.string()) });

export const createdReviewerSchema = z.object({
  reviewer_id: z.string(),
  name: z.string(),
  email: z.string().describe("Stored lower-cased."),
  groups: z.array(z.string()),
  api_key: z.string().describe("The reviewer's first key: shown here once, never again."),
  api_key_id: z.string(),
});

export const createdReviewerExample = {
  reviewer_id: "rvw_0c9e4f3a-6b2d-4d8e-a1f7-5e3b2c1d0a9f",
  name: "Ana Lima",
  email: "ana@example.com",
  groups: ["finance"],
  api_key: "csk_Q2xZ7mB1yVd0Hn4kR8sT3wX6aE9cF5gJ2pL0uN7qM1o",
  api_key_id: "key_4f1a9c2e7b3d5a08",
};

export const createReviewerExample = { name: "Ana Lima", email: "ana@example.com", groups: ["finance"] };

export const reviewerListSchema = z.object({
  reviewers: z.array(identity.extend({ created_at: isoTime, disabled_at: isoTime.nullable() })),
});

export const reviewerListExample = {
  reviewers: [
    { id: "rvw_0c9e4f3a-6b2d-4d8e-a1f7-5e3b2c1d0a9f", name: "Ana Lima", email: "ana@example.com", groups: ["finance"], created_at: "2026-02-20T09:00:00.000Z", disabled_at: null },
    { id: "rvw_7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", name: "Bo Chen", email: "bo@example.com", groups: [], created_at: "2026-02-21T14:30:00.000Z", disabled_at: "2026-02-28T08:00:00.000Z" },
  ],
};

export const disabledReviewerSchema = z.object({ reviewer_id: z.string(), disabled: z.literal(true) });

export const disabledReviewerExample = { reviewer_id: "rvw_7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", disabled: true };

/** Who the session (or key) is: its reviewer identity, or a stand-in naming the key when it has none. */
export const consoleSessionSchema = z.object({
  tenant_id: z.string(),
  scope: z.enum(scopes),
  reviewer: identity,
});

export const consoleSessionExample = {
  tenant_id: "t_8c1e5a0f3b7d9e2a4c6b",
  scope: "reviewer",
  reviewer: { id: "rvw_0c9e4f3a-6b2d-4d8e-a1f7-5e3b2c1d0a9f", name: "Ana Lima", email: "ana@example.com", groups: ["finance"] },
};

export const signedInSchema = consoleSessionSchema.extend({ expires_at: isoTime });

export const signedInExample = { ...consoleSessionExample, expires_at: "2026-03-01T22:00:00.000Z" };

export const signInExample = { api_key: "csk_Q2xZ7mB1yVd0Hn4kR8sT3wX6aE9cF5gJ2pL0uN7qM1o" };

export const signedOutSchema = z.object({ signed_out: z.literal(true) });

export const signedOutExample = { signed_out: true };

import { z } from "zod";

const jsonObject = z.record(z.string(), z.unknown());
const shortText = (max: number) => z.string().max(max);
/** Optional fields accept null as "not given": hand-written clients often send null for absent. */
const optionalText = (max: number) =>
  z
    .string()
    .max(max)
    .nullish()
    .transform((v) => v ?? undefined);

/**
 * /request-clearance body. The Ledgix SDK sends only the fields that are set, so the server applies
 * the defaults (protocol doc §2.1). Unknown fields are ignored (§6.11).
 */
export const clearanceRequestSchema = z.object({
  tool_name: z.string().min(1).max(256),
  tool_args: jsonObject.default({}),
  agent_id: shortText(256).default("default-agent"),
  session_id: shortText(256).default(""),
  context: jsonObject.default({}),
  human_principal: optionalText(512),
  parent_jti: optionalText(256),
  destination_uri: optionalText(2048),
  destination_provider: optionalText(256),
  destination_account_ref: optionalText(256),
  data_categories: z.array(shortText(128)).max(100).nullish().transform((v) => v ?? undefined),
  purpose: optionalText(512),
  processing_register_ref: optionalText(256),
  dataset_ref: optionalText(512),
});
export type ClearanceRequestBody = z.infer<typeof clearanceRequestSchema>;

export const extraFieldNames = [
  "destination_uri",
  "destination_provider",
  "destination_account_ref",
  "data_categories",
  "purpose",
  "processing_register_ref",
  "dataset_ref",
] as const;

export const reviewDecisionSchema = z.object({
  approved: z.boolean(),
  review_reason: shortText(2000).default(""),
});

export const mintTokenSchema = z.object({
  tool_name: z.string().min(1).max(256),
  tool_args: jsonObject.default({}),
  agent_id: shortText(256).default(""),
  session_id: shortText(256).default(""),
  policy_id: shortText(256).default(""),
  policy_version_id: shortText(256).default(""),
  policy_content_hash: shortText(256).default(""),
  original_request_id: z.string().min(1).max(256),
});
export type MintTokenBody = z.infer<typeof mintTokenSchema>;

export const consumeTokenSchema = z.object({
  token: z.string().min(1).max(16_384),
  tool_name: z.string().min(1).max(256).optional(),
  tool_args: jsonObject.optional(),
});
export type ConsumeTokenBody = z.infer<typeof consumeTokenSchema>;

import { z } from "zod";
import { AppError } from "../errors.js";
import { authenticationResponseSchema } from "./passkey-assertion-schema.js";
import { grantSpecSchema } from "../grants/grant-spec.js";
import type { JsonBudgetProblem, JsonMemberBudget } from "../tokens/json-scan.js";

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

/**
 * Size budget of what policy conditions read. The body limit bounds bytes, but CEL cost grows with the
 * number of values: 1 MiB of JSON holds a 45,000-address list that kept a condition busy for 1.3 s.
 * Defaults (VAULT_MAX_ARGS_NODES 10,000, VAULT_MAX_ARRAY_LENGTH 1,000) are far above any tool call the
 * Ledgix SDK makes (a handful of arguments, lists of recipients or line items), and refuse such lists.
 * The budget bounds the cost of copying the input to a condition worker; the worker's time budget
 * (cel-pool.ts) is what bounds the evaluation itself, since a 1,000-item list under a regex still costs.
 */
export interface ArgsBudget {
  maxNodes: number;
  maxArrayLength: number;
}

const tooManyValues = (maxNodes: number) => `tool_args and context hold more than ${maxNodes} JSON values together (VAULT_MAX_ARGS_NODES)`;
const arrayTooLong = (pointer: string, items: number | null, max: number) =>
  `${pointer} has ${items ?? `more than ${max}`} items; at most ${max} are allowed (VAULT_MAX_ARRAY_LENGTH)`;

/** The first way tool_args plus context exceed the budget, or null. Iterative: depth is not a hazard. */
export function argsBudgetViolation(values: { tool_args: unknown; context: unknown }, budget: ArgsBudget): string | null {
  const stack: { value: unknown; path: string }[] = [
    { value: values.tool_args, path: "/tool_args" },
    { value: values.context, path: "/context" },
  ];
  let nodes = 0;
  while (stack.length > 0) {
    const { value, path } = stack.pop()!;
    if (++nodes > budget.maxNodes) return tooManyValues(budget.maxNodes);
    if (Array.isArray(value)) {
      if (value.length > budget.maxArrayLength) return arrayTooLong(path, value.length, budget.maxArrayLength);
      value.forEach((item, i) => stack.push({ value: item, path: `${path}/${i}` }));
    } else if (value !== null && typeof value === "object") {
      for (const [key, item] of Object.entries(value)) stack.push({ value: item, path: `${path}/${key.replace(/~/g, "~0").replace(/\//g, "~1")}` });
    }
  }
  return null;
}

/** Throws 413 args_too_large when the body's tool_args and context exceed the budget. */
export function assertArgsBudget(body: { tool_args: unknown; context: unknown }, budget: ArgsBudget): void {
  const violation = argsBudgetViolation(body, budget);
  if (violation) throw new AppError("args_too_large", violation);
}

/**
 * The same budget, for the body parser's pre-parse scan (http/json-body.ts): the limits are checked
 * on the raw text, so a body over them is refused after reading up to the first crossed limit instead
 * of after parsing all of it (a 45,000-address list is refused at item 1,001). The same words as
 * argsBudgetViolation; the first limit crossed in reading order is the one named. assertArgsBudget
 * stays in the handler as the rule's authority (it also counts a missing tool_args or context as
 * its default {}), and costs little once the scan has bounded the size.
 */
export function argsBodyBudget(budget: ArgsBudget): JsonMemberBudget & { error: (problem: JsonBudgetProblem) => AppError } {
  return {
    members: ["tool_args", "context"],
    maxNodes: budget.maxNodes,
    maxArrayLength: budget.maxArrayLength,
    error: (problem) =>
      new AppError(
        "args_too_large",
        problem.kind === "too_many_values" ? tooManyValues(problem.maxNodes) : arrayTooLong(problem.pointer, problem.items, problem.maxArrayLength),
      ),
  };
}

export const extraFieldNames = [
  "destination_uri",
  "destination_provider",
  "destination_account_ref",
  "data_categories",
  "purpose",
  "processing_register_ref",
  "dataset_ref",
] as const;

/**
 * A vote (or an agent's cancellation). Strict: a misspelled field must not turn into a silent default
 * on a decision. The Ledgix SDK sends exactly {approved, review_reason} here (protocol doc §2.6).
 */
export const reviewDecisionSchema = z.strictObject({
  approved: z.boolean(),
  review_reason: shortText(2000).default(""),
  /** An approval widened into a grant (docs/grants.md): every approving vote must carry the same. */
  grant: grantSpecSchema.optional(),
  /** Edit-on-approve: the arguments the approval (and its token) is for instead of the requested ones. */
  edited_tool_args: jsonObject.optional(),
  /** A WebAuthn assertion over the approval's commitment (docs/passkeys.md); required when the rules say require_passkey. */
  passkey: authenticationResponseSchema.optional(),
});
export type ReviewVote = z.infer<typeof reviewDecisionSchema>;

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

/**
 * Strict: the Ledgix SDK has no /consume-token (protocol §6), so no client needs unknown fields kept, and
 * a misspelled `tool_args` ("toolArgs") must not silently skip the arguments check and burn the token.
 */
export const consumeTokenSchema = z.strictObject({
  token: z.string().min(1).max(16_384),
  tool_name: z.string().min(1).max(256).optional(),
  tool_args: jsonObject.optional(),
});
export type ConsumeTokenBody = z.infer<typeof consumeTokenSchema>;

import { z } from "zod";
import { MAX_EXPRESSION_LENGTH } from "./cel.js";

export const decisions = ["approve", "deny", "review"] as const;
export type RuleDecision = (typeof decisions)[number];

const identifier = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/, "1-128 characters: letters, digits and . _ : / -");

// Strict objects: a misspelled field ("condtions") must be a 400 naming it, not a policy without
// conditions whose default decision then decides everything.
export const conditionSchema = z.strictObject({
  id: identifier,
  when: z.string().min(1).max(MAX_EXPRESSION_LENGTH),
  decision: z.enum(decisions),
  reason: z.string().max(2000).default(""),
});

/**
 * POST /register-policy. The Ledgix SDK sends the caller's policy object snake_cased (policy_id,
 * description, rules, tools: protocol doc §2.4), all of which are fields here.
 */
export const registerPolicySchema = z
  .strictObject({
    policy_id: identifier,
    description: z.string().max(20_000).default(""),
    rules: z.array(z.string().max(4000)).max(500).default([]),
    tools: z.array(z.string().min(1).max(200)).max(1000).default([]),
    conditions: z.array(conditionSchema).max(200).default([]),
    default_decision: z.enum(decisions).default("review"),
  })
  .superRefine((p, ctx) => {
    const seen = new Set<string>();
    p.conditions.forEach((c, i) => {
      if (seen.has(c.id)) ctx.addIssue({ code: "custom", path: ["conditions", i, "id"], message: `duplicate condition id ${c.id}` });
      seen.add(c.id);
    });
  });

export type PolicyDocument = z.infer<typeof registerPolicySchema>;
export type Condition = z.infer<typeof conditionSchema>;

export interface PolicyWarning {
  code: "default_approve" | "shadow_mode";
  message: string;
}

/** What the registration answer points out about an accepted policy (the console lists requests, not policies). */
export function policyWarnings(doc: PolicyDocument): PolicyWarning[] {
  if (doc.default_decision !== "approve") return [];
  return [
    {
      code: "default_approve",
      message:
        `default_decision is "approve": a call of ${doc.tools.length === 0 ? "any tool" : doc.tools.slice(0, 5).join(", ") + (doc.tools.length > 5 ? ", ..." : "")} ` +
        "that matches none of this policy's conditions is approved with a token, unless another applicable policy or the LLM judge decides otherwise. " +
        'Prefer "review" or "deny" unless the conditions cover every case.',
    },
  ];
}

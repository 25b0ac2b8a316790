import { z } from "zod";
import { MAX_EXPRESSION_LENGTH } from "./cel.js";

export const decisions = ["approve", "deny", "review"] as const;
export type RuleDecision = (typeof decisions)[number];

const identifier = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/, "1-128 characters: letters, digits and . _ : / -");

export const conditionSchema = z.object({
  id: identifier,
  when: z.string().min(1).max(MAX_EXPRESSION_LENGTH),
  decision: z.enum(decisions),
  reason: z.string().max(2000).default(""),
});

export const registerPolicySchema = z
  .object({
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

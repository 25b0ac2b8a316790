import { z } from "zod";
import type { ReviewerIdentity } from "../tenancy/api-keys.js";
import { sameIdentity } from "../tenancy/identity-key.js";

/**
 * Who must approve a pending request, and for how long it may wait. Set per tenant and optionally
 * per policy (`PUT /review-settings[?policy_id=]`); the rules in force when a request goes to
 * review are stored with it.
 */
export const reviewRulesSchema = z.strictObject({
  /** Distinct eligible reviewers who must approve. */
  approvals_required: z.number().int().min(1).max(20).default(1),
  /** Each group must also reach its own count of approvals from its members (AND of groups). */
  groups: z
    .array(z.strictObject({ name: z.string().trim().min(1).max(64), approvals_required: z.number().int().min(1).max(20).default(1) }))
    .max(10)
    .refine((g) => new Set(g.map((x) => x.name)).size === g.length, "group names must be distinct")
    .default([]),
  /** Reviewer ids or emails who may review; null = any reviewer or admin of the tenant. */
  reviewers: z.array(z.string().trim().min(1).max(320)).min(1).max(500).nullable().default(null),
  /** A pending request is denied as expired after this long (default 24 h). */
  expiry_seconds: z.number().int().min(1).max(90 * 86_400).default(86_400),
  reminder_after_seconds: z.number().int().min(1).max(90 * 86_400).nullable().default(null),
  escalate_after_seconds: z.number().int().min(1).max(90 * 86_400).nullable().default(null),
  /** An approval counts only with a WebAuthn assertion over the request's commitment (docs/passkeys.md); a deny never needs one. */
  require_passkey: z.boolean().default(false),
});
export type ReviewRules = z.infer<typeof reviewRulesSchema>;

export const DEFAULT_REVIEW_RULES: ReviewRules = reviewRulesSchema.parse({});

export interface Vote {
  reviewer_id: string;
  approved: boolean;
  groups: string[];
}

export interface QuorumProgress {
  received: number;
  required: number;
  groups: { name: string; received: number; required: number }[];
  met: boolean;
}

/** Counts distinct approving reviewers overall and per required group. Any deny is handled by the caller. */
export function quorum(rules: ReviewRules, votes: readonly Vote[]): QuorumProgress {
  const approvers = new Map<string, string[]>();
  for (const v of votes) if (v.approved) approvers.set(v.reviewer_id, v.groups);
  const groups = rules.groups.map((g) => ({
    name: g.name,
    received: [...approvers.values()].filter((memberOf) => memberOf.includes(g.name)).length,
    required: g.approvals_required,
  }));
  const received = approvers.size;
  return { received, required: rules.approvals_required, groups, met: received >= rules.approvals_required && groups.every((g) => g.received >= g.required) };
}

/** Whether `who` may review under `rules` (a missing list means any reviewer of the tenant). */
export function isEligible(rules: ReviewRules, who: ReviewerIdentity): boolean {
  if (rules.reviewers === null) return true;
  const names = new Set(rules.reviewers.map((r) => r.toLowerCase()));
  return names.has(who.id.toLowerCase()) || (who.email !== "" && names.has(who.email.toLowerCase()));
}

/**
 * The request's human principal is this reviewer, by id, email or name, compared as identityKey
 * forms (NFKC, case folded, trimmed): a fullwidth "ｃarol@example.com" is still Carol.
 */
export function isPrincipal(humanPrincipal: string | null, who: ReviewerIdentity): boolean {
  if (!humanPrincipal) return false;
  return [who.id, who.email, who.name].some((x) => sameIdentity(x, humanPrincipal));
}

/** The rules a request is reviewed by: those stored with it, or today's defaults for older rows. */
export function rulesOf(row: { review_rules: ReviewRules | null }): ReviewRules {
  return row.review_rules ? reviewRulesSchema.parse(row.review_rules) : DEFAULT_REVIEW_RULES;
}

/** Most groups a rule set may require (reviewRulesSchema). */
export const MAX_RULE_GROUPS = 10;

/**
 * The rules tightened by the approver a request names itself (a NameID in `extras.approver`, from a
 * StepAuth `action.approver`): `group:X` also requires one approval from group X; `email:X` and
 * `persistent:X` (a reviewer id) leave only that person eligible. Nothing is ever loosened: the
 * tenant's approvals and groups still apply, and a person the rules' own reviewer list leaves out
 * is refused. `policy:` names the deciding policy instead and changes no rule. A refusal says why:
 * `too_many_groups` (more than MAX_RULE_GROUPS) or `not_eligible`; the StepAuth submit checks every
 * rule set of the tenant first, so the judge meets one only if the settings changed since.
 */
export function tightenedRules(rules: ReviewRules, approver: unknown): ReviewRules | "too_many_groups" | "not_eligible" {
  if (typeof approver !== "string") return rules;
  const colon = approver.indexOf(":");
  const [type, value] = [approver.slice(0, colon), approver.slice(colon + 1)];
  if (colon < 1 || value === "") return rules;
  if (type === "group") {
    if (rules.groups.some((g) => g.name === value)) return rules;
    if (rules.groups.length >= MAX_RULE_GROUPS) return "too_many_groups";
    return { ...rules, groups: [...rules.groups, { name: value, approvals_required: 1 }] };
  }
  if (type !== "email" && type !== "persistent") return rules;
  if (rules.reviewers !== null && !rules.reviewers.some((r) => r.toLowerCase() === value.toLowerCase())) return "not_eligible";
  return { ...rules, reviewers: [value] };
}

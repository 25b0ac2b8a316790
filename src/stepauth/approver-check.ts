import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import { parseNameId } from "../protocols/stepauth/name-id.js";
import { isRetired } from "../policies/policy-status.js";
import { readCurrentVersion } from "../policies/policy-store.js";
import { tightenedRules } from "../requests/review-rules.js";
import type { ReviewSettings } from "../requests/review-settings.js";
import { activeReviewers } from "./directory-source.js";

/**
 * The hub's own check of `action.approver` (the protocol cannot make it: it needs the tenant's
 * directory). `email:` must be an active reviewer's email, `persistent:` an active reviewer's id,
 * `group:` a group some active reviewer is in, `policy:` a current policy; else 400
 * unknown_approver. The approver then tightens the review rules (requests/review-rules.ts
 * tightenedRules), which must hold under every rule set of the tenant (its default and each
 * policy's): a person the rules' reviewer list leaves out is unknown_approver, a group beyond the
 * rules' 10 is approver_set_too_large.
 */
export async function checkApprover(
  deps: { control: Sql; tenantId: string; sql: Sql; settings: ReviewSettings },
  approver: string | undefined,
): Promise<void> {
  if (approver === undefined) return;
  const id = parseNameId(approver);
  const unknown = (why: string) => new AppError("unknown_approver", `approver ${approver.slice(0, 200)}: ${why}`);
  if (!id) throw unknown("not a NameID (email:, persistent:, group: or policy:)");
  if (id.type === "policy") {
    const current = await readCurrentVersion(deps.sql, id.value);
    if (!current || isRetired(current.content)) throw unknown("no such policy");
    return;
  }
  const reviewers = await activeReviewers(deps.control, deps.tenantId);
  const known =
    id.type === "email"
      ? reviewers.some((r) => r.email.toLowerCase() === id.value.toLowerCase())
      : id.type === "persistent"
        ? reviewers.some((r) => r.id === id.value)
        : reviewers.some((r) => r.groups.includes(id.value));
  if (!known) throw unknown(id.type === "group" ? "no active reviewer is in this group" : "no active reviewer with this identity");
  for (const rules of [deps.settings.rules, ...Object.values(deps.settings.policies)]) {
    const tightened = tightenedRules(rules, approver);
    if (tightened === "too_many_groups") throw new AppError("approver_set_too_large", `approver ${approver.slice(0, 200)} would make a review rule set require more than 10 groups`);
    if (tightened === "not_eligible") throw unknown("not among the reviewers this hub's review rules allow");
  }
}

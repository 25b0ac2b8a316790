import type { Sql } from "../db/sql.js";
import type { ReviewerIdentity } from "../tenancy/api-keys.js";
import { listReviewers } from "../tenancy/reviewers.js";

/** The tenant's reviewers who can vote now (disabled ones cannot), in creation order. */
export async function activeReviewers(control: Sql, tenantId: string): Promise<ReviewerIdentity[]> {
  return (await listReviewers(control, tenantId)).filter((r) => r.disabled_at === null).map((r) => ({ id: r.id, name: r.name, email: r.email, groups: r.groups ?? [] }));
}

/** Review groups: every group some active reviewer is in, with its member count, by name. */
export function reviewGroups(reviewers: readonly ReviewerIdentity[]): { name: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const r of reviewers) for (const g of new Set(r.groups)) counts.set(g, (counts.get(g) ?? 0) + 1);
  return [...counts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, count]) => ({ name, count }));
}

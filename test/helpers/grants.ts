import { expect } from "vitest";
import { call, type TestVault } from "./vault.js";

/**
 * A refund policy for grant tests: a binding deny (amount > 1000), a binding review (flagged), and
 * review by default, which is what a grant may widen. `stripe_payout` is covered too (another tool).
 */
export const grantPolicy = {
  policy_id: "refund-policy",
  description: "Refunds of customer payments",
  rules: ["Refunds need a person unless a reviewer granted them", "Refunds over $1000 are never issued by agents"],
  tools: ["stripe_refund", "stripe_payout"],
  conditions: [
    { id: "too-large", when: "args.amount > 1000", decision: "deny", reason: "Amount exceeds $1000 limit" },
    { id: "flagged", when: "has(args.flagged) && args.flagged == true", decision: "review", reason: "Flagged orders need a human" },
  ],
  default_decision: "review",
};

/**
 * Vault settings for grant tests on a loaded machine: policy conditions run under a 50 ms budget by
 * default, and a cold constraint worker may be waited for half the judge's time. A condition_timeout
 * (no policy decided, so no grant may be made) would otherwise stand in for the verdict a case is
 * about. Time budgets themselves are tested where they are the subject (test/unit/grants.test.ts).
 */
export const steadyCel = { VAULT_CEL_TIMEOUT_MS: "5000", VAULT_JUDGE_TIMEOUT_MS: "60000" };

export interface Reviewer {
  reviewer_id: string;
  api_key: string;
  email: string;
  name: string;
}

/** Registers the policy and reviewers `names` (group finance). */
export async function setUpGrants(v: TestVault, names: string[]): Promise<Record<string, Reviewer>> {
  const registered = await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: grantPolicy });
  expect(registered.status, JSON.stringify(registered.body)).toBe(200);
  const people: Record<string, Reviewer> = {};
  for (const name of names) {
    const res = await call(v.url, "POST", "/reviewers", { key: v.adminKey, body: { name, email: `${name}@example.com`, groups: ["finance"] } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    people[name] = res.body;
  }
  return people;
}

/** The ledger entries of one request (or audit subject), oldest first. Call after ledgerLoop.drain(). */
export async function ledgerEntriesOf(v: TestVault, key: string, requestId: string): Promise<Record<string, any>[]> {
  const res = await call(v.url, "GET", "/ledger?limit=1000", { key });
  expect(res.status).toBe(200);
  return (res.body.entries as Record<string, any>[]).filter((e) => e.request_id === requestId);
}

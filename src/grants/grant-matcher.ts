import type { Logger } from "pino";
import type { Sql } from "../db/sql.js";
import type { Verdict } from "../judge/judge.js";
import type { ConditionRunner } from "../policies/condition-runner.js";
import { candidateGrants, type Grant } from "./grant-store.js";

/**
 * Which later requests a grant approves (docs/grants.md "Matching"). A grant only ever turns a
 * review the policy would have left to a person's judgement into an approval; it never widens:
 *  - a binding deny or review condition (any matched condition id),
 *  - an error, a timeout or any fail-closed verdict (their reason codes are not in GRANTABLE),
 *  - "no applicable policy", or a request another policy also applied to,
 *  - a denial or an approval (nothing to widen).
 * Then the grant's tool, policy and agent (and session, for a session grant) must be the request's,
 * `now` within [starts_at, expires_at), the grant not revoked, the approvals behind it (from
 * reviewers not disabled since, with their groups now) enough for the request's own review rules
 * (`admit`, the caller's), and its constraint true on the arguments,
 * evaluated in the condition pool under its time budget: an error or a timeout is no match.
 */

/** Reviews a person was asked to judge only because nothing in the policy decided: the policy's default, the LLM's "review", or low confidence. */
export const GRANTABLE_REASON_CODES: ReadonlySet<string> = new Set(["policy_default", "llm_review", "below_confidence_threshold"]);

/** Whether a grant may turn this verdict into an approval at all (before any grant is looked at). */
export function grantableVerdict(v: Pick<Verdict, "decision" | "reason_code" | "matched_condition_ids" | "policy_id" | "applied_policies">): v is typeof v & { policy_id: string } {
  if (v.decision !== "review" || v.reason_code === null || !GRANTABLE_REASON_CODES.has(v.reason_code)) return false;
  if (v.matched_condition_ids.length > 0 || !v.policy_id) return false;
  // Another policy that applied had its own say; a grant under one policy does not speak for it.
  return v.applied_policies.length > 0 && v.applied_policies.every((p) => p.policy_id === v.policy_id);
}

/** What matching reads of a request. */
export interface GrantCandidate {
  tool: string;
  args: Record<string, unknown>;
  agentId: string;
  sessionId: string;
  policyId: string;
  apiKeyId: string;
  /** The verified Sigilum signer (`namespace/subject`), or null when unsigned: it must be the grant's. */
  agentSigner: string | null;
}

export class GrantMatcher {
  constructor(
    private readonly deps: {
      /** The condition worker pool: constraints run there, under VAULT_CEL_TIMEOUT_MS. */
      conditions: ConditionRunner;
      log: Logger;
      /**
       * The approvers still in force, with their groups now (tenancy/reviewers.ts votersInForce over the
       * control database): a reviewer disabled, or a key revoked, since the grant was made no longer
       * counts for it, and a reviewer's groups are the current ones.
       */
      votersInForce: (tenantId: string, ids: readonly string[]) => Promise<Map<string, { groups: string[] }>>;
    },
  ) {}

  /**
   * The oldest active grant that approves this request, or undefined. `admit` checks a grant's
   * approvals against the request's review rules (requests/grant-approval.ts).
   */
  async match(sql: Sql, tenantId: string, request: GrantCandidate, now: Date, admit: (grant: Grant) => boolean): Promise<Grant | undefined> {
    const found = await candidateGrants(sql, { ...request, now });
    if (found.length === 0) return undefined;
    const inForce = await this.deps.votersInForce(tenantId, [...new Set(found.flatMap((g) => g.approvers.map((a) => a.reviewer_id)))]);
    const current = (g: Grant): Grant => ({
      ...g,
      approvers: g.approvers.flatMap((a) => {
        const voter = inForce.get(a.reviewer_id);
        return voter ? [{ ...a, groups: voter.groups }] : [];
      }),
    });
    const candidates = found.map(current).filter(admit);
    if (candidates.length === 0) return undefined;
    const constrained = candidates.filter((g) => g.arg_constraint !== null);
    const truth = new Map<string, boolean>(candidates.filter((g) => g.arg_constraint === null).map((g) => [g.id, true]));
    if (constrained.length > 0) {
      // One task for all of them: one worker round trip, one budget.
      const input = { tool: "", args: request.args, context: {}, agent_id: "", session_id: "", human_principal: "" };
      const run = await this.deps.conditions.evaluate(constrained.map((g) => g.arg_constraint!), input, tenantId).catch((err: unknown) => ({ kind: "unavailable" as const, detail: String(err) }));
      if (run.kind === "done") constrained.forEach((g, i) => truth.set(g.id, run.results[i] === true));
      else this.deps.log.warn({ tenantId, grants: constrained.map((g) => g.id), outcome: run.kind }, "grant constraints could not be evaluated: no grant applies (fail closed)");
    }
    return candidates.find((g) => truth.get(g.id) === true);
  }
}

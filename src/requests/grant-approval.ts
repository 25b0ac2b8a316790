import type { Logger } from "pino";
import type { Sql } from "../db/sql.js";
import { grantableVerdict, type GrantMatcher } from "../grants/grant-matcher.js";
import type { Grant } from "../grants/grant-store.js";
import type { Verdict } from "../judge/judge.js";
import type { JsonObject } from "../ledger/core/event-hash.js";
import type { AgentIdentity } from "../tenancy/agent-identity.js";
import { canonicalJson } from "../tokens/canonical-json.js";
import type { ClearanceRequest, DecisionFields } from "./clearance-request.js";
import { isEligible, isPrincipal, quorum, type ReviewRules } from "./review-rules.js";

/**
 * How a grant approves a later request (src/grants/ finds it; docs/grants.md): it stands in for a
 * review, so it must carry what that review would need today. The approvals behind the grant are
 * counted under the request's own review rules, as votes on it would be: only eligible reviewers,
 * never the key that submitted the request nor its human principal, each required group reached,
 * and with `require_passkey` only approvals signed with a passkey. Rules tightened since the grant
 * was made leave it unused (the request goes to review), never loosened.
 */
export function grantCoversRules(grant: Grant, request: Pick<ClearanceRequest, "api_key_id" | "human_principal">, rules: ReviewRules): boolean {
  const passkeyRequired = rules.require_passkey === true;
  const counted = grant.approvers.filter((a) => {
    const who = { id: a.reviewer_id, name: a.reviewer_name, email: a.reviewer_email, groups: a.groups };
    return isEligible(rules, who) && a.api_key_id !== request.api_key_id && !isPrincipal(request.human_principal, who) && (!passkeyRequired || a.passkey);
  });
  return quorum(rules, counted.map((a) => ({ reviewer_id: a.reviewer_id, approved: true, groups: a.groups }))).met;
}

/** The verified signer as a grant binds it, or null for an unsigned request. */
export function agentSignerOf(identity: AgentIdentity | null | undefined): string | null {
  return identity?.verified ? `${identity.namespace}/${identity.subject}` : null;
}

/** The review the verdict asked for, turned into an approval by `grant`. */
export function approvedByGrant(review: DecisionFields, grant: Grant): DecisionFields {
  const until = grant.expires_at.toISOString();
  return {
    ...review,
    status: "approved",
    decision_status: "approved",
    reason: `Approved by grant ${grant.id} (${grant.scope} until ${until}, from the approval of ${grant.source_request_id}). ${review.reason}`.trim(),
    reason_code: "grant_approved",
    review_rules: null,
    expires_at: null,
    grant_id: grant.id,
  };
}

/**
 * The evidence chunk of an approval by a grant, or of the approval that created one: which grant,
 * its scope and its constraint ("" for none). Keys are single lowercase words (ledger-event.ts).
 */
export function grantChunk(grant: Pick<Grant, "id" | "scope" | "arg_constraint">): JsonObject {
  return { type: "grant", grant: grant.id, scope: grant.scope, constraint: grant.arg_constraint ?? "" };
}

/**
 * The evidence chunk of edit-on-approve: the edited arguments as canonical JSON TEXT (the Ledgix SDK
 * camelCases object keys inside chunks before hashing, which would change the hash of snake_case
 * arguments; a string it leaves alone) and their hash, which the token binds.
 */
export function editChunk(args: Record<string, unknown>, hash: string): JsonObject {
  return { type: "edit", args: canonicalJson(args), hash };
}

/** The edit chunk of an approved request whose arguments the reviewers edited (its burn and execution events carry it too), or none. */
export function editEvidence(row: Pick<ClearanceRequest, "approved_tool_args" | "approved_tool_args_hash">): JsonObject[] {
  return row.approved_tool_args_hash && row.approved_tool_args ? [editChunk(row.approved_tool_args, row.approved_tool_args_hash)] : [];
}

/** A judged request: its decision, and when a grant approved it, the grant and the review it replaced. */
export interface Judged {
  fields: DecisionFields;
  grant?: Grant;
  /** The decision without the grant, taken when the grant is found revoked or expired at commit (holdActiveGrant). */
  review?: DecisionFields;
}

/**
 * The judged request, approved by an active grant when one matches (src/grants/grant-matcher.ts
 * says which verdicts a grant may widen at all). Only agents' clearance requests; `rules` are the
 * request's own review rules, which the grant's approvals must meet. Grants that cannot be read
 * leave the review standing (fail closed).
 */
export async function withGrant(
  deps: { matcher: GrantMatcher; log: Logger; now: Date },
  sql: Sql,
  tenantId: string,
  row: ClearanceRequest,
  verdict: Verdict,
  rules: ReviewRules,
  fields: DecisionFields,
): Promise<Judged> {
  if (row.kind !== "clearance" || !grantableVerdict(verdict)) return { fields };
  const candidate = { tool: row.tool_name, args: row.tool_args, agentId: row.agent_id, sessionId: row.session_id, policyId: verdict.policy_id, apiKeyId: row.api_key_id, agentSigner: agentSignerOf(row.agent_identity) };
  const grant = await deps.matcher.match(sql, tenantId, candidate, deps.now, (g) => grantCoversRules(g, row, rules)).catch((err: unknown) => {
    deps.log.error({ err, requestId: row.id, tenantId }, "grant matching failed: the request stays in review");
    return undefined;
  });
  return grant ? { fields: approvedByGrant(fields, grant), grant, review: fields } : { fields };
}

/** The ledger chunks of a judged request's event. */
export const judgedEvidence = (j: Judged): JsonObject[] => (j.grant ? [grantChunk(j.grant)] : []);

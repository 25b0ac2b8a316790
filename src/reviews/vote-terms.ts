import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import { committedSpec, specDifference, widens, type CommittedGrantSpec, type GrantSpec } from "../grants/grant-spec.js";
import type { GrantApprover } from "../grants/grant-store.js";
import type { Verdict } from "../judge/judge.js";
import type { JsonObject } from "../ledger/core/event-hash.js";
import type { ClearanceRequest } from "../requests/clearance-request.js";
import { editChunk } from "../requests/grant-approval.js";
import { canonicalJson, toolArgsHash } from "../tokens/canonical-json.js";

/**
 * What an approving vote approves beyond the request as asked (docs/grants.md): a grant it widens
 * the approval into, and arguments it edited. Every approving vote of a request must approve the
 * same terms as the first (quorum counts agreement on one thing), so they are stored with each vote
 * (review_decisions.grant_spec / edited_tool_args, tenant migration 0014) and compared.
 */
export interface VoteTerms {
  /** null: no grant (or scope once, the same thing). */
  grant: CommittedGrantSpec | null;
  /** null: the arguments as requested. */
  edited: Record<string, unknown> | null;
  editedHash: string | null;
}

export const NO_TERMS: VoteTerms = { grant: null, edited: null, editedHash: null };

/** A vote's terms in their one form: scope once is no grant, and "edited" arguments equal to the requested ones are no edit. */
export function voteTerms(row: Pick<ClearanceRequest, "tool_args_hash">, extra: { grant?: GrantSpec; edited_tool_args?: Record<string, unknown> }): VoteTerms {
  const spec = committedSpec(extra.grant);
  const hash = extra.edited_tool_args === undefined ? null : toolArgsHash(extra.edited_tool_args);
  const edited = hash !== null && hash !== row.tool_args_hash;
  return { grant: widens(spec) ? spec : null, edited: edited ? extra.edited_tool_args! : null, editedHash: edited ? hash : null };
}

/** The arguments the approval is for. */
export const approvedArgsOf = (row: Pick<ClearanceRequest, "tool_args">, terms: VoteTerms): Record<string, unknown> => terms.edited ?? row.tool_args;

/**
 * What may not carry terms at all: a deny or a cancel, a request that is not an agent's clearance
 * (a StepAuth action or an agent claim has its own form), a session grant without a session, and a
 * grant on a request no policy decided (it could never match: docs/grants.md "Matching").
 */
export function termsRefusal(row: ClearanceRequest, approved: boolean, terms: VoteTerms): AppError | undefined {
  if (terms.grant === null && terms.edited === null) return undefined;
  if (!approved) return new AppError("grant_not_allowed", "Only an approval may carry a grant or edited arguments");
  if (row.kind !== "clearance") return new AppError("grant_not_allowed", `A ${row.kind} request cannot be approved with a grant or edited arguments`);
  if (terms.grant?.scope === "session" && row.session_id === "") return new AppError("grant_not_allowed", "This request has no session_id, so it cannot be widened to its session");
  if (terms.grant && !row.policy_id) return new AppError("grant_not_allowed", "No policy decided this request, so a grant could never apply to a later one");
  return undefined;
}

/**
 * Reviews the edited arguments themselves were judged into: the policy's default, the LLM's
 * "review", a binding review condition (the reviewer is that review), or answers that do not depend
 * on the arguments at all (no policy covers the tool, a shadow tenant's default, the stub judge).
 * Anything else (a condition that errored or timed out, retrieval or an LLM that failed, a judge
 * that timed out) means the policy could not say whether it denies the edit.
 */
const JUDGED_REVIEWS: ReadonlySet<string> = new Set([
  "policy_default", "llm_review", "below_confidence_threshold", "condition_matched",
  "no_applicable_policy", "policy_not_applicable", "policy_not_found", "shadow_default", "stub_judge",
]);

/**
 * Why the judge's verdict on a vote's edited arguments refuses the edit, or undefined. An edit may
 * narrow an action, never turn it into one the policy denies; and it fails closed: an edit the
 * policy could not judge (e.g. `amount: "5000"`, a string on which `args.amount > 1000` errors) is
 * refused too, since the deny it might have matched never ran.
 */
export function editedVerdictRefusal(verdict: Pick<Verdict, "decision" | "reason" | "reason_code">): AppError | undefined {
  if (verdict.decision === "deny") return new AppError("edited_args_denied", `The policy denies the edited arguments: ${verdict.reason}`);
  if (verdict.decision === "review" && !JUDGED_REVIEWS.has(verdict.reason_code ?? "")) {
    return new AppError(
      "edited_args_denied",
      `The policy could not judge the edited arguments (${verdict.reason_code ?? "no reason code"}: ${verdict.reason}); approve the arguments as requested, edit them into ones it can judge, or deny`,
    );
  }
  return undefined;
}

/** How this vote's terms differ from the first approving vote's, or undefined (also when it is the first). */
export async function termsMismatch(tx: Sql, requestId: string, terms: VoteTerms): Promise<AppError | undefined> {
  const [first] = await tx.query<{ grant_spec: unknown; edited_tool_args: unknown }>(
    `SELECT grant_spec, edited_tool_args FROM review_decisions WHERE request_id = $1 AND approved ORDER BY created_at, id LIMIT 1`,
    [requestId],
  );
  if (!first) return undefined;
  const grantDiff = specDifference(parsed(first.grant_spec) as CommittedGrantSpec | null, terms.grant);
  if (grantDiff) return new AppError("vote_mismatch", `Grant differs: ${grantDiff}. Approve the same terms, or deny`);
  const firstEdit = parsed(first.edited_tool_args);
  if (canonicalJson(firstEdit) !== canonicalJson(terms.edited)) {
    // With the hash: two texts can look the same and differ (é as one code point, or e and a combining accent).
    const show = (args: unknown) => (args === null ? "the arguments as requested" : `edited arguments ${canonicalJson(args)} (hash ${toolArgsHash(args).slice(0, 12)}…)`);
    return new AppError("vote_mismatch", `Arguments differ: the first approval approved ${show(firstEdit)}; this vote approves ${show(terms.edited)}. Approve the same terms, or deny`);
  }
  return undefined;
}

/** The columns a vote stores its terms in (JSON text, or null). */
export const storedTerms = (terms: VoteTerms): [string | null, string | null] => [
  terms.grant ? JSON.stringify(terms.grant) : null,
  terms.edited ? JSON.stringify(terms.edited) : null,
];

/**
 * The ledger chunks of a vote's terms: `edit` with the edited arguments as canonical JSON TEXT (the
 * Ledgix SDK camelCases object keys inside chunks before hashing, which would change the hash of
 * snake_case arguments; a string it leaves alone) and their hash; `grant` with its id ("" on a vote
 * before the approval completes: the grant is created then), scope and constraint ("" for none).
 */
export function termChunks(terms: VoteTerms, grantId = ""): JsonObject[] {
  const chunks: JsonObject[] = [];
  if (terms.edited) chunks.push(editChunk(terms.edited, terms.editedHash!));
  if (terms.grant) chunks.push({ type: "grant", grant: grantId, scope: terms.grant.scope, constraint: terms.grant.constraint ?? "" });
  return chunks;
}

/** The approving votes of a request as a grant records them (each is checked again against later requests' rules). */
export async function grantApprovers(tx: Sql, requestId: string): Promise<GrantApprover[]> {
  return tx.query<GrantApprover>(
    `SELECT COALESCE(reviewer_id, api_key_id) AS reviewer_id, reviewer_name, reviewer_email, groups, api_key_id, passkey IS NOT NULL AS passkey
       FROM review_decisions WHERE request_id = $1 AND approved ORDER BY created_at, id`,
    [requestId],
  );
}

// jsonb reads back parsed on node-postgres and PGlite alike; a string would be a driver's choice.
const parsed = (v: unknown): unknown => (typeof v === "string" ? JSON.parse(v) : (v ?? null));

/**
 * What GET /reviews/{id} shows of the terms: what an approving vote must repeat (the first
 * approving vote's; null before one), the arguments approved when edited, the grant that approved
 * the request, and the grant its approval created.
 */
export async function termsView(sql: Sql, row: ClearanceRequest) {
  const [first] = await sql.query<{ grant_spec: unknown; edited_tool_args: unknown }>(
    `SELECT grant_spec, edited_tool_args FROM review_decisions WHERE request_id = $1 AND approved ORDER BY created_at, id LIMIT 1`,
    [row.id],
  );
  const [created] = await sql.query<{ id: string }>("SELECT id FROM grants WHERE source_request_id = $1", [row.id]);
  return {
    approval_terms: first ? { grant: parsed(first.grant_spec) as CommittedGrantSpec | null, edited_tool_args: parsed(first.edited_tool_args) as Record<string, unknown> | null } : null,
    edited_tool_args: row.approved_tool_args ?? null,
    grant_id: row.grant_id ?? null,
    created_grant_id: created?.id ?? null,
  };
}

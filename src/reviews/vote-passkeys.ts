import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import { passkeyChunkOf, type PasskeyChunk } from "../ledger/core/passkey-chunk.js";
import type { PasskeyCommitmentInput } from "../ledger/core/passkey-commitment.js";
import type { PasskeyService } from "../passkeys/passkey-service.js";
import type { PasskeyVote } from "../passkeys/passkey-vote.js";
import type { ClearanceRequest } from "../requests/clearance-request.js";
import type { ReviewVote } from "../requests/request-schema.js";
import { rulesOf } from "../requests/review-rules.js";
import type { ReviewerIdentity } from "../tenancy/api-keys.js";
import { voteTerms } from "./vote-terms.js";

/**
 * The passkey assertions stored with votes (review_decisions.passkey, tenant migration 0012): the
 * final approval's ledger event carries one chunk per approving vote that had one, and its token
 * names each (src/passkeys/, docs/passkeys.md).
 */

/** The column's value for a vote: what was verified, and the chunk its ledger event carried. */
export function storedPasskey(vote: PasskeyVote | undefined): string | null {
  return vote ? JSON.stringify(vote) : null;
}

/** The chunks of the request's approving votes, in the order they were cast. */
export async function approvingPasskeyChunks(sql: Sql, requestId: string): Promise<PasskeyChunk[]> {
  const rows = await sql.query<{ passkey: unknown }>(
    `SELECT passkey FROM review_decisions WHERE request_id = $1 AND approved AND passkey IS NOT NULL ORDER BY created_at, id`,
    [requestId],
  );
  return rows.flatMap((r) => {
    // jsonb reads back parsed on node-postgres and PGlite alike; a string would be a driver's choice.
    const stored = (typeof r.passkey === "string" ? JSON.parse(r.passkey) : r.passkey) as { chunk?: unknown } | null;
    const chunk = passkeyChunkOf(stored?.chunk);
    return chunk ? [chunk] : [];
  });
}

/**
 * The approval's passkey, verified against the commitment recomputed from the locked request. None
 * given: fine unless the rules require one. One given when not required is still verified and
 * recorded: it strengthens the approval, and a bad one is refused all the same.
 */
export async function votePasskey(
  tx: Sql,
  passkeys: PasskeyService,
  voter: ReviewerIdentity,
  row: ClearanceRequest,
  extra: Omit<Partial<ReviewVote>, "approved" | "review_reason">,
): Promise<{ passkey?: PasskeyVote } | { refusal: AppError }> {
  if (!extra.passkey) {
    if (!rulesOf(row).require_passkey) return {};
    const detail = (await passkeys.hasPasskey(tx, voter.id))
      ? "Approving this request needs a passkey signature: get the options from POST /reviews/{id}/passkey-options and send the assertion as `passkey`"
      : `${voter.name} has no passkey enrolled and cannot approve this request (a deny needs none)`;
    return { refusal: new AppError("passkey_required", detail) };
  }
  const checked = await passkeys.verifyVote(tx, voter.id, extra.passkey, commitmentInputs(row, extra));
  return "refusal" in checked ? checked : { passkey: checked.vote };
}

/**
 * What an approving vote's passkey signs (ledger/core/passkey-commitment.ts): the request, its tool, the
 * argument hash the token will bind (the edited arguments' when the vote edits them) and its policy
 * version, plus the grant the vote creates, if any. The terms in their one form (vote-terms.ts): scope
 * once is no grant, and arguments "edited" to what was requested are no edit, so a signature commits
 * to what the approval actually does.
 */
export function commitmentInputs(row: ClearanceRequest, extra: Omit<Partial<ReviewVote>, "approved" | "review_reason">): PasskeyCommitmentInput {
  const terms = voteTerms(row, extra);
  const input: PasskeyCommitmentInput = { request_id: row.id, tool: row.tool_name, tool_args_hash: terms.editedHash ?? row.tool_args_hash, policy_version_id: row.policy_version_id };
  if (terms.grant) input.grant = terms.grant;
  return input;
}

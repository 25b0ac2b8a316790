import { toBase64Url, toHex, utf8 } from "./bytes.js";
import { sha256 } from "./crypto.js";
import { jcs } from "./jcs.js";

/**
 * What a reviewer's passkey signs when approving (docs/passkeys.md): the WebAuthn challenge of the
 * approval is not a random nonce the server remembers but a commitment to the exact action,
 *
 *   challenge = SHA-256(JCS({request_id, tool, tool_args_hash, policy_version_id, vote: "approve"[, grant]}))
 *
 * so an assertion is bound to one request, one tool, one argument hash (the edited arguments' hash
 * when the reviewer edits them) and one policy version, and anyone holding the ledger event can
 * recompute it offline. Replaying an assertion on another request fails because the challenge differs.
 * A grant the vote widens the approval into (scope once/session/window, its minutes and constraint) is
 * committed too: a signature for "once" cannot be turned into a standing grant.
 * Pure; runs in the vault and in the SDK's offline verifier.
 */

export interface PasskeyGrantSpec {
  scope: string;
  window_minutes?: number | null;
  constraint?: string | null;
}

export interface PasskeyCommitmentInput {
  request_id: string;
  tool: string;
  /** The hash the token binds: the edited arguments' hash when the vote edits them, else the request's. */
  tool_args_hash: string;
  /** The request's policy version; null or "" when it has none. */
  policy_version_id: string | null;
  /** The grant the approving vote creates, if any. */
  grant?: PasskeyGrantSpec | null;
}

/** The object that is hashed: the fields above, with absent values written as "" or null so every verifier builds the same text. */
export function passkeyCommitmentObject(input: PasskeyCommitmentInput): Record<string, unknown> {
  const object: Record<string, unknown> = {
    request_id: input.request_id,
    tool: input.tool,
    tool_args_hash: input.tool_args_hash,
    policy_version_id: input.policy_version_id ?? "",
    vote: "approve",
  };
  if (input.grant) {
    object.grant = { scope: input.grant.scope, window_minutes: input.grant.window_minutes ?? null, constraint: input.grant.constraint ?? null };
  }
  return object;
}

/** The 32-byte challenge. */
export function passkeyCommitment(input: PasskeyCommitmentInput): Uint8Array {
  return sha256(utf8(jcs(passkeyCommitmentObject(input))));
}

/** The challenge as lowercase hex (how ledger chunks record it). */
export function passkeyCommitmentHex(input: PasskeyCommitmentInput): string {
  return toHex(passkeyCommitment(input));
}

/** The challenge as base64url without padding (how clientDataJSON and WebAuthn options carry it). */
export function passkeyCommitmentBase64Url(input: PasskeyCommitmentInput): string {
  return toBase64Url(passkeyCommitment(input));
}

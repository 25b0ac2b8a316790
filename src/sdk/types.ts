import { VaultUnavailableError } from "./errors.js";

/**
 * The SDK's view of the vault's answers, in camelCase. Wire names are snake_case; the mapping is done
 * here, on the SDK's own fields only: tool arguments and context are never rewritten.
 */

/**
 * The vault's request statuses. `processing`: the conditions or the judge have not decided yet.
 * `pending_review`: decided to need a human, waiting for reviewers. Both are open; `approved` and
 * `denied` are final. A cancel, an expired review and a reviewer's deny all end as `denied`, told
 * apart by `reasonCode` (`cancelled_by_agent`, `review_expired`, `review_denied`).
 */
export type ClearanceStatus = "processing" | "pending_review" | "approved" | "denied";
export const OPEN_STATUSES: readonly ClearanceStatus[] = ["processing", "pending_review"];
const KNOWN_STATUSES: readonly ClearanceStatus[] = [...OPEN_STATUSES, "approved", "denied"];

export interface Clearance {
  requestId: string;
  status: ClearanceStatus;
  /** `approved_pending_review` is the judge's "approve, but a human must confirm" before a final status. */
  decisionStatus: string;
  /** The A-JWT, on approval, for the key that asked (never for a reviewer's read). */
  token?: string;
  tokenExpiresAt?: string;
  reason: string;
  /** Why it ended so: e.g. `cancelled_by_agent`, `review_expired`, `review_denied`, `review_approved`. */
  reasonCode: string | null;
  requiresManualReview: boolean;
  toolName?: string;
  toolArgsHash?: string;
  policyId: string | null;
  policyVersionId: string | null;
  createdAt?: string;
  decidedAt: string | null;
  /** HTTP status of the answer (200 decided or pending review, 202 processing). */
  httpStatus: number;
  /** The answer as the vault sent it, for fields the SDK does not map. */
  raw: Record<string, unknown>;
}

export interface ClearanceInput {
  tool: string;
  /** Sent exactly as given: keys are never rewritten. */
  args?: Record<string, unknown>;
  agentId: string;
  sessionId?: string;
  context?: Record<string, unknown>;
  /** Makes a retried call safe: the vault answers the original request. A random one is used if absent. */
  idempotencyKey?: string;
  humanPrincipal?: string;
  parentJti?: string;
}

export interface WaitOptions {
  /** Seconds (0-60) the vault may hold an open answer until its status changes (long poll). */
  waitSeconds?: number;
  signal?: AbortSignal;
}

export interface DecisionWaitOptions {
  /** Total time to wait for a final status; a DecisionTimeoutError after it. */
  timeoutSeconds: number;
  signal?: AbortSignal;
  /** Called with each answer that is still open (e.g. processing, then pending_review). */
  onProgress?: (clearance: Clearance) => void;
}

export type CancelOutcome = "cancelled" | "already_decided" | "not_found";
export interface CancelResult {
  outcome: CancelOutcome;
  /** The request as it stands after the attempt (absent for not_found). */
  clearance?: Clearance;
}

export interface ConsumeResult {
  consumed: true;
  jti: string;
  requestId: string;
  tool: string;
  toolArgsHash: string;
  agentId: string;
  tenantId: string;
  consumedAt: string;
}

/** How an executed action ended (the vault's EXECUTION_OUTCOMES). */
export type ExecutionOutcome = "succeeded" | "failed" | "error" | "unknown";

export interface ExecutionInput {
  /** The upstream HTTP status, or null when there was none (the tool is not HTTP, or it failed before answering). */
  status: number | null;
  /** Default at the vault: 2xx/3xx succeeded, another status failed, null error. */
  outcome?: ExecutionOutcome;
  durationMs: number;
  /** Lowercase hex SHA-256 of the response body. */
  responseSha256?: string;
  detail?: string;
}

export interface ExecutionReport {
  jti: string;
  replayed: boolean;
  /** The stored report as the vault sent it. */
  raw: Record<string, unknown>;
}

export interface TokenClaims {
  iss: string;
  aud: string | string[];
  sub: string;
  iat: number;
  exp: number;
  jti: string;
  tool: string;
  tool_args_hash: string;
  agent_id: string;
  session_id: string;
  policy_id: string;
  decision: string;
  request_id: string;
  tenant_id: string;
  parent_jti?: string;
  /**
   * Passkey-signed approvals (docs/passkeys.md): each WebAuthn credential that signed the approval, and
   * the hex SHA-256 of its recorded assertion; match them with verifyBundleWith's `report.approvals`.
   */
  approvals?: { credential_id: string; assertion_digest: string }[];
  /** The kid of the key that signed it. */
  kid: string;
}

export interface VerifyTokenOptions {
  /** The tool the caller is about to run; must equal the token's `tool`. */
  tool?: string;
  /** The arguments the caller is about to use; their argsHash must equal the token's `tool_args_hash`. */
  args?: unknown;
  argsHash?: string;
  tenantId?: string;
  /** Allowed clock difference for exp/iat (default 30). */
  clockSkewSeconds?: number;
}

/** The wire answer in the SDK's shape; an answer without a request id or a status is not one (fail closed). */
export function mapClearance(body: Record<string, unknown>, httpStatus: number): Clearance {
  const str = (k: string) => (typeof body[k] === "string" ? (body[k] as string) : undefined);
  if (!str("request_id") || !str("status")) {
    throw new VaultUnavailableError("invalid_response", "The vault's clearance answer has no request_id or status", { status: httpStatus });
  }
  // A status the SDK does not know is neither open nor final: refuse it rather than guess (fail closed).
  if (!KNOWN_STATUSES.includes(body.status as ClearanceStatus)) {
    throw new VaultUnavailableError("invalid_response", `The vault's clearance answer has an unknown status ${JSON.stringify(body.status)}`, { status: httpStatus });
  }
  const clearance: Clearance = {
    requestId: str("request_id") ?? "",
    status: body.status as ClearanceStatus,
    decisionStatus: str("decision_status") ?? "denied",
    reason: str("reason") ?? "",
    reasonCode: str("reason_code") ?? null,
    requiresManualReview: body.requires_manual_review === true,
    policyId: str("policy_id") ?? null,
    policyVersionId: str("decided_under_policy_version_id") ?? str("policy_version_id") ?? null,
    decidedAt: str("decided_at") ?? null,
    httpStatus,
    raw: body,
  };
  const optional = { token: "token", tokenExpiresAt: "token_expires_at", toolName: "tool_name", toolArgsHash: "tool_args_hash", createdAt: "created_at" } as const;
  for (const [field, wire] of Object.entries(optional)) {
    const value = str(wire);
    if (value) clearance[field as keyof typeof optional] = value;
  }
  return clearance;
}

/**
 * The SDK's typed errors. Every failure the SDK reports is a CountersignError with a stable `code`:
 * the vault's problem+json `code` when the vault answered with one, or one of the SDK's own codes
 * (`vault_unavailable`, `clearance_denied`, the token verification codes, ...). Callers branch on the
 * class or on `code`, never on the message.
 */
export interface ErrorDetails {
  /** HTTP status of the vault's answer, when there was one. */
  status?: number;
  requestId?: string;
  /** The problem+json body (or the parsed JSON body) the vault sent, when there was one. */
  problem?: Record<string, unknown>;
  cause?: unknown;
}

export class CountersignError extends Error {
  readonly code: string;
  readonly status?: number;
  readonly requestId?: string;
  readonly problem?: Record<string, unknown>;

  constructor(code: string, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.code = code;
    if (details.status !== undefined) this.status = details.status;
    if (details.requestId !== undefined) this.requestId = details.requestId;
    if (details.problem !== undefined) this.problem = details.problem;
  }
}

/**
 * The vault could not be asked or could not answer: network error, timeout, a 5xx (including 503
 * `signer_unavailable` / `not_ready`), or a 2xx that is not the JSON it should be. Fail closed: an
 * agent that gets this must not run the tool.
 */
export class VaultUnavailableError extends CountersignError {}

/** The vault answered 4xx with a problem+json (validation_failed, bad_request, args_too_large, ...). */
export class BadRequestError extends CountersignError {}

/** 401/403 from the vault: the API key is missing, unknown, or lacks the scope. */
export class AuthenticationError extends CountersignError {}

/** 404 from the vault (request_not_found, token_not_found, ...). */
export class NotFoundError extends CountersignError {}

/** 429 from the vault: rate limited or the clearance queue is near capacity. */
export class RateLimitedError extends CountersignError {
  constructor(
    code: string,
    message: string,
    details: ErrorDetails & { retryAfterSeconds?: number } = {},
  ) {
    super(code, message, details);
    this.retryAfterSeconds = details.retryAfterSeconds;
  }
  readonly retryAfterSeconds: number | undefined;
}

/** 409 from the vault that has no more specific class (request_not_pending, execution_already_reported, ...). */
export class ConflictError extends CountersignError {}

/** The clearance was denied (by a condition, the judge, a reviewer, an expiry, or a cancel). */
export class ClearanceDeniedError extends CountersignError {
  readonly reason: string;
  readonly reasonCode: string | null;
  constructor(requestId: string, reason: string, reasonCode: string | null) {
    super("clearance_denied", `Clearance ${requestId} denied: ${reason}`, { requestId });
    this.reason = reason;
    this.reasonCode = reasonCode;
  }
}

/** No final decision within the time the caller allowed (the request stays open at the vault). */
export class DecisionTimeoutError extends CountersignError {
  readonly lastStatus: string;
  constructor(requestId: string, lastStatus: string) {
    super("decision_timeout", `Clearance ${requestId} is still ${lastStatus}`, { requestId });
    this.lastStatus = lastStatus;
  }
}

export type TokenVerificationCode =
  | "malformed"
  | "invalid_signature"
  | "expired"
  | "not_yet_valid"
  | "unknown_kid"
  | "invalid_claims"
  | "binding_mismatch"
  | "tenant_mismatch"
  | "jwks_unavailable";

/**
 * A token refused, offline by verifyToken or by the vault on consume (401 token_invalid /
 * token_expired, 403 token_binding_mismatch / tenant_mismatch are mapped to the same codes).
 */
export class TokenVerificationError extends CountersignError {
  declare readonly code: TokenVerificationCode;
  constructor(code: TokenVerificationCode, message: string, details: ErrorDetails = {}) {
    super(code, message, details);
  }
}

/** 409 token_already_consumed: the token was burned before; the action must not run again. */
export class TokenAlreadyConsumedError extends CountersignError {}

/**
 * 409 approval_not_reusable on /mint-token: the remembered approval no longer holds (policy changed,
 * human approval, ...). Ask for a fresh clearance; never retry the mint.
 */
export class ApprovalNotReusableError extends CountersignError {}

/** verifyWebhook refused a delivery. */
export type WebhookVerificationCode = "missing_signature" | "malformed_signature" | "invalid_signature" | "stale_timestamp" | "replayed";
export class WebhookVerificationError extends CountersignError {
  declare readonly code: WebhookVerificationCode;
  constructor(code: WebhookVerificationCode, message: string) {
    super(code, message);
  }
}

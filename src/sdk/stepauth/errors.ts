import { CountersignError } from "../errors.js";

/**
 * Every StepAuth failure the SDK reports. `code` is the hub's `error` member when it answered with
 * one (the codes of the reference's table: `malformed_request`, `unknown_sender`, ...), else one of
 * the SDK's own: `transport_error` (network, timeout), `internal_error` (an answer that is not the
 * JSON it should be, as the official SDKs call it), `redirect`, `invalid_response`,
 * `invalid_decision` (a decision that failed verification: do not act on it), `decision_timeout`,
 * `request_bytes_unknown`, `invalid_options`, `invalid_input`.
 * `retryable` is true exactly for transport errors and 5xx answers: every 4xx is final, 429 included.
 */
export class StepAuthError extends CountersignError {
  readonly retryable: boolean;
  /**
   * On a failed submit after the envelope was sent at least once: the exact request bytes. The
   * request may have reached the hub, so keep them to verify a decision that may still come.
   */
  readonly requestBytes?: Uint8Array;

  constructor(code: string, message: string, details: { status?: number; requestId?: string; retryable?: boolean; requestBytes?: Uint8Array; cause?: unknown } = {}) {
    super(code, message, { status: details.status, requestId: details.requestId, cause: details.cause });
    this.retryable = details.retryable ?? (details.status !== undefined && details.status >= 500);
    if (details.requestBytes) this.requestBytes = details.requestBytes;
  }
}

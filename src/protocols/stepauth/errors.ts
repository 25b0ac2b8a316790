/**
 * StepAuth's error codes and their HTTP statuses (reference §4). The body of an error answer is
 * `{"error": code, "message": text}`; the SDKs read those two members.
 */
export type StepAuthErrorCode =
  | "malformed_request"
  | "invalid_callback_url"
  | "operator_depth_exceeded"
  | "timestamp_out_of_range"
  | "unknown_category"
  | "unknown_approver"
  | "approver_set_too_large"
  | "duplicate_request"
  | "invalid_signature"
  | "unknown_sender"
  | "wrong_recipient"
  | "request_not_found";

export const STEPAUTH_ERROR_STATUS: Record<StepAuthErrorCode, number> = {
  malformed_request: 400,
  invalid_callback_url: 400,
  operator_depth_exceeded: 400,
  timestamp_out_of_range: 400,
  unknown_category: 400,
  unknown_approver: 400,
  approver_set_too_large: 400,
  duplicate_request: 409,
  invalid_signature: 401,
  unknown_sender: 401,
  wrong_recipient: 403,
  request_not_found: 404,
};

export function isStepAuthErrorCode(value: unknown): value is StepAuthErrorCode {
  return typeof value === "string" && Object.hasOwn(STEPAUTH_ERROR_STATUS, value);
}

/** The HTTP status of a code; an unknown code is 400, as the SDKs default it. */
export function stepAuthErrorStatus(code: string): number {
  return isStepAuthErrorCode(code) ? STEPAUTH_ERROR_STATUS[code] : 400;
}

/** The outcome of a validator: the value, or the code and a message for the error answer. */
export type StepAuthCheck<T> = { ok: true; value: T } | { ok: false; code: StepAuthErrorCode; message: string };

export const fail = (code: StepAuthErrorCode, message: string): { ok: false; code: StepAuthErrorCode; message: string } => ({ ok: false, code, message });

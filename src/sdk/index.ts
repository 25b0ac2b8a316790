/**
 * countersign/sdk: the first-party TypeScript SDK. fetch and WebCrypto only (Node 20+, edge runtimes);
 * test/architecture/layers.test.ts keeps every module it reaches free of node: imports.
 */
export { Countersign, type CountersignOptions } from "./client.js";
export type { GuardOptions } from "./guard.js";
export { argsHash, canonicalJson } from "./canonical-json.js";
export { verifyBundleWith, type BundleCheck, type BundleKeys, type BundleReport, type VerifyBundleOptions } from "./bundle.js";
export { verifyWebhook, WebhookReplayGuard, type WebhookInput, type WebhookVerification } from "./webhook.js";
export {
  ApprovalNotReusableError,
  AuthenticationError,
  BadRequestError,
  ClearanceDeniedError,
  ConflictError,
  CountersignError,
  DecisionTimeoutError,
  NotFoundError,
  RateLimitedError,
  TokenAlreadyConsumedError,
  TokenVerificationError,
  VaultUnavailableError,
  WebhookVerificationError,
  type TokenVerificationCode,
  type WebhookVerificationCode,
} from "./errors.js";
export type {
  CancelOutcome,
  CancelResult,
  Clearance,
  ClearanceInput,
  ClearanceStatus,
  ConsumeResult,
  DecisionWaitOptions,
  ExecutionInput,
  ExecutionOutcome,
  ExecutionReport,
  TokenClaims,
  VerifyTokenOptions,
  WaitOptions,
} from "./types.js";

/**
 * countersign/sdk: the first-party TypeScript SDK. fetch and WebCrypto only (Node 20+, edge runtimes);
 * test/architecture/layers.test.ts keeps every module it reaches free of node: imports.
 */
export { Countersign, type CountersignOptions } from "./client.js";
export type { GuardOptions } from "./guard.js";
export { argsHash, canonicalJson } from "./canonical-json.js";
export { verifyBundleWith, type BundleCheck, type BundleKeys, type BundleReport, type PasskeyApprovalReport, type VerifyBundleOptions, type WitnessReportEntry } from "./bundle.js";
export { verifyWebhook, WebhookReplayGuard, type WebhookInput, type WebhookVerification } from "./webhook.js";
export { AgentSigner, createAgentIdentity, type AgentIdentity, type AgentSignerOptions } from "./agent-signer.js";
export type { AgentCertificate } from "../protocols/http-signatures/agent-certificate.js";
export { headerReader } from "../protocols/http-signatures/signature-base.js";
export { verifySigilumRequest, type SignedRequest, type SigilumErrorCode, type SigilumVerification } from "../protocols/http-signatures/sigilum-verify.js";
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

// StepAuth, acting as an SP (docs/sdk.md#stepauth-acting-as-an-sp): the client, the callback
// handler, routing, and the pure wire code it is built on (shared with the vault's hub).
export { StepAuthClient, type DirectoryPage, type PollOptions, type PollResult, type StepAuthClientOptions, type SubmitResult } from "./stepauth/client.js";
export { stepAuthCallbackHandler, type CallbackAnswer, type CallbackHandlerOptions, type ExecutionResult } from "./stepauth/callback.js";
export { evaluateRouting, type RoutingAuthorizer, type RoutingRequest, type RoutingResult } from "./stepauth/routing.js";
export { firstValidDecision, type DecisionCandidate } from "./stepauth/first-valid.js";
export { StepAuthError } from "./stepauth/errors.js";
export type { HubIdentity, SubmitInput } from "./stepauth/wire.js";
export {
  generateHybridKeyset,
  parsePrivateKeyset,
  parsePublicKeyset,
  publicKeysetOf,
  serializePrivateKeyset,
  type KeyAlg,
  type PrivateKeyset,
  type PublicKeyset,
} from "../protocols/stepauth/keyset.js";
export { encodeEnvelope, parseEnvelope, signEnvelope, verifyEnvelope, type Envelope, type ParsedEnvelope } from "../protocols/stepauth/envelope.js";
export { encodeDecision, requestDigest, verifyDecisionEnvelope, type Decision } from "../protocols/stepauth/decision.js";
export { validateAuthorizationRequest, type Action, type AuthorizationRequest, type LabeledEntry, type Principal, type Target } from "../protocols/stepauth/authorization-request.js";
export { flattenEntries, flattenPrincipal } from "../protocols/stepauth/flatten.js";
export { STEPAUTH_CATEGORIES, type StepAuthCategory } from "../protocols/stepauth/categories.js";

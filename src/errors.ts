/**
 * Closed set of machine-readable error codes. Every error a client can see carries one of these,
 * rendered as RFC 9457 problem+json by the single HTTP error handler.
 */
export const errorCatalog = {
  bad_request: { status: 400, title: "Bad request" },
  invalid_json: { status: 400, title: "Malformed JSON body" },
  json_too_deep: { status: 400, title: "JSON nesting too deep" },
  duplicate_json_key: { status: 400, title: "JSON object repeats a member name" },
  validation_failed: { status: 400, title: "Request validation failed" },
  invalid_condition: { status: 400, title: "Policy condition does not compile" },
  webhook_target_forbidden: { status: 400, title: "Webhook target URL is not allowed" },
  smtp_not_configured: { status: 400, title: "Email notifications need SMTP settings on the vault" },
  unauthorized: { status: 401, title: "Missing or unknown API key" },
  token_invalid: { status: 401, title: "Token signature or claims are invalid" },
  token_expired: { status: 401, title: "Token has expired" },
  insufficient_scope: { status: 403, title: "API key scope does not allow this" },
  tenant_mismatch: { status: 403, title: "Token belongs to another tenant" },
  token_binding_mismatch: { status: 403, title: "Tool or arguments do not match the token" },
  self_approval_forbidden: { status: 403, title: "The key that submitted a request cannot approve it" },
  principal_approval_forbidden: { status: 403, title: "The human principal of a request cannot approve it" },
  reviewer_not_eligible: { status: 403, title: "This reviewer may not review this request" },
  csrf_header_missing: { status: 403, title: "Console requests that change state need the X-Countersign-Console header" },
  // The MCP gateway's /mcp (issue 15): a browser page's Origin that is not in http.allowed_origins.
  origin_not_allowed: { status: 403, title: "Requests from this Origin are not allowed" },
  // The MCP gateway's /mcp: a Host header that is not one it serves (DNS rebinding), see http.allowed_hosts.
  host_not_allowed: { status: 403, title: "Requests for this Host are not allowed" },
  already_voted: { status: 409, title: "This reviewer has already voted on this request" },
  reviewer_exists: { status: 409, title: "A reviewer with this email already exists" },
  reviewer_not_found: { status: 404, title: "No active reviewer with this id in this tenant" },
  // API keys managed over HTTP (src/http/routes/keys.ts).
  api_key_not_found: { status: 404, title: "No active API key with this id in this tenant" },
  policy_retired: { status: 409, title: "The policy is retired" },
  last_admin_key: { status: 409, title: "Revoking this key would leave the tenant without an admin key" },
  not_found: { status: 404, title: "Not found" },
  request_timeout: { status: 408, title: "Request timed out" },
  request_not_found: { status: 404, title: "Clearance request not found" },
  policy_not_found: { status: 404, title: "Policy not found" },
  webhook_not_found: { status: 404, title: "Webhook endpoint not found" },
  outbox_entry_not_found: { status: 404, title: "Outbox entry not found" },
  document_not_found: { status: 404, title: "Policy document not found" },
  // Policy management (issue 14): GET /policies/{id}/versions/{version} and /diff name a version that does not exist.
  policy_version_not_found: { status: 404, title: "Policy version not found" },
  token_not_found: { status: 404, title: "Token was never issued by this tenant" },
  // Per-tenant token keys (/tenants/{tenant_id}/keys/...): another tenant's id looks like an unknown one.
  tenant_not_found: { status: 404, title: "No such tenant for this API key" },
  tenant_key_rotation_unsupported: { status: 409, title: "Tenant token keys cannot be rotated with this signer backend" },
  // Rotations are limited so one tenant cannot bloat the shared JWKS; a rotation that lost a database race twice answers 503.
  rotation_too_frequent: { status: 429, title: "The tenant's token key was rotated too recently" },
  tenant_key_rotation_busy: { status: 503, title: "The tenant's token key could not be rotated now; retry" },
  ledger_event_not_found: { status: 404, title: "No ledger event for this request" },
  checkpoint_not_found: { status: 404, title: "Ledger checkpoint not found" },
  ledger_empty: { status: 404, title: "The ledger has no checkpoint yet" },
  token_already_consumed: { status: 409, title: "Token already consumed" },
  // Execution reports (POST /tokens/{jti}/execution, issue 15).
  token_not_consumed: { status: 409, title: "Token has not been consumed" },
  execution_already_reported: { status: 409, title: "A different execution report exists for this token" },
  not_token_consumer: { status: 403, title: "Only the API key that consumed this token (or an admin key) may report its execution" },
  execution_report_not_overdue: { status: 409, title: "The token's consumer may still report its execution: it is not yet overdue" },
  request_not_pending: { status: 409, title: "Request is not awaiting a decision" },
  approval_not_reusable: { status: 409, title: "Remembered approval no longer holds" },
  payload_too_large: { status: 413, title: "Request body too large" },
  args_too_large: { status: 413, title: "tool_args and context exceed the size budget" },
  unsupported_media_type: { status: 415, title: "Unsupported media type" },
  idempotency_key_reused: { status: 422, title: "Idempotency-Key reused with a different body" },
  headers_too_large: { status: 431, title: "Request headers too large" },
  rate_limited: { status: 429, title: "Rate limit exceeded" },
  queue_saturated: { status: 429, title: "Clearance queue near capacity" },
  internal_error: { status: 500, title: "Internal error" },
  not_ready: { status: 503, title: "Service not ready" },
  ledger_key_unavailable: { status: 503, title: "Ledger entry cannot be decrypted" },
  ledger_event_pending: { status: 503, title: "Ledger event not yet in a signed checkpoint" },
  embedding_unavailable: { status: 503, title: "Embedding model unavailable" },
  tenant_secrets_unavailable: { status: 503, title: "This tenant's secrets cannot be read right now" },
  signer_unavailable: { status: 503, title: "The signing key service is unavailable" },
  // Schema versioning (issue 14): a tenant's database holds migrations of a newer Countersign (src/db/migrate.ts).
  schema_too_new: { status: 503, title: "This data was written by a newer Countersign" },
  // StepAuth hub (issue 16, src/stepauth/): the protocol's own codes and statuses (docs/stepauth.md).
  malformed_request: { status: 400, title: "The StepAuth message is malformed" },
  invalid_callback_url: { status: 400, title: "The callback URL is not allowed for this sender" },
  operator_depth_exceeded: { status: 400, title: "The principal's operator chain is deeper than 5" },
  timestamp_out_of_range: { status: 400, title: "The timestamp is more than 5 minutes from the hub's clock" },
  unknown_category: { status: 400, title: "The action category is not in the StepAuth registry" },
  unknown_approver: { status: 400, title: "The approver is not a reviewer, review group or policy of this hub" },
  approver_set_too_large: { status: 400, title: "The approver would make the review rules too large" },
  invalid_signature: { status: 401, title: "The envelope's signatures do not verify" },
  unknown_sender: { status: 401, title: "The sender is not registered with this hub" },
  wrong_recipient: { status: 403, title: "The message is addressed to another hub or URI" },
  duplicate_request: { status: 409, title: "This sender already submitted a request with this requestId" },
  already_decided: { status: 409, title: "The request is already decided" },
  stepauth_sender_not_found: { status: 404, title: "No StepAuth sender with this id" },
  stepauth_sender_exists: { status: 409, title: "A StepAuth sender with this entity already exists" },
  // Load shedding on the StepAuth routes: 503 with Retry-After, since the StepAuth SDKs retry 5xx but not 429.
  overloaded: { status: 503, title: "The hub is shedding load; retry after Retry-After" },
  // Agent identity (issue 16, src/agents/): Sigilum's own codes, uppercase as its API sends them
  // (docs/agent-identity.md). Their problems also carry `error` (the message), as Sigilum's bodies do.
  SIGNATURE_MISSING: { status: 401, title: "A signed-request header is missing" },
  SIGNATURE_INVALID: { status: 401, title: "The request signature or agent certificate is invalid" },
  SIGNATURE_EXPIRED: { status: 401, title: "The signature is too old or from the future" },
  SIGNATURE_COMPONENTS_INVALID: { status: 401, title: "The signed components are not the Sigilum set" },
  SIGNATURE_DIGEST_MISMATCH: { status: 401, title: "The content digest does not match the body" },
  SIGNATURE_NAMESPACE_MISMATCH: { status: 403, title: "The signer's namespace does not match this request" },
  SIGNATURE_KEY_MISMATCH: { status: 403, title: "The signer's key does not match this request" },
  SIGNATURE_NONCE_REPLAY: { status: 409, title: "This signature nonce was already used" },
  NONCE_REPLAY: { status: 409, title: "This claim nonce was already used" },
  NONCE_STORE_UNAVAILABLE: { status: 503, title: "The nonce store is unavailable" },
  VALIDATION_ERROR: { status: 400, title: "Request validation failed" },
  UNAUTHORIZED: { status: 401, title: "A service API key is required" },
  FORBIDDEN: { status: 403, title: "This key may not act for that service" },
  NOT_FOUND: { status: 404, title: "No such claim or namespace" },
  AGENT_NAMESPACE_UNKNOWN: { status: 401, title: "The signer's namespace is not registered with this vault" },
  AGENT_CLAIM_REQUIRED: { status: 403, title: "The signing key holds no approved claim in its namespace" },
  AGENT_ID_MISMATCH: { status: 403, title: "agent_id differs from the signer's verified agent id" },
  CLAIM_NOT_PENDING: { status: 409, title: "The claim is no longer pending" },
  CLAIM_NOT_APPROVED: { status: 409, title: "Only an approved claim can be revoked" },
  SERVICE_LIMIT_REACHED: { status: 403, title: "The namespace is connected to the most services it may be" },
  AGENT_LIMIT_REACHED: { status: 409, title: "The service has the most approved agents of this namespace it may have" },
  // Agent identity administration (admin API).
  agent_namespace_taken: { status: 409, title: "This agent namespace is already registered" },
  protected_service_exists: { status: 409, title: "A protected service with this slug already exists" },
  protected_service_not_found: { status: 404, title: "No protected service with this slug" },
  // Passkey-signed approvals (issue 17, src/passkeys/, docs/passkeys.md).
  passkey_required: { status: 403, title: "Approving this request needs a passkey signature (WebAuthn assertion)" },
  passkey_invalid: { status: 403, title: "The passkey signature does not verify for this approval" },
  passkey_not_enrolled: { status: 403, title: "This reviewer has no passkey enrolled" },
  passkey_not_found: { status: 404, title: "No passkey with this id for this reviewer" },
  passkey_registration_invalid: { status: 400, title: "The passkey registration does not verify" },
  passkey_exists: { status: 409, title: "This passkey is already enrolled" },
  passkey_step_up_required: { status: 403, title: "Enrolling another passkey needs an assertion by one of the reviewer's passkeys" },
  passkey_last_removal_forbidden: { status: 403, title: "A reviewer's last passkey is removed by an admin only" },
  // Scoped grants and edit-on-approve (issue 17, src/grants/, docs/grants.md).
  invalid_constraint: { status: 400, title: "The grant's constraint is not a valid CEL expression over args" },
  constraint_excludes_request: { status: 400, title: "The grant's constraint is false on the arguments being approved" },
  grant_not_allowed: { status: 400, title: "This vote cannot carry a grant or edited arguments" },
  edited_args_denied: { status: 400, title: "The policy denies the edited arguments, or cannot judge them" },
  vote_mismatch: { status: 409, title: "Every approving vote must carry the same grant and edited arguments as the first" },
  grant_not_found: { status: 404, title: "No grant with this id in this tenant" },
  grant_already_revoked: { status: 409, title: "The grant was already revoked" },
  // Shadow mode and replay (issue 17, docs/shadow-mode.md).
  replay_in_progress: { status: 409, title: "A replay of this tenant is already running" },
  replay_capacity: { status: 429, title: "Too many replays are running on this vault; retry after Retry-After" },
  replay_llm_unavailable: { status: 409, title: "Replay with the LLM step needs the LLM judge in this vault process" },
} as const;

export type ErrorCode = keyof typeof errorCatalog;

/** The Sigilum codes (uppercase): their problem bodies also carry `error`, the message, as Sigilum's do. */
export const isSigilumCode = (code: string): boolean => /^[A-Z][A-Z_]*$/.test(code);

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    detail?: string,
    /** `pointer`: RFC 6901 JSON pointer of the offending member (duplicate_json_key), rendered as a problem member. */
    readonly extra: { retryAfterSeconds?: number; errors?: unknown; pointer?: string } = {},
  ) {
    super(detail ?? errorCatalog[code].title);
    this.status = errorCatalog[code].status;
  }
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

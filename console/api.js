// The vault's HTTP API as the console uses it: the session cookie authenticates (HttpOnly, so this
// page never holds a credential after sign-in), and every state-changing request carries the
// X-Countersign-Console header the vault requires of cookie sessions as its CSRF defence.

/** An RFC 9457 problem (or a network failure) turned into something the page can show. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code || null;
    this.title = problem.title || (status ? `HTTP ${status}` : "Network error");
    this.detail = problem.detail || "";
  }

  /** "Title: detail (code)", the one line shown to reviewers. */
  describe() {
    const parts = [this.title];
    if (this.detail && this.detail !== this.title) parts.push(`: ${this.detail}`);
    if (this.code) parts.push(` (${this.code})`);
    return parts.join("");
  }
}

/** Milliseconds to add to the browser's clock to get the vault's, from the Date header of the last answer. */
let clockOffsetMs = 0;
export const serverNow = () => Date.now() + clockOffsetMs;

/** Called when any request comes back 401, so the app can return to the sign-in form. */
let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

export async function api(method, path, body) {
  const headers = { accept: "application/json, application/problem+json" };
  if (method !== "GET") headers["x-countersign-console"] = "1";
  // No Content-Type without a body: the vault refuses an empty JSON body.
  if (body !== undefined) headers["content-type"] = "application/json";
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (err) {
    throw new ApiError(0, { title: "Network error", detail: "The vault did not answer. Check your connection and try again." });
  }
  const date = Date.parse(res.headers.get("date") ?? "");
  if (Number.isFinite(date)) clockOffsetMs = date - Date.now();
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const problem = data && typeof data === "object" ? data : { title: `HTTP ${res.status}`, detail: text.slice(0, 200) };
    const error = new ApiError(res.status, problem);
    if (res.status === 401 && path !== "/console/session") onUnauthorized(error);
    throw error;
  }
  return data;
}

export const getSession = () => api("GET", "/console/session");
export const signIn = (apiKey) => api("POST", "/console/session", { api_key: apiKey });
export const signOut = () => api("DELETE", "/console/session");

/** `decidedBy`: "review" (the vault's default), "automatic" or "any"; left out, the vault's default applies. */
export function listReviews(status, cursor, limit = 50, decidedBy) {
  const q = new URLSearchParams({ status, limit: String(limit) });
  if (decidedBy) q.set("decided_by", decidedBy);
  if (cursor) q.set("cursor", cursor);
  return api("GET", `/reviews?${q}`);
}

export const getReview = (id) => api("GET", `/reviews/${encodeURIComponent(id)}`);

/** `extra`: further vote fields (a `passkey` assertion; a grant, edited arguments), merged into the body as given. */
export const decide = (id, approved, reviewReason, extra = {}) =>
  api("POST", `/reviews/${encodeURIComponent(id)}/decision`, { approved, ...(reviewReason ? { review_reason: reviewReason } : {}), ...extra });

/** The reviewer's own passkeys (the vault keeps only their public keys). */
export const listPasskeys = () => api("GET", "/passkeys");
/** WebAuthn creation options; the vault keeps the challenge, single use, for a few minutes. */
export const passkeyRegistrationOptions = () => api("POST", "/passkeys/registration-options", {});
/** `assertion`: the step-up (one of the reviewer's passkeys approving this enrolment), required when they already have one. */
export const registerPasskey = (response, label, assertion) =>
  api("POST", "/passkeys/register", { response, ...(label ? { label } : {}), ...(assertion ? { assertion } : {}) });
export const removePasskey = (id) => api("DELETE", `/passkeys/${encodeURIComponent(id)}`);
/**
 * WebAuthn request options whose challenge commits to this request and to the vote's fields (the
 * same `grant` and `edited_tool_args` the vote will carry): only the approval of exactly this can be signed.
 */
export const passkeyVoteOptions = (id, fields) => api("POST", `/reviews/${encodeURIComponent(id)}/passkey-options`, fields);

export const proofBundle = (id) => api("GET", `/ledger/proof/bundle?${new URLSearchParams({ request_id: id })}`);
/** The vault's witnesses and who cosigned its newest checkpoints (GET /ledger/witnesses). */
export const ledgerWitnesses = () => api("GET", "/ledger/witnesses");

/** Admin only: notifications and webhook deliveries that ran out of attempts (never dropped silently). */
export const listDeadDeliveries = () => api("GET", "/outbox?status=dead&limit=100");
export const retryDelivery = (deliveryId) => api("POST", `/outbox/${encodeURIComponent(deliveryId)}/retry`);

/** Reviewers and admins: tokens burned longer ago than the vault's timeout and never reported, newest first. */
export function listUnreported(cursor) {
  const q = new URLSearchParams({ limit: "50" });
  if (cursor) q.set("cursor", cursor);
  return api("GET", `/tokens/unreported?${q}`);
}
/** Closes a lost consume as outcome "unknown" with the reviewer's note (a token.executed ledger event). */
export const closeUnreported = (jti, note) => api("POST", `/tokens/${encodeURIComponent(jti)}/execution/close`, { note });

/** Reviewers and admins: the tenant's current policies, each with its default decision and warnings. */
export function listPolicies({ cursor, includeRetired = false } = {}) {
  const q = new URLSearchParams({ limit: "100" });
  if (includeRetired) q.set("include_retired", "true");
  if (cursor) q.set("cursor", cursor);
  return api("GET", `/policies?${q}`);
}

/** One policy's current version in full: conditions, rules, tools, documents, content hash. */
export const getPolicy = (policyId) => api("GET", `/policies/${encodeURIComponent(policyId)}`);
export const listPolicyVersions = (policyId) => api("GET", `/policies/${encodeURIComponent(policyId)}/versions`);
/** The changes a version made: a unified diff against the version before it. */
export const policyDiff = (policyId, toVersion) => api("GET", `/policies/${encodeURIComponent(policyId)}/diff?${new URLSearchParams({ to: String(toVersion) })}`);

/** The tenant's mode, its shadow default, and every policy whose mode was set (shadow mode, docs/shadow-mode.md). */
export const getPolicyModes = () => api("GET", "/policy-mode");
/** Admin only: switches a policy to shadow (log-only) or back to enforce; a ledger event, webhook and notification. */
export const setPolicyMode = (policyId, mode) => api("PUT", `/policies/${encodeURIComponent(policyId)}/mode`, { mode });
/** Admin only: replays a candidate version over the recorded requests; `body` is {candidate, since, limit, with_llm}. */
export const replayPolicy = (policyId, body) => api("POST", `/policies/${encodeURIComponent(policyId)}/replay`, body);

/** Admin only: the StepAuth service providers (SPs) registered with this tenant, and the tenant's hub (design §E). */
export const listSenders = () => api("GET", "/stepauth/senders");
export const addSender = (entity, keysets, callbackPattern) => api("POST", "/stepauth/senders", { entity, keysets, callback_pattern: callbackPattern });
export const removeSender = (id) => api("DELETE", `/stepauth/senders/${encodeURIComponent(id)}`);
export const getStepAuthHub = () => api("GET", "/stepauth/hub");

/** Reviewers and admins: agents' claims to use a protected service; approve or reject through the claim's review. */
export function listAgentClaims(status) {
  // "all" is no status filter; the vault answers the newest 500 (it does not page this listing).
  const q = new URLSearchParams({ limit: "500" });
  if (status && status !== "all") q.set("status", status);
  return api("GET", `/agent-claims?${q}`);
}
export const revokeAgentClaim = (claimId, reason) => api("POST", `/v1/claims/${encodeURIComponent(claimId)}/revoke`, reason ? { reason } : {});

/** Scoped grants (docs/grants.md): `status` "active" or "all", newest first. */
export const listGrants = (status = "active") => api("GET", `/grants?${new URLSearchParams({ status, limit: "200" })}`);
/** Stops a grant at once (a grant.revoked ledger event and webhook). */
export const revokeGrant = (id, reason) => api("POST", `/grants/${encodeURIComponent(id)}/revoke`, { reason: reason ?? "" });
/** A constraint in plain words, and whether a vote may carry it (the vault's own rendering, over its CEL parser). */
export const describeConstraint = (constraint) => api("POST", "/grants/describe-constraint", { constraint });

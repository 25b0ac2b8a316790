/**
 * Every route of src/http/routes/*.ts the fuzz suite drives: its method, path, the key it needs to
 * get past authentication, the generator of its body or query, and the tables a refused request of
 * it must leave as they were.
 *
 * Body schemas are the routes' own where they are exported. Four are module-private in their route
 * files (policy documents, webhooks, reviewers, console sign-in); they are mirrored here from those
 * files, so a change there should be copied here (the suite still sends and checks whatever the
 * route answers, so a stale mirror only weakens generation, it cannot hide a 5xx).
 */
import fc from "fast-check";
import { z } from "zod";
import { clearanceRequestSchema, consumeTokenSchema, mintTokenSchema, reviewDecisionSchema } from "../../src/requests/request-schema.js";
import { sigilumEventTypes, webhookEventTypes } from "../../src/outbox/events.js";
import { notificationSettingsSchema } from "../../src/outbox/notification-settings.js";
import { registerPolicySchema } from "../../src/policies/policy-schema.js";
import { reviewRulesSchema } from "../../src/requests/review-rules.js";
import { reviewSettingsSchema } from "../../src/requests/review-settings.js";
import { namespaceBody, serviceBody, serviceKeyBody } from "../../src/http/routes/agent-schemas.js";
import { senderCreateSchema, senderUpdateSchema } from "../../src/stepauth/sender-admin.js";
import { bodiesOf } from "./fuzz-schemas.js";
import { keysetValues } from "./fuzz-stepauth.js";

/** Mirrors of the route-private schemas (see the header). */
const documentBodyMirror = z.strictObject({
  title: z.string().trim().min(1).max(300),
  content: z.string().max(512 * 1024),
  media_type: z.enum(["text/markdown", "text/plain"]).default("text/markdown"),
});
// Without its superRefine (a sigilum endpoint takes only sigilum events): the generator mixes both on purpose.
const anyEventType = [...new Set([...webhookEventTypes, ...sigilumEventTypes])];
const webhookBodyMirror = z.strictObject({
  url: z.string().min(1).max(2048),
  format: z.enum(["countersign", "sigilum"]).default("countersign"),
  events: z.array(z.enum(anyEventType as [string, ...string[]])).max(anyEventType.length * 2).default([]),
  description: z.string().max(500).default(""),
});
// src/http/routes/stepauth-admin.ts's hubBody and agent claims' action body (src/http/routes/agent-schemas.ts exports it as optional).
const hubBodyMirror = z.strictObject({ entity: z.string() });
const claimActionMirror = z.strictObject({ reason: z.string().max(2000).default("") });
// src/http/routes/grants.ts's revoke and describe-constraint bodies (docs/grants.md).
const grantRevokeMirror = z.strictObject({ reason: z.string().max(500).default("") });
const describeConstraintMirror = z.strictObject({ constraint: z.string().max(2000) });
const reviewerBodyMirror = z.strictObject({
  name: z.string().trim().min(1).max(200),
  email: z.email().max(320),
  groups: z.array(z.string().trim().min(1).max(64)).max(20).default([]),
});
const signInMirror = z.strictObject({ api_key: z.string().min(1).max(512) });
// src/http/routes/policy-modes.ts's bodies (docs/shadow-mode.md).
const policyModeMirror = z.strictObject({ mode: z.enum(["enforce", "shadow"]), reason: z.string().max(500).default("") });
const tenantModeMirror = z.strictObject({ mode: z.enum(["enforce", "shadow"]), shadow_default: z.enum(["approve", "review", "deny"]).optional(), reason: z.string().max(500).default("") });

/** `service`: a protected service's key (agent identity), sent as X-Vault-API-Key. */
export type Role = "admin" | "agent" | "reviewer" | "service" | "none";

/** What the seeded vault holds, for generators that should sometimes hit a real row. */
export interface KnownIds {
  approvedRequestId: string;
  pendingRequestId: string;
  /** The approved request's token (stripe_refund {amount: 5}); a fuzz case may burn it. */
  token: string;
  policyId: string;
  webhookId: string;
  documentId: string;
  /** A reviewer that exists to be disabled by a fuzz case. */
  spareReviewerId: string;
  reviewerKey: string;
  tenantId: string;
  /** The hub's entity as it stands: an accepted PUT /stepauth/hub changes it (see afterAnswer). */
  hub: { entity: string };
  /** A StepAuth sender fuzz cases may change or remove (the signing ones are never exposed to that). */
  spareSenderId: string;
  /** Agent identity: the namespace and service seeded, a pending claim and an approved one a case may revoke. */
  namespace: string;
  service: string;
  pendingClaimId: string;
  spareApprovedClaimId: string;
}

/** Tables (see FuzzVault.snapshot) whose fingerprint a refused request of the endpoint must not change. */
export type TableName =
  | "clearance_requests" | "consumed_tokens" | "review_decisions" | "outbox" | "ledger_events" | "policy_chunks"
  | "api_keys" | "console_sessions" | "stepauth_requests" | "agent_claims" | "signature_nonces";

export interface BodyEndpoint {
  name: string;
  method: "POST" | "PUT" | "PATCH";
  path: (ids: KnownIds) => fc.Arbitrary<string>;
  role: Role;
  body: (ids: KnownIds) => fc.Arbitrary<unknown>;
  /** Beyond the configuration tables, which every refused request must leave alone. */
  tables: TableName[];
  /** Keeps KnownIds true to the vault after an accepted request changed what it names. */
  afterAnswer?: (ids: KnownIds, status: number, body: string) => void;
}

/**
 * Webhook and Slack targets: no random host names, so a generated URL never sends a DNS query or a
 * delivery off the machine (private targets are allowed in the fuzz vault; port 9 is discard, closed).
 */
export const targetUrls = [
  "http://127.0.0.1:9/hook", "https://[::1]:9/x", "http://localhost:9/h?q=1", "ftp://127.0.0.1/x", "http://user:pw@127.0.0.1:9/",
  "not a url", "http://", "javascript:alert(1)", "http://0x7f.1:9/", "http://2130706433:9/", "file:///etc/passwd", "https://fuzz.invalid/hook",
];

const celExpressions = [
  "args.amount > 10", "true", "false", "args.amount", "args.to.exists(r, r.matches('@example[.]com$'))", "size(args) > 2",
  "1/0 > 1", "args.x.y.z == 'a'", "'a' + 1", ")(", "args.amount > 1e309", "\u0000", "has(args.amount) && args.amount < 0",
];

const someTool = fc.oneof(fc.constantFrom("stripe_refund", "unlisted_tool", "fuzz_tool"), fc.string({ minLength: 1, maxLength: 20 }));
const someArgs = fc.oneof(fc.constantFrom({ amount: 5 }, { amount: 5000 }, { n: 1 }, {}), fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }));

/**
 * Percent-encoding that never throws (encodeURIComponent does on a lone surrogate, which becomes
 * U+FFFD here, as in any UTF-8 client). `raw` leaves visible ASCII but '#' alone, to send '&', '=',
 * '%' and '/' unescaped.
 */
export function percentEncode(s: string, raw = false): string {
  let out = "";
  for (const byte of Buffer.from(s, "utf8")) {
    const c = String.fromCharCode(byte);
    const plain = raw ? byte > 0x20 && byte < 0x7f && c !== "#" : /[A-Za-z0-9\-_.~]/.test(c);
    out += plain ? c : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** A path segment: a real id, or text the router and the route's zod params must refuse politely. */
export function segment(...known: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 2, arbitrary: known.length > 0 ? fc.constantFrom(...known).map((k) => percentEncode(k)) : fc.constant("x") },
    { weight: 2, arbitrary: fc.string({ minLength: 1, maxLength: 40, unit: "binary" }).map((k) => percentEncode(k)) },
    fc.constantFrom(
      "%ZZ", "%", "%00", "a%00b", "%2e%2e", "..", ".", "a%2Fb", "%F0%9F", "%C0%AF", "%ED%A0%80", "%FF", "%EF%BC%A3arol",
      "__proto__", "constructor", "prototype", "x".repeat(301), "y".repeat(257), "%20", "%0d%0aX-Injected:%201",
      "req_%27%3B--", "1e309", "-0", "18446744073709551616",
    ),
  );
}

export function bodyEndpoints(): BodyEndpoint[] {
  return [
    {
      name: "POST /request-clearance",
      method: "POST",
      path: () => fc.constant("/request-clearance"),
      role: "agent",
      body: () => bodiesOf(clearanceRequestSchema, { tool_name: someTool, tool_args: someArgs }),
      tables: ["clearance_requests"],
    },
    {
      name: "POST /register-policy",
      method: "POST",
      path: () => fc.constant("/register-policy"),
      role: "admin",
      body: () =>
        bodiesOf(registerPolicySchema, {
          "conditions[].when": fc.oneof(fc.constantFrom(...celExpressions), fc.string({ minLength: 1, maxLength: 30 })),
          "tools[]": someTool,
        }),
      tables: ["policy_chunks"],
    },
    {
      name: "POST /policies/:policy_id/documents",
      method: "POST",
      path: (ids) => segment(ids.policyId, "no-such-policy").map((p) => `/policies/${p}/documents`),
      role: "admin",
      body: () => bodiesOf(documentBodyMirror),
      tables: ["policy_chunks"],
    },
    {
      name: "PUT /review-settings",
      method: "PUT",
      path: () => fc.constant("/review-settings"),
      role: "admin",
      body: () => bodiesOf(reviewSettingsSchema),
      tables: [],
    },
    {
      name: "PUT /review-settings?policy_id=",
      method: "PUT",
      path: (ids) => segment(ids.policyId, "other-policy").map((p) => `/review-settings?policy_id=${p}`),
      role: "admin",
      body: () => bodiesOf(reviewRulesSchema),
      tables: [],
    },
    {
      name: "POST /webhooks",
      method: "POST",
      path: () => fc.constant("/webhooks"),
      role: "admin",
      body: () => bodiesOf(webhookBodyMirror, { url: fc.oneof(fc.constantFrom(...targetUrls), fc.string({ maxLength: 30 })) }),
      tables: [],
    },
    {
      name: "PUT /notification-settings",
      method: "PUT",
      path: () => fc.constant("/notification-settings"),
      role: "admin",
      body: () =>
        bodiesOf(notificationSettingsSchema, {
          "slack.webhook_url": fc.constantFrom(...targetUrls, null),
          "slack.policies.*": fc.constantFrom(...targetUrls),
        }),
      tables: [],
    },
    {
      name: "POST /reviewers",
      method: "POST",
      path: () => fc.constant("/reviewers"),
      role: "admin",
      body: () => bodiesOf(reviewerBodyMirror),
      tables: ["api_keys"],
    },
    {
      name: "POST /console/session",
      method: "POST",
      path: () => fc.constant("/console/session"),
      role: "none",
      body: (ids) => bodiesOf(signInMirror, { api_key: fc.oneof(fc.constant(ids.reviewerKey), fc.string({ minLength: 1, maxLength: 60 })) }),
      tables: ["console_sessions"],
    },
    {
      name: "POST /reviews/:request_id/decision",
      method: "POST",
      path: (ids) => segment(ids.pendingRequestId, ids.approvedRequestId, "req_unknown").map((id) => `/reviews/${id}/decision`),
      role: "reviewer",
      body: () => bodiesOf(reviewDecisionSchema),
      tables: ["review_decisions", "clearance_requests", "consumed_tokens"],
    },
    {
      name: "POST /grants/:grant_id/revoke",
      method: "POST",
      path: () => segment("grt_unknown").map((id) => `/grants/${id}/revoke`),
      role: "reviewer",
      body: () => bodiesOf(grantRevokeMirror),
      tables: ["ledger_events", "outbox"],
    },
    {
      name: "PUT /policies/:policy_id/mode",
      method: "PUT",
      path: (ids) => segment(ids.policyId, "unknown-policy").map((id) => `/policies/${id}/mode`),
      role: "admin",
      body: () => bodiesOf(policyModeMirror),
      tables: ["ledger_events", "outbox"],
    },
    {
      name: "PUT /policy-mode",
      method: "PUT",
      path: () => fc.constant("/policy-mode"),
      role: "admin",
      body: () => bodiesOf(tenantModeMirror),
      tables: ["ledger_events", "outbox"],
    },
    {
      name: "POST /policies/:policy_id/replay",
      method: "POST",
      path: (ids) => segment(ids.policyId, "unknown-policy").map((id) => `/policies/${id}/replay`),
      role: "admin",
      body: (ids) =>
        bodiesOf(z.strictObject({ candidate: z.record(z.string(), z.unknown()), since: z.string().max(40).optional(), limit: z.number().int().min(1).max(100_000).optional(), with_llm: z.boolean().optional() }), {
          candidate: fc.oneof(
            fc.constant({ policy_id: ids.policyId, conditions: [{ id: "c", when: "args.amount > 10", decision: "deny" }] }),
            fc.record({ policy_id: fc.constantFrom(ids.policyId, "other"), conditions: fc.array(fc.record({ id: fc.constant("c"), when: fc.constantFrom(...celExpressions), decision: fc.constantFrom("deny", "approve", "x") }), { maxLength: 2 }) }),
            fc.string({ maxLength: 200 }) as fc.Arbitrary<unknown>,
          ),
          since: fc.constantFrom("30d", "1h", "2026-01-01", "yesterday", "0m"),
        }),
      tables: ["ledger_events", "clearance_requests", "outbox"],
    },
    {
      name: "POST /grants/describe-constraint",
      method: "POST",
      path: () => fc.constant("/grants/describe-constraint"),
      role: "reviewer",
      body: () =>
        bodiesOf(describeConstraintMirror, {
          constraint: fc.oneof(fc.constantFrom('args.amount <= 200 && args.currency == "usd"', "tool == 'x'", "args.a.all(x, args.b.all(y, x == y))", ")(", ""), fc.string({ maxLength: 120 })),
        }),
      tables: [],
    },
    {
      name: "POST /mint-token",
      method: "POST",
      path: () => fc.constant("/mint-token"),
      role: "agent",
      body: (ids) =>
        bodiesOf(mintTokenSchema, {
          original_request_id: fc.oneof(fc.constantFrom(ids.approvedRequestId, ids.pendingRequestId, "req_unknown"), fc.string({ minLength: 1, maxLength: 30 })),
          tool_name: someTool,
          tool_args: someArgs,
        }),
      tables: ["clearance_requests", "consumed_tokens"],
    },
    {
      name: "POST /consume-token",
      method: "POST",
      path: () => fc.constant("/consume-token"),
      role: "agent",
      body: (ids) =>
        bodiesOf(consumeTokenSchema, {
          token: fc.oneof(
            { weight: 3, arbitrary: fc.constant(ids.token) },
            fc.nat().map((i) => flipChar(ids.token, i)),
            fc.constantFrom("a.b.c", "eyJhbGciOiJub25lIn0.e30.", ".", "x".repeat(16_385)),
            fc.string({ minLength: 1, maxLength: 60 }),
          ),
          tool_name: fc.constantFrom("stripe_refund", "other_tool"),
          tool_args: fc.constantFrom({ amount: 5 }, { amount: 5.0 }, { amount: 6 }, {}),
        }),
      tables: ["consumed_tokens"],
    },
    {
      name: "POST /webhooks/:id/test",
      method: "POST",
      path: (ids) => segment(ids.webhookId, "whk_unknown").map((id) => `/webhooks/${id}/test`),
      role: "admin",
      body: () => fc.constantFrom({}, { extra: 1 }),
      tables: ["outbox"],
    },
    {
      name: "POST /outbox/:delivery_id/retry",
      method: "POST",
      path: () => segment("dlv_unknown").map((id) => `/outbox/${id}/retry`),
      role: "admin",
      body: () => fc.constantFrom({}, { extra: 1 }),
      tables: ["outbox"],
    },
    ...stepAuthAdminEndpoints(),
    ...agentAdminEndpoints(),
  ];
}

/** Issue 16's StepAuth administration (src/http/routes/stepauth-admin.ts): senders and the hub. */
function stepAuthAdminEndpoints(): BodyEndpoint[] {
  const callbackPatterns = fc.constantFrom("http://127.0.0.1:9/cb/*", "https://sp.fuzz.invalid/cb", "http://localhost:9/*", "https://*", "ftp://127.0.0.1/x", "*", "", null, "https://a.invalid/x*y");
  return [
    {
      name: "POST /stepauth/senders",
      method: "POST",
      path: () => fc.constant("/stepauth/senders"),
      role: "admin",
      body: () =>
        bodiesOf(senderCreateSchema, {
          entity: fc.oneof(fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,30}$/), fc.constantFrom("sp.fuzz.example", "", "a#b", "x".repeat(257), "sp-\u00e9", "sp\u0000"), fc.string({ maxLength: 20 })),
          keysets: fc.oneof(fc.array(keysetValues(), { minLength: 1, maxLength: 2 }), fc.array(keysetValues(), { maxLength: 9 })),
          callback_pattern: callbackPatterns,
        }),
      tables: [],
    },
    {
      name: "PATCH /stepauth/senders/:id",
      method: "PATCH",
      path: (ids) => segment(ids.spareSenderId, "snd_unknown").map((id) => `/stepauth/senders/${id}`),
      role: "admin",
      body: () => bodiesOf(senderUpdateSchema, { keysets: fc.oneof(fc.array(keysetValues(), { minLength: 1, maxLength: 2 }), fc.array(keysetValues(), { maxLength: 9 })), callback_pattern: callbackPatterns }),
      tables: [],
    },
    {
      name: "PUT /stepauth/hub",
      method: "PUT",
      path: () => fc.constant("/stepauth/hub"),
      role: "admin",
      body: (ids) => bodiesOf(hubBodyMirror, { entity: fc.oneof(fc.constant(ids.hub.entity), fc.constantFrom("", "a#b", "x".repeat(257), "h\u00e9", "\u0000", "hub.fuzz.example"), fc.string({ maxLength: 20 })) }),
      tables: [],
      afterAnswer: (ids, status, body) => {
        if (status === 200) ids.hub.entity = (JSON.parse(body) as { entity: string }).entity;
      },
    },
  ];
}

/** Issue 16's agent identity administration and claim reviews (src/http/routes/{agent-admin,sigilum}.ts), unsigned. */
function agentAdminEndpoints(): BodyEndpoint[] {
  const claimIds = (ids: KnownIds) => segment(ids.pendingClaimId, ids.spareApprovedClaimId, "cl_000000000000000000000000");
  const claimAction = (action: string): BodyEndpoint => ({
    name: `POST /v1/claims/:id/${action}`,
    method: "POST",
    path: (ids) => claimIds(ids).map((id) => `/v1/claims/${id}/${action}`),
    role: "reviewer",
    body: () => bodiesOf(claimActionMirror),
    tables: ["agent_claims", "review_decisions", "clearance_requests"],
  });
  return [
    {
      name: "POST /agent-namespaces",
      method: "POST",
      path: () => fc.constant("/agent-namespaces"),
      role: "admin",
      body: (ids) => bodiesOf(namespaceBody, { namespace: fc.oneof(fc.constantFrom(ids.namespace, "Fuzz-NS", "ab", "a".repeat(65), "-ab", "ns\u0000x", "\u00e9\u00e9\u00e9"), fc.stringMatching(/^[a-z0-9][a-z0-9-]{1,8}[a-z0-9]$/)) }),
      tables: [],
    },
    {
      name: "POST /protected-services",
      method: "POST",
      path: () => fc.constant("/protected-services"),
      role: "admin",
      body: (ids) => bodiesOf(serviceBody, { slug: fc.oneof(fc.constant(ids.service), fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,8}$/), fc.string({ maxLength: 12 })) }),
      tables: [],
    },
    {
      name: "POST /protected-services/:slug/keys",
      method: "POST",
      path: (ids) => segment(ids.service, "no-such-service").map((slug) => `/protected-services/${slug}/keys`),
      role: "admin",
      body: () => fc.oneof(bodiesOf(serviceKeyBody.unwrap()), fc.constant(undefined)),
      tables: ["api_keys"],
    },
    claimAction("approve"),
    claimAction("reject"),
    claimAction("revoke"),
  ];
}

/** The token with one character changed: still three base64url parts, now with a bad signature or claims. */
function flipChar(token: string, i: number): string {
  const at = i % token.length;
  const c = token[at] === "A" ? "B" : "A";
  return token.slice(0, at) + c + token.slice(at + 1);
}

export interface QueryEndpoint {
  name: string;
  method: string;
  path: (ids: KnownIds) => fc.Arbitrary<string>;
  role: Role;
  /** The parameter names the route reads; the generator adds others. */
  params: string[];
  tables: TableName[];
}

/** Routes without a body: garbage in their path segments and query strings. /reviews/stream (SSE) is left out. */
export function queryEndpoints(): QueryEndpoint[] {
  const eventParams = ["request_id", "event_uuid", "redact"];
  return [
    { name: "GET /clearance-status/:request_id", method: "GET", path: (ids) => segment(ids.approvedRequestId, ids.pendingRequestId, "req_unknown").map((id) => `/clearance-status/${id}`), role: "agent", params: ["wait"], tables: [] },
    { name: "GET /reviews", method: "GET", path: () => fc.constant("/reviews"), role: "reviewer", params: ["status", "policy_id", "tool_name", "agent_id", "limit", "cursor"], tables: [] },
    { name: "GET /grants", method: "GET", path: () => fc.constant("/grants"), role: "reviewer", params: ["status", "limit", "cursor"], tables: [] },
    { name: "GET /grants/:grant_id", method: "GET", path: () => segment("grt_unknown").map((id) => `/grants/${id}`), role: "reviewer", params: [], tables: [] },
    { name: "GET /reviews/:request_id", method: "GET", path: (ids) => segment(ids.pendingRequestId, ids.approvedRequestId).map((id) => `/reviews/${id}`), role: "reviewer", params: [], tables: [] },
    { name: "GET /ledger", method: "GET", path: () => fc.constant("/ledger"), role: "agent", params: ["limit", "after_leaf_index", "order", "redact"], tables: [] },
    { name: "GET /ledger/checkpoints", method: "GET", path: () => fc.constant("/ledger/checkpoints"), role: "agent", params: ["limit", "after_id", "order"], tables: [] },
    { name: "GET /ledger/proof/inclusion", method: "GET", path: () => fc.constant("/ledger/proof/inclusion"), role: "agent", params: eventParams, tables: [] },
    { name: "GET /ledger/proof/consistency", method: "GET", path: () => fc.constant("/ledger/proof/consistency"), role: "agent", params: ["from", "to"], tables: [] },
    { name: "GET /ledger/proof/bundle", method: "GET", path: () => fc.constant("/ledger/proof/bundle"), role: "agent", params: eventParams, tables: [] },
    { name: "GET /ledger/proof/tlog", method: "GET", path: () => fc.constant("/ledger/proof/tlog"), role: "agent", params: eventParams, tables: [] },
    { name: "GET /ledger/checkpoint", method: "GET", path: () => fc.constant("/ledger/checkpoint"), role: "agent", params: [], tables: [] },
    { name: "GET /ledger/checkpoint-key", method: "GET", path: () => fc.constant("/ledger/checkpoint-key"), role: "agent", params: [], tables: [] },
    { name: "GET /review-settings", method: "GET", path: () => fc.constant("/review-settings"), role: "reviewer", params: ["policy_id"], tables: [] },
    { name: "DELETE /review-settings", method: "DELETE", path: () => fc.constant("/review-settings"), role: "admin", params: ["policy_id"], tables: [] },
    { name: "GET /policies", method: "GET", path: () => fc.constant("/policies"), role: "reviewer", params: [], tables: [] },
    { name: "GET /policies/:policy_id/documents", method: "GET", path: (ids) => segment(ids.policyId).map((p) => `/policies/${p}/documents`), role: "admin", params: [], tables: [] },
    { name: "DELETE /policies/:policy_id/documents/:document_id", method: "DELETE", path: (ids) => fc.tuple(segment(ids.policyId), segment(ids.documentId)).map(([p, d]) => `/policies/${p}/documents/${d}`), role: "admin", params: [], tables: ["policy_chunks"] },
    { name: "GET /webhooks", method: "GET", path: () => fc.constant("/webhooks"), role: "admin", params: [], tables: [] },
    { name: "DELETE /webhooks/:id", method: "DELETE", path: (ids) => segment("whk_unknown", ids.webhookId).map((id) => `/webhooks/${id}`), role: "admin", params: [], tables: [] },
    { name: "GET /webhooks/:id/deliveries", method: "GET", path: (ids) => segment(ids.webhookId).map((id) => `/webhooks/${id}/deliveries`), role: "admin", params: ["status", "limit"], tables: [] },
    { name: "GET /notification-settings", method: "GET", path: () => fc.constant("/notification-settings"), role: "admin", params: [], tables: [] },
    { name: "GET /outbox", method: "GET", path: () => fc.constant("/outbox"), role: "admin", params: ["status", "kind", "limit"], tables: [] },
    { name: "GET /reviewers", method: "GET", path: () => fc.constant("/reviewers"), role: "reviewer", params: [], tables: [] },
    { name: "DELETE /reviewers/:reviewer_id", method: "DELETE", path: (ids) => segment(ids.spareReviewerId, "rvw_unknown").map((id) => `/reviewers/${id}`), role: "admin", params: [], tables: ["api_keys"] },
    { name: "GET /console/session", method: "GET", path: () => fc.constant("/console/session"), role: "reviewer", params: [], tables: [] },
    { name: "DELETE /console/session", method: "DELETE", path: () => fc.constant("/console/session"), role: "reviewer", params: [], tables: ["console_sessions"] },
    { name: "GET /.well-known/jwks.json", method: "GET", path: () => fc.constant("/.well-known/jwks.json"), role: "none", params: [], tables: [] },
    { name: "GET /healthz", method: "GET", path: () => fc.constant("/healthz"), role: "none", params: [], tables: [] },
    { name: "GET /readyz", method: "GET", path: () => fc.constant("/readyz"), role: "none", params: [], tables: [] },
    { name: "GET /console", method: "GET", path: () => fc.constantFrom("/console", "/console/", "/console/index.html", "/console/%2e%2e/package.json", "/console/..%2f..%2fpackage.json"), role: "none", params: [], tables: [] },
    ...stepAuthAndAgentQueryEndpoints(),
    { name: "unknown route", method: "GET", path: () => segment().map((s) => `/${s}`), role: "admin", params: [], tables: [] },
    ...["PATCH", "OPTIONS", "HEAD", "PUT", "POST", "DELETE"].map((method) => ({
      name: `${method} on other routes' paths`,
      method,
      path: (ids: KnownIds) =>
        fc.constantFrom("/request-clearance", "/register-policy", "/ledger", "/healthz", "/reviews", `/clearance-status/${ids.approvedRequestId}`, "/webhooks", "/.well-known/jwks.json", "/console"),
      role: "admin" as const,
      params: [],
      tables: [] as TableName[],
    })),
  ];
}

/** Issue 16's body-less routes: the hub's metadata and administration, agent identity listings and the unsigned Sigilum reads. */
function stepAuthAndAgentQueryEndpoints(): QueryEndpoint[] {
  const tenantSegment = (ids: KnownIds) => segment(ids.tenantId, "t_00000000000000000000");
  return [
    { name: "GET /stepauth/:tenant/v1/metadata", method: "GET", path: (ids) => tenantSegment(ids).map((t) => `/stepauth/${t}/v1/metadata`), role: "none", params: [], tables: [] },
    { name: "GET /stepauth/senders", method: "GET", path: () => fc.constant("/stepauth/senders"), role: "admin", params: [], tables: [] },
    { name: "GET /stepauth/senders/:id", method: "GET", path: (ids) => segment(ids.spareSenderId).map((id) => `/stepauth/senders/${id}`), role: "admin", params: [], tables: [] },
    { name: "DELETE /stepauth/senders/:id", method: "DELETE", path: (ids) => segment(ids.spareSenderId, "snd_unknown").map((id) => `/stepauth/senders/${id}`), role: "admin", params: [], tables: [] },
    { name: "GET /stepauth/hub", method: "GET", path: () => fc.constant("/stepauth/hub"), role: "admin", params: [], tables: [] },
    { name: "POST /stepauth/hub/rotate", method: "POST", path: () => fc.constant("/stepauth/hub/rotate"), role: "admin", params: [], tables: [] },
    { name: "GET /agent-namespaces", method: "GET", path: () => fc.constant("/agent-namespaces"), role: "admin", params: [], tables: [] },
    { name: "GET /protected-services", method: "GET", path: () => fc.constant("/protected-services"), role: "admin", params: [], tables: [] },
    { name: "GET /agent-claims", method: "GET", path: () => fc.constant("/agent-claims"), role: "reviewer", params: ["status", "limit"], tables: [] },
    { name: "GET /v1/verify (unsigned)", method: "GET", path: () => fc.constant("/v1/verify"), role: "none", params: ["namespace", "public_key", "service"], tables: ["signature_nonces"] },
    { name: "GET /v1/namespaces/claims (unsigned)", method: "GET", path: () => fc.constant("/v1/namespaces/claims"), role: "service", params: ["service", "limit", "offset"], tables: ["signature_nonces"] },
  ];
}

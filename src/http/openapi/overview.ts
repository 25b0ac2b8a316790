/**
 * The API-wide rules, as the OpenAPI document's `info.description` (markdown): the body rules, the
 * error vocabulary, Idempotency-Key and backpressure. Per-route detail lives in each route's RouteDoc;
 * docs/api.md is generated from the document (api-reference.ts), so this text is edited here.
 */
export const API_OVERVIEW = `All bodies are JSON (\`Content-Type: application/json\`), except that a policy document may also
be uploaded as raw \`text/markdown\` or \`text/plain\`; field names are snake_case.
Authenticated routes take \`X-Vault-API-Key\`. Unknown fields are ignored in the bodies the Ledgix
SDK sends (\`/request-clearance\`, \`/mint-token\`; protocol §6.11) and refused with
\`400 validation_failed\` naming the field in every other body (policies and their
conditions, documents, review and notification settings, reviewers, webhooks, review decisions,
console sign-in, and \`/consume-token\`, where a misspelled \`tool_args\` must not skip the arguments
check). The optional fields of \`/request-clearance\` also accept \`null\` as "not given".
A JSON object that repeats a member name, at any depth and in any body, is
\`400 duplicate_json_key\` (see [Errors](#errors)).

<a id="order-of-body-checks"></a>**Order of body checks.** Every JSON body is read once, as text,
before it is parsed; that one pass finds nesting deeper than 64 levels, repeated member names,
numbers outside the double range, unpaired surrogates and, on \`/request-clearance\`, the
\`tool_args\` plus \`context\` size budget. When a body has more than one problem, the answer is
decided in this order: (1) \`413 args_too_large\` as soon as the budget is crossed, when the text
up to there is well-formed (the rest is not read: a 45,000-address list is refused after about
1,000 addresses, and \`detail\` names the array by its JSON pointer, with its length when the
text lets it be counted); (2) \`400 invalid_json\` for a syntax error anywhere; (3) the first other
problem in reading order (\`json_too_deep\`, \`duplicate_json_key\`, or \`invalid_json\` for \`1e400\` or
an unpaired surrogate). All of these come before authentication (\`401\`/\`403\`) and before the
body's schema (\`400 validation_failed\`); the budget is checked once more on the validated body.

A doubled or trailing slash in a path is tolerated (\`//request-clearance/\`).

## Errors

Every error is an RFC 9457 problem document, \`Content-Type: application/problem+json\`:

\`\`\`json
{"type":"urn:countersign:error:token_already_consumed","title":"Token already consumed","status":409,
 "detail":"Token 82d921ba-3e91-4c45-ba4b-5dfa187a9847 was already consumed at 2026-11-23T11:44:38.844Z",
 "code":"token_already_consumed","instance":"/consume-token"}
\`\`\`

\`code\` is stable and comes from a closed list; \`detail\` is for people. Validation errors add
\`errors: [{path, message}]\`; an unknown field is reported as \`validation_failed\` (one code for
"the body does not match its schema", whatever else is wrong with it), listed first, with \`path\`
pointing at the key itself and \`detail\` naming it. \`duplicate_json_key\` adds \`pointer\`. 5xx
answers never include internal details.

| Status | \`code\` | When |
|---|---|---|
| 400 | \`bad_request\` | Malformed request not covered below (e.g. a bad \`Idempotency-Key\`, a NUL character in a text field, a request Node's HTTP parser refuses). |
| 400 | \`invalid_json\` | Body is not valid JSON, or holds a number outside the double range (\`1e400\`). |
| 400 | \`json_too_deep\` | JSON nested deeper than 64 levels. |
| 400 | \`duplicate_json_key\` | A JSON object in the body repeats a member name (compared after unescaping: \`"a"\` and \`"\\u0061"\` are one name). \`pointer\` (and \`detail\`) give its RFC 6901 JSON pointer, e.g. \`/tool_args/amount\`. RFC 8785 canonical JSON, which \`tool_args_hash\` and the ledger commit to, and I-JSON (RFC 7493 §2.3) leave such a text without one meaning: one parser keeps the first value, another the last. Nothing is stored. The judge service refuses such bodies too. |
| 400 | \`validation_failed\` | Body or path does not match the schema, including an unknown field in an admin or review body (named in \`detail\`, its path in \`errors\`). |
| 400 | \`invalid_condition\` | A policy condition does not compile or breaks a CEL limit. |
| 401 | \`unauthorized\` | Missing, unknown or revoked API key. |
| 401 | \`token_invalid\` | Token malformed, unknown \`kid\`, bad signature, wrong \`iss\`/\`aud\`/\`sub\`, missing claims. |
| 401 | \`token_expired\` | Token past \`exp\`. |
| 403 | \`insufficient_scope\` | The key's scope does not allow the call. |
| 403 | \`tenant_mismatch\` | Token issued to another tenant. |
| 403 | \`token_binding_mismatch\` | \`tool_name\` or \`tool_args\` differ from what the token approved. |
| 403 | \`self_approval_forbidden\` | The key that submitted the request tried to approve it. |
| 403 | \`principal_approval_forbidden\` | The request's \`human_principal\` tried to approve it (identities compared after NFKC, case folding and trimming). |
| 403 | \`reviewer_not_eligible\` | The reviewer is not in the request's \`reviewers\` list. |
| 403 | \`csrf_header_missing\` | A console (cookie) request that changes state without \`X-Countersign-Console: 1\`. |
| 400 | \`webhook_target_forbidden\` | A webhook or Slack URL on a private, loopback or link-local address. |
| 400 | \`smtp_not_configured\` | Email notifications without \`SMTP_HOST\`. |
| 404 | \`webhook_not_found\`, \`outbox_entry_not_found\` | Unknown webhook endpoint or outbox entry. |
| 409 | \`already_voted\` | This reviewer already voted on the request. |
| 409 | \`reviewer_exists\` | A reviewer with that email already exists. |
| 404 | \`reviewer_not_found\` | No active reviewer with that id in this tenant. |
| 404 | \`not_found\` | No such route (also used for an unknown method on a known path). |
| 404 | \`request_not_found\` | No clearance request with that id in this tenant. |
| 404 | \`policy_not_found\` | Document upload, listing or removal for a policy that is not registered. |
| 404 | \`document_not_found\` | The policy's current version has no document with that id. |
| 404 | \`token_not_found\` | Valid signature but this tenant never issued that \`jti\`. |
| 404 | \`ledger_event_not_found\` | No ledger event for that request or \`event_uuid\` (or both together) in this tenant. |
| 404 | \`checkpoint_not_found\` | \`/ledger/proof/consistency\` with an unknown checkpoint id. |
| 404 | \`ledger_empty\` | \`/ledger/checkpoint\` before the first checkpoint. |
| 408 | \`request_timeout\` | The client did not send the request in time. |
| 409 | \`token_already_consumed\` | The token was burned before. |
| 409 | \`request_not_pending\` | The request is already decided. |
| 409 | \`approval_not_reusable\` | \`/mint-token\` refused: the remembered approval no longer holds. |
| 413 | \`payload_too_large\` | Body larger than \`VAULT_MAX_BODY_BYTES\`. |
| 413 | \`args_too_large\` | \`/request-clearance\`: \`tool_args\` and \`context\` together hold more than \`VAULT_MAX_ARGS_NODES\` JSON values, or an array longer than \`VAULT_MAX_ARRAY_LENGTH\`; \`detail\` names the limit (and the array by JSON pointer). Nothing is stored. |
| 415 | \`unsupported_media_type\` | A body with a type other than \`application/json\` (or, for a document upload, \`text/markdown\` or \`text/plain\`). |
| 422 | \`idempotency_key_reused\` | \`Idempotency-Key\` seen before with a different body. |
| 429 | \`rate_limited\` | Per-key rate limit exceeded; \`Retry-After\` is set. |
| 429 | \`queue_saturated\` | Clearance queue at its high watermark; \`Retry-After: 1\`. |
| 431 | \`headers_too_large\` | Request headers too large. |
| 500 | \`internal_error\` | Unexpected failure. |
| 503 | \`not_ready\` | \`/readyz\` only: control database unreachable. |
| 503 | \`ledger_event_pending\` | The event is not yet in a signed checkpoint and another process is sequencing; \`Retry-After: 1\`. |
| 503 | \`ledger_key_unavailable\` | The ledger entry is encrypted and this vault's \`VAULT_TRANSPORT_KEY_BASE64\` cannot open it. |
| 503 | \`embedding_unavailable\` | Policy text could not be embedded (registration or document upload); nothing was written. \`Retry-After: 5\`. |
| 503 | \`signer_unavailable\` | The signing key service (KMS) did not sign, timed out or answered a signature that does not verify. On \`/mint-token\` and \`/consume-token\` nothing was stored or burned; on \`/request-clearance\` only when even the review could not be recorded (with only the token key failing, an approval becomes a review with \`reason_code: signer_unavailable\`). \`Retry-After: 1\`. |
| 503 | \`tenant_secrets_unavailable\` | This tenant's Secrets Manager bundle cannot be read (or its database refused the credentials in it); other tenants are unaffected. \`Retry-After: 5\`. |

## Idempotency-Key

\`POST /request-clearance\`, \`POST /register-policy\`, \`POST /policies/{policy_id}/documents\` and
\`POST /mint-token\` accept an
\`Idempotency-Key\` header (1-255 visible ASCII characters; anything else is \`400 bad_request\`).
Keys are scoped to the tenant and the endpoint, and do not expire; on \`/request-clearance\` a
key used by one API key answers \`422\` to any other API key (it must not hand out another key's
token). The body is compared by the SHA-256 of its canonical JSON, so key order and whitespace
do not matter (for a document upload: of the policy id, title, media type and content, so the
same document sent as JSON or as raw text is the same body).

- Same key, same body: the original answer. For \`/request-clearance\` this is the original
  request (same \`request_id\`) in its current state; if it is still \`processing\`, the handler
  waits like a first submission. No second request, decision or token is created.
- Same key, different body: \`422 idempotency_key_reused\`.
- \`/register-policy\`, document uploads and \`/mint-token\` store only successful answers, so a
  retry after an error (such as \`503 embedding_unavailable\`) runs again.

Other endpoints ignore the header.

## Backpressure and rate limits

- **Per-key rate limit.** Each API key has a token bucket of \`VAULT_RATE_LIMIT_BURST\` requests,
  refilled at \`VAULT_RATE_LIMIT_RPS\` per second (0 disables it). Over the limit: \`429
  rate_limited\` with \`Retry-After\` in whole seconds (at least 1). The buckets live in each vault
  process. Unauthenticated requests, \`/healthz\`, \`/readyz\`, \`/metrics\` and JWKS are not rate
  limited.
- **Queue admission.** On the queued path, when queued plus running jobs reach
  \`VAULT_CLEARANCE_ASYNC_QUEUE_SIZE × VAULT_CLEARANCE_QUEUE_HIGH_WATERMARK_PERCENT / 100\`, a new
  \`/request-clearance\` is refused with \`429 queue_saturated\` and \`Retry-After: 1\` before anything
  is stored. A request that was accepted is never dropped. When the vault decides inline (\`auto\`
  mode with an in-process judge and no LLM) there is no queue to fill.

Clients should wait \`Retry-After\` seconds and retry with the same \`Idempotency-Key\`.
`;

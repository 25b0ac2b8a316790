/**
 * Examples for the OpenAPI document: answers a vault really gave (PGlite, the refund policy of
 * test/helpers/vault.ts), so they show what clients get. test/integration/openapi.test.ts validates
 * each against its schema, and the same routes' live answers against the same schemas.
 */
export const tokenExamples = {
  mintRequest: {
  "tool_name": "stripe_refund",
  "tool_args": {
    "amount": 45,
    "currency": "usd",
    "order_id": "ord-1042"
  },
  "agent_id": "support-agent-7",
  "session_id": "sess-81",
  "policy_id": "",
  "policy_version_id": "pv_d990eb25-78e9-4807-956f-e62c1a98ccc4",
  "policy_content_hash": "sha256:1306c8dfec658b8bee3f3f88f665b98d643fb890697dd0af4c74080ec1923c21",
  "original_request_id": "req_97b34e50-fbc0-423b-abae-a2badad08e54"
},
  minted: {
  "request_id": "req_1ed03dec-13dc-49fe-998c-06819c5b2b2e",
  "token_expires_at": "2026-12-05T03:31:57.000Z",
  "status": "approved",
  "decision_status": "approved",
  "reason": "Within the automatic limit",
  "original_request_id": "req_97b34e50-fbc0-423b-abae-a2badad08e54",
  "policy_version_id": "pv_d990eb25-78e9-4807-956f-e62c1a98ccc4",
  "policy_content_hash": "sha256:1306c8dfec658b8bee3f3f88f665b98d643fb890697dd0af4c74080ec1923c21",
  "token": "eyJhbGciOiJFZERTQSIsImtpZCI6InRlc3Qta2V5LTEiLCJ0eXAiOiJKV1QifQ.eyJpc3MiOiJhbGN2LXZhdWx0IiwiYXVkIjoibGVkZ2l4LXNkayIsInN1YiI6ImNsZWFyYW5jZSIsImlhdCI6MTc5NjQ0MTIxNywiZXhwIjoxNzk2NDQxNTE3LCJqdGkiOiJlZThkZDQxOC1mZDM1LTQ5NDYtYWRjYy04NGJjNTRlNjQ0YzAiLCJ0b29sIjoic3RyaXBlX3JlZnVuZCIsInRvb2xfYXJnc19oYXNoIjoiNjI4OWIxMTVmOTFhN2I3NDYzZWY0MjVjYzU4YjJkOWNjNmIyYmYzNmRmZjQ1Y2NmYjRhNWQ0Y2M1MmM2YjgzYyIsImFnZW50X2lkIjoic3VwcG9ydC1hZ2VudC03Iiwic2Vzc2lvbl9pZCI6InNlc3MtODEiLCJwb2xpY3lfaWQiOiJyZWZ1bmQtcG9saWN5IiwiZGVjaXNpb24iOiJ5ZXMiLCJyZXF1ZXN0X2lkIjoicmVxXzFlZDAzZGVjLTEzZGMtNDlmZS05OThjLTA2ODE5YzViMmIyZSIsInRlbmFudF9pZCI6InRfNGYyZWVmMDhmYzE3MDNlYThiMzEifQ.mSDZRswNQJf6VEwsZ4Pm796Ng_c87LjmD3_sS3eGId-_npRpfr_s7hglk4AcPWKR-k2j5BZ1bWcs9mQ8USIkAQ"
},
  consumeRequest: {
  "token": "eyJhbGciOiJFZERTQSIsImtpZCI6InRlc3Qta2V5LTEiLCJ0eXAiOiJKV1QifQ.eyJpc3MiOiJhbGN2LXZhdWx0IiwiYXVkIjoibGVkZ2l4LXNkayIsInN1YiI6ImNsZWFyYW5jZSIsImlhdCI6MTc5NjQ0MTIxNywiZXhwIjoxNzk2NDQxNTE3LCJqdGkiOiIyYzA3NzE0NS1hY2MyLTQ1NjctYTc2Ni01NjRlZDBhZDI0ODAiLCJ0b29sIjoic3RyaXBlX3JlZnVuZCIsInRvb2xfYXJnc19oYXNoIjoiNjI4OWIxMTVmOTFhN2I3NDYzZWY0MjVjYzU4YjJkOWNjNmIyYmYzNmRmZjQ1Y2NmYjRhNWQ0Y2M1MmM2YjgzYyIsImFnZW50X2lkIjoic3VwcG9ydC1hZ2VudC03Iiwic2Vzc2lvbl9pZCI6InNlc3MtODEiLCJwb2xpY3lfaWQiOiJyZWZ1bmQtcG9saWN5IiwiZGVjaXNpb24iOiJ5ZXMiLCJyZXF1ZXN0X2lkIjoicmVxXzk3YjM0ZTUwLWZiYzAtNDIzYi1hYmFlLWEyYmFkYWQwOGU1NCIsInRlbmFudF9pZCI6InRfNGYyZWVmMDhmYzE3MDNlYThiMzEifQ.w2NkVs7ZFbi3aR0bGzxaNWcG_2Mk3QtQKF1acO9q2nK2BivSs9EywKvIrQ4iEXQunbYhQqLJ6UGUWE0RCsytBw",
  "tool_name": "stripe_refund",
  "tool_args": {
    "amount": 45,
    "currency": "usd",
    "order_id": "ord-1042"
  }
},
  consumed: {
  "consumed": true,
  "jti": "2c077145-acc2-4567-a766-564ed0ad2480",
  "request_id": "req_97b34e50-fbc0-423b-abae-a2badad08e54",
  "tool": "stripe_refund",
  "tool_args_hash": "6289b115f91a7b7463ef425cc58b2d9cc6b2bf36dff45ccfb4a5d4cc52c6b83c",
  "agent_id": "support-agent-7",
  "tenant_id": "t_4f2eef08fc1703ea8b31",
  "consumed_at": "2026-12-05T03:26:57.471Z"
},
  jwks: {
  "keys": [
    {
      "kty": "OKP",
      "crv": "Ed25519",
      "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
      "kid": "test-key-1",
      "use": "sig",
      "alg": "EdDSA"
    },
    {
      "kty": "OKP",
      "crv": "Ed25519",
      "x": "rlz0LlWxGdFWRDjmWscrimdsZzg-Siv4feItUGvITtA",
      "kid": "test-key-1.ledger",
      "use": "sig",
      "alg": "EdDSA"
    }
  ]
},
};

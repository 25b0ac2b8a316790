/**
 * Examples for /verify/token and the tenant key routes: answers a PGlite test vault gave (the refund
 * policy of test/helpers/vault.ts). test/integration/openapi.test.ts validates each against its schema.
 */
export const verificationExamples = {
  "request": {
    "token": "eyJhbGciOiJFZERTQSIsImtpZCI6InRlc3Qta2V5LTEudF9hYTg4ZjYyZWU3ZTI0ODk3ZjY5YSIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJhbGN2LXZhdWx0IiwiYXVkIjoibGVkZ2l4LXNkayIsInN1YiI6ImNsZWFyYW5jZSIsImlhdCI6MTc5NjUwNTY5NiwiZXhwIjoxNzk2NTA1OTk2LCJqdGkiOiIyODdkNjI5ZS1jMjY5LTRlMTEtYjVkYS0xMDAyMWExYjFmMjUiLCJ0b29sIjoic3RyaXBlX3JlZnVuZCIsInRvb2xfYXJnc19oYXNoIjoiNjI4OWIxMTVmOTFhN2I3NDYzZWY0MjVjYzU4YjJkOWNjNmIyYmYzNmRmZjQ1Y2NmYjRhNWQ0Y2M1MmM2YjgzYyIsImFnZW50X2lkIjoic3VwcG9ydC1hZ2VudC03Iiwic2Vzc2lvbl9pZCI6InNlc3MtODEiLCJwb2xpY3lfaWQiOiJyZWZ1bmQtcG9saWN5IiwiZGVjaXNpb24iOiJ5ZXMiLCJyZXF1ZXN0X2lkIjoicmVxXzU3OWFhMzdlLTA2NWEtNGM2MC1iZWM0LTc3YTZkNTRiMjhlYiIsInRlbmFudF9pZCI6InRfYWE4OGY2MmVlN2UyNDg5N2Y2OWEifQ.u88s8AnQQzIRqWVwhawlvQ1lLqOy5RQasvIUSgtMEiuoeQVuwchh3b3LtAJQ_Wnsf9gsbbZ-SEKdUO7D-PhECg",
    "expected_tenant_id": "t_aa88f62ee7e24897f69a",
    "expected_tool": "stripe_refund",
    "expected_tool_args": {
      "amount": 45,
      "currency": "usd",
      "order_id": "ord-1042"
    },
    "max_token_ttl_seconds": 300,
    "clock_skew_seconds": 30
  },
  "valid": {
    "valid": true,
    "code": null,
    "reason": null,
    "header": {
      "alg": "EdDSA",
      "kid": "test-key-1.t_aa88f62ee7e24897f69a",
      "typ": "JWT"
    },
    "claims": {
      "iss": "alcv-vault",
      "aud": "ledgix-sdk",
      "sub": "clearance",
      "iat": 1796505696,
      "exp": 1796505996,
      "jti": "287d629e-c269-4e11-b5da-10021a1b1f25",
      "tool": "stripe_refund",
      "tool_args_hash": "6289b115f91a7b7463ef425cc58b2d9cc6b2bf36dff45ccfb4a5d4cc52c6b83c",
      "agent_id": "support-agent-7",
      "session_id": "sess-81",
      "policy_id": "refund-policy",
      "decision": "yes",
      "request_id": "req_579aa37e-065a-4c60-bec4-77a6d54b28eb",
      "tenant_id": "t_aa88f62ee7e24897f69a"
    },
    "consumed": false
  },
  "invalid": {
    "valid": false,
    "code": "binding_mismatch",
    "reason": "the token is for tool stripe_refund",
    "header": {
      "alg": "EdDSA",
      "kid": "test-key-1.t_aa88f62ee7e24897f69a",
      "typ": "JWT"
    },
    "claims": null
  },
  "keySet": {
    "tenant_id": "t_aa88f62ee7e24897f69a",
    "keys": [
      {
        "kid": "test-key-1.t_aa88f62ee7e24897f69a.2",
        "alg": "EdDSA",
        "status": "active",
        "public_key_pem": "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAy/ilvh+iKAPnpmGOWUGsj6lSx77qRNoVEqwCSgtMojw=\n-----END PUBLIC KEY-----\n",
        "publicKeyPem": "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAy/ilvh+iKAPnpmGOWUGsj6lSx77qRNoVEqwCSgtMojw=\n-----END PUBLIC KEY-----\n",
        "public_jwk": {
          "kty": "OKP",
          "crv": "Ed25519",
          "x": "y_ilvh-iKAPnpmGOWUGsj6lSx77qRNoVEqwCSgtMojw",
          "kid": "test-key-1.t_aa88f62ee7e24897f69a.2",
          "use": "sig",
          "alg": "EdDSA"
        },
        "created_at": "2026-12-05T21:21:36.992Z",
        "retired_at": null,
        "published_until": null
      },
      {
        "kid": "test-key-1.t_aa88f62ee7e24897f69a",
        "alg": "EdDSA",
        "status": "previous",
        "public_key_pem": "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAoXd+aYRPLGDb0YsM9GUPa+WilH47HFQOv72mHU1m21o=\n-----END PUBLIC KEY-----\n",
        "publicKeyPem": "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAoXd+aYRPLGDb0YsM9GUPa+WilH47HFQOv72mHU1m21o=\n-----END PUBLIC KEY-----\n",
        "public_jwk": {
          "kty": "OKP",
          "crv": "Ed25519",
          "x": "oXd-aYRPLGDb0YsM9GUPa-WilH47HFQOv72mHU1m21o",
          "kid": "test-key-1.t_aa88f62ee7e24897f69a",
          "use": "sig",
          "alg": "EdDSA"
        },
        "created_at": "2026-12-05T21:21:36.938Z",
        "retired_at": "2026-12-05T21:21:36.992Z",
        "published_until": "2026-12-05T21:27:36.992Z"
      },
      {
        "kid": "test-key-1",
        "alg": "EdDSA",
        "status": "previous",
        "public_key_pem": "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n-----END PUBLIC KEY-----\n",
        "publicKeyPem": "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n-----END PUBLIC KEY-----\n",
        "public_jwk": {
          "kty": "OKP",
          "crv": "Ed25519",
          "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
          "kid": "test-key-1",
          "use": "sig",
          "alg": "EdDSA"
        },
        "created_at": "2026-12-05T21:21:33.948Z",
        "retired_at": null,
        "published_until": "2026-12-05T21:27:36.938Z"
      }
    ]
  },
  "rotated": {
    "tenant_id": "t_aa88f62ee7e24897f69a",
    "kid": "test-key-1.t_aa88f62ee7e24897f69a.2",
    "previous_kid": "test-key-1.t_aa88f62ee7e24897f69a"
  }
};

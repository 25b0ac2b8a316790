/**
 * Examples for the OpenAPI document: answers a vault really gave (PGlite, the refund policy of
 * test/helpers/vault.ts), so they show what clients get. test/integration/openapi.test.ts validates
 * each against its schema, and the same routes' live answers against the same schemas.
 */
export const clearanceExamples = {
  request: {
  "tool_name": "stripe_refund",
  "tool_args": {
    "amount": 45,
    "currency": "usd",
    "order_id": "ord-1042"
  },
  "agent_id": "support-agent-7",
  "session_id": "sess-81",
  "context": {
    "ticket": "ZD-48213"
  }
},
  approved: {
  "request_id": "req_97b34e50-fbc0-423b-abae-a2badad08e54",
  "status": "approved",
  "decision_status": "approved",
  "requires_manual_review": false,
  "token": "eyJhbGciOiJFZERTQSIsImtpZCI6InRlc3Qta2V5LTEiLCJ0eXAiOiJKV1QifQ.eyJpc3MiOiJhbGN2LXZhdWx0IiwiYXVkIjoibGVkZ2l4LXNkayIsInN1YiI6ImNsZWFyYW5jZSIsImlhdCI6MTc5NjQ0MTIxNywiZXhwIjoxNzk2NDQxNTE3LCJqdGkiOiIyYzA3NzE0NS1hY2MyLTQ1NjctYTc2Ni01NjRlZDBhZDI0ODAiLCJ0b29sIjoic3RyaXBlX3JlZnVuZCIsInRvb2xfYXJnc19oYXNoIjoiNjI4OWIxMTVmOTFhN2I3NDYzZWY0MjVjYzU4YjJkOWNjNmIyYmYzNmRmZjQ1Y2NmYjRhNWQ0Y2M1MmM2YjgzYyIsImFnZW50X2lkIjoic3VwcG9ydC1hZ2VudC03Iiwic2Vzc2lvbl9pZCI6InNlc3MtODEiLCJwb2xpY3lfaWQiOiJyZWZ1bmQtcG9saWN5IiwiZGVjaXNpb24iOiJ5ZXMiLCJyZXF1ZXN0X2lkIjoicmVxXzk3YjM0ZTUwLWZiYzAtNDIzYi1hYmFlLWEyYmFkYWQwOGU1NCIsInRlbmFudF9pZCI6InRfNGYyZWVmMDhmYzE3MDNlYThiMzEifQ.w2NkVs7ZFbi3aR0bGzxaNWcG_2Mk3QtQKF1acO9q2nK2BivSs9EywKvIrQ4iEXQunbYhQqLJ6UGUWE0RCsytBw",
  "token_expires_at": "2026-12-05T03:31:57.000Z",
  "reason": "Within the automatic limit",
  "reason_code": "condition_matched",
  "confidence_bucket": "extra_high",
  "minimum_confidence_bucket": "high",
  "policy_id": "refund-policy",
  "policy_version_id": "pv_d990eb25-78e9-4807-956f-e62c1a98ccc4",
  "decided_under_policy_version_id": "pv_d990eb25-78e9-4807-956f-e62c1a98ccc4",
  "policy_content_hash": "sha256:1306c8dfec658b8bee3f3f88f665b98d643fb890697dd0af4c74080ec1923c21",
  "matched_condition_ids": [
    "refund-policy/small"
  ],
  "citations": [],
  "evidence_chunks": [],
  "tool_name": "stripe_refund",
  "tool_args_hash": "6289b115f91a7b7463ef425cc58b2d9cc6b2bf36dff45ccfb4a5d4cc52c6b83c",
  "created_at": "2026-12-05T03:26:54.196Z",
  "decided_at": "2026-12-05T03:26:57.262Z",
  "approved": true,
  "confidence": 0.95,
  "minimum_confidence_score": 0.85
},
  processing: {
  "request_id": "req_3f0c2a71-5a8e-4d0b-9f61-0c7f5e2b9a14",
  "status": "processing",
  "decision_status": "denied",
  "requires_manual_review": false,
  "token": null,
  "token_expires_at": null,
  "reason": "Decision in progress",
  "reason_code": null,
  "confidence_bucket": "none",
  "minimum_confidence_bucket": "high",
  "policy_id": null,
  "policy_version_id": null,
  "decided_under_policy_version_id": null,
  "policy_content_hash": null,
  "matched_condition_ids": [],
  "citations": [],
  "evidence_chunks": [],
  "tool_name": "stripe_refund",
  "tool_args_hash": "6289b115f91a7b7463ef425cc58b2d9cc6b2bf36dff45ccfb4a5d4cc52c6b83c",
  "created_at": "2026-12-05T03:26:54.196Z",
  "decided_at": null,
  "approved": false,
  "confidence": 0,
  "minimum_confidence_score": 0.85
},
  pendingReview: {
  "request_id": "req_2c1df9f5-c76f-42f6-9aed-c5f0802d0ae1",
  "status": "pending_review",
  "decision_status": "approved_pending_review",
  "requires_manual_review": true,
  "token": null,
  "token_expires_at": null,
  "reason": "Refunds over $100 need a human",
  "reason_code": "condition_matched",
  "confidence_bucket": "extra_high",
  "minimum_confidence_bucket": "high",
  "policy_id": "refund-policy",
  "policy_version_id": "pv_d990eb25-78e9-4807-956f-e62c1a98ccc4",
  "decided_under_policy_version_id": "pv_d990eb25-78e9-4807-956f-e62c1a98ccc4",
  "policy_content_hash": "sha256:1306c8dfec658b8bee3f3f88f665b98d643fb890697dd0af4c74080ec1923c21",
  "matched_condition_ids": [
    "refund-policy/needs-human"
  ],
  "citations": [],
  "evidence_chunks": [],
  "tool_name": "stripe_refund",
  "tool_args_hash": "58d4f13e5f38523425779e984d0c0c4d73652d4f58fe9f42e20cf3315b2071d5",
  "created_at": "2026-12-05T03:26:57.300Z",
  "decided_at": "2026-12-05T03:26:57.333Z",
  "approved": false,
  "confidence": 0.95,
  "minimum_confidence_score": 0.85
},
};

/**
 * Examples for the OpenAPI document: answers a vault really gave (PGlite, the refund policy of
 * test/helpers/vault.ts), so they show what clients get. test/integration/openapi.test.ts validates
 * each against its schema, and the same routes' live answers against the same schemas.
 */
export const healthExamples = {
  readiness: {
  "status": "ready",
  "queue_depth": 0,
  "queue": {
    "kind": "memory",
    "local_depth": 0,
    "in_flight": 0
  },
  "judge": "in-process",
  "judge_failures": 0,
  "embedding_model": "offline/universal-sentence-encoder",
  "signing_kid": "test-key-1",
  "ledger_kid": "test-key-1.ledger",
  "ledger": {
    "interval_ms": 3600000,
    "anchor": "local",
    "last_tick_at": "2026-12-05T03:26:57.899Z",
    "tenants": {
      "t_4f2eef08fc1703ea8b31": {
        "tree_size": 5,
        "unsequenced_events": 0,
        "unexported_checkpoints": 0,
        "anchor_lag_seconds": 0
      }
    }
  }
},
  metrics: "# HELP countersign_tokens_consumed_total A-JWTs burned by /consume-token (committed)\n# TYPE countersign_tokens_consumed_total counter\ncountersign_tokens_consumed_total 1\n",
};

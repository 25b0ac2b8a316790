/**
 * Examples for the OpenAPI document: answers a vault really gave (PGlite, the refund policy of
 * test/helpers/vault.ts), so they show what clients get. test/integration/openapi.test.ts validates
 * each against its schema, and the same routes' live answers against the same schemas.
 */
export const ledgerExamples = {
  entries: {
  "entries": [
    {
      "seq": 1,
      "event_uuid": "4d3abf6c-6b73-80fd-b592-2ab4ac88dd64",
      "event_type": "clearance.approved",
      "request_id": "req_97b34e50-fbc0-423b-abae-a2badad08e54",
      "agent_id": "support-agent-7",
      "policy_id": "refund-policy",
      "intent_hash": "",
      "tool_name": "stripe_refund",
      "tool_args": {
        "amount": 45,
        "currency": "usd",
        "order_id": "ord-1042"
      },
      "reason": "Within the automatic limit",
      "citations": [],
      "evidence_chunks": [],
      "confidence": 0.95,
      "approved": true,
      "confidence_bucket": "extra_high",
      "decision_status": "approved",
      "accepted_at": "2026-12-05T03:26:57.263Z",
      "canonical_version": 3,
      "event_hash": "3aaace8bf1d9d59e98f3178722cbb6796c2b09fc00fba21e89495f6efa3225c4",
      "leaf_hash": "7a7359d1255cc40bf7a2cfb21051f6279241f773c7194cad10668ce57d53c707",
      "leaf_index": 0,
      "checkpoint_id": 1,
      "receipt_algorithm": "Ed25519",
      "receipt_key_id": "test-key-1.ledger",
      "receipt_signature": "pmToKHyuC6bLOJzns1HFwHQHXpYBqzya5fnb6IqBEh9dTiPdFZFUvmgTtAJcurbuNRgzaMh1YTKV3663a8J4Cw",
      "receipt_payload": "qGR0eXBlbWV2ZW50X3JlY2VpcHRndmVyc2lvbgFpbGVhZl9oYXNoeEA3YTczNTlkMTI1NWNjNDBiZjdhMmNmYjIxMDUxZjYyNzkyNDFmNzczYzcxOTRjYWQxMDY2OGNlNTdkNTNjNzA3amV2ZW50X2hhc2h4QDNhYWFjZThiZjFkOWQ1OWU5OGYzMTc4NzIyY2JiNjc5NmMyYjA5ZmMwMGZiYTIxZTg5NDk1ZjZlZmEzMjI1YzRqZXZlbnRfdXVpZHgkNGQzYWJmNmMtNmI3My04MGZkLWI1OTItMmFiNGFjODhkZDY0anJlcXVlc3RfaWR4KHJlcV85N2IzNGU1MC1mYmMwLTQyM2ItYWJhZS1hMmJhZGFkMDhlNTRrYWNjZXB0ZWRfYXR4GDIwMjYtMTItMDVUMDM6MjY6NTcuMjYzWm5yZWNlaXB0X2tleV9pZHF0ZXN0LWtleS0xLmxlZGdlcg",
      "rule_set_hash": "cbabb98ecb24529a1e07aeb3bccc3b5b80f71e8f2d6f85432ed1d843125cf54d",
      "matched_rule_ids": [
        "refund-policy/small"
      ],
      "eval_inputs_hash": "750082bff71aeed2b88131d05771c34b78e3fb51d03991edc9561df4d0ef7bf7",
      "eval_trace_hash": "e08e3325ebc1145708505f1087718a24ff72973a593873a484c85c83365b6022",
      "classifier_label": null,
      "classifier_confidence_bucket": null,
      "intent_hash_committed": "6289b115f91a7b7463ef425cc58b2d9cc6b2bf36dff45ccfb4a5d4cc52c6b83c"
    }
  ]
},
  checkpoints: {
  "checkpoints": [
    {
      "checkpoint_id": 1,
      "microblock_id": 1,
      "tree_size": 4,
      "root_hash": "2ea32415ab97999e434e94fda3f17695f0da8df803b6f3cc79bf1ffdc31c147f",
      "checkpoint_hash": "4c8c2d749b9211fcaf4c04bdb6f785e3e3932a181bd82b335a3c95913c9ced43",
      "prev_checkpoint_hash": "",
      "signature_algorithm": "Ed25519",
      "signer_key_id": "test-key-1.ledger",
      "checkpoint_signature": "VO4Y6mM532-CfMQuC6b8QGAEuEOzpdAz8fBJ5iEeTCapOlUo7023_KqaJO1mThnDO0pA68PcVI1QIJz9UKgkDA",
      "checkpoint_payload": "qWR0eXBlamNoZWNrcG9pbnRma2V5X2lkcXRlc3Qta2V5LTEubGVkZ2VyZ3ZlcnNpb24BaXJvb3RfaGFzaHhAMmVhMzI0MTVhYjk3OTk5ZTQzNGU5NGZkYTNmMTc2OTVmMGRhOGRmODAzYjZmM2NjNzliZjFmZmRjMzFjMTQ3ZmlzaWduZWRfYXR4GDIwMjYtMTItMDVUMDM6MjY6NTcuNTUxWml0cmVlX3NpemUEa21tZF9zZWNvbmRzGQ4QbmV4cG9ydF90YXJnZXRzgXg1ZmlsZTovLy90bXAvY3MtYW5jaG9ycy1HdWpDeEgvdF80ZjJlZWYwOGZjMTcwM2VhOGIzMS90cHJldl9jaGVja3BvaW50X2hhc2hg",
      "signed_at": "2026-12-05T03:26:57.551Z",
      "mmd_seconds": 3600,
      "export_target": "file:///tmp/cs-anchors-GujCxH/t_4f2eef08fc1703ea8b31/",
      "export_uri": "file:///tmp/cs-anchors-GujCxH/t_4f2eef08fc1703ea8b31/checkpoint",
      "export_status": "exported",
      "exported_at": "2026-12-05T03:26:57.721Z"
    },
    {
      "checkpoint_id": 2,
      "microblock_id": 2,
      "tree_size": 5,
      "root_hash": "a442bca7139b1df28a4bc09040b01e4a60b702a08b403ede5b426cb8eccc7c7a",
      "checkpoint_hash": "f73690b6d54f01664b7183fafc7a4aa44f84c53f9087e608839c1811789901d4",
      "prev_checkpoint_hash": "4c8c2d749b9211fcaf4c04bdb6f785e3e3932a181bd82b335a3c95913c9ced43",
      "signature_algorithm": "Ed25519",
      "signer_key_id": "test-key-1.ledger",
      "checkpoint_signature": "qSNvNtwFalN8r7HpMs05u37QknLyff2if5XO1nEca24CEflp39mHiyp9sEwNf3Tv256ZVSn8ddrGAUFA_NBeBw",
      "checkpoint_payload": "qWR0eXBlamNoZWNrcG9pbnRma2V5X2lkcXRlc3Qta2V5LTEubGVkZ2VyZ3ZlcnNpb24BaXJvb3RfaGFzaHhAYTQ0MmJjYTcxMzliMWRmMjhhNGJjMDkwNDBiMDFlNGE2MGI3MDJhMDhiNDAzZWRlNWI0MjZjYjhlY2NjN2M3YWlzaWduZWRfYXR4GDIwMjYtMTItMDVUMDM6MjY6NTcuNzY0Wml0cmVlX3NpemUFa21tZF9zZWNvbmRzGQ4QbmV4cG9ydF90YXJnZXRzgXg1ZmlsZTovLy90bXAvY3MtYW5jaG9ycy1HdWpDeEgvdF80ZjJlZWYwOGZjMTcwM2VhOGIzMS90cHJldl9jaGVja3BvaW50X2hhc2h4QDRjOGMyZDc0OWI5MjExZmNhZjRjMDRiZGI2Zjc4NWUzZTM5MzJhMTgxYmQ4MmIzMzVhM2M5NTkxM2M5Y2VkNDM",
      "signed_at": "2026-12-05T03:26:57.764Z",
      "mmd_seconds": 3600,
      "export_target": "file:///tmp/cs-anchors-GujCxH/t_4f2eef08fc1703ea8b31/",
      "export_uri": "file:///tmp/cs-anchors-GujCxH/t_4f2eef08fc1703ea8b31/checkpoint",
      "export_status": "exported",
      "exported_at": "2026-12-05T03:26:57.896Z"
    }
  ]
},
  inclusion: {
  "event_uuid": "4d3abf6c-6b73-80fd-b592-2ab4ac88dd64",
  "request_id": "req_97b34e50-fbc0-423b-abae-a2badad08e54",
  "event_hash": "3aaace8bf1d9d59e98f3178722cbb6796c2b09fc00fba21e89495f6efa3225c4",
  "leaf_hash": "7a7359d1255cc40bf7a2cfb21051f6279241f773c7194cad10668ce57d53c707",
  "leaf_index": 0,
  "tree_size": 5,
  "checkpoint": {
    "checkpoint_id": 2,
    "microblock_id": 2,
    "tree_size": 5,
    "root_hash": "a442bca7139b1df28a4bc09040b01e4a60b702a08b403ede5b426cb8eccc7c7a",
    "checkpoint_hash": "f73690b6d54f01664b7183fafc7a4aa44f84c53f9087e608839c1811789901d4",
    "prev_checkpoint_hash": "4c8c2d749b9211fcaf4c04bdb6f785e3e3932a181bd82b335a3c95913c9ced43",
    "signature_algorithm": "Ed25519",
    "signer_key_id": "test-key-1.ledger",
    "checkpoint_signature": "qSNvNtwFalN8r7HpMs05u37QknLyff2if5XO1nEca24CEflp39mHiyp9sEwNf3Tv256ZVSn8ddrGAUFA_NBeBw",
    "checkpoint_payload": "qWR0eXBlamNoZWNrcG9pbnRma2V5X2lkcXRlc3Qta2V5LTEubGVkZ2VyZ3ZlcnNpb24BaXJvb3RfaGFzaHhAYTQ0MmJjYTcxMzliMWRmMjhhNGJjMDkwNDBiMDFlNGE2MGI3MDJhMDhiNDAzZWRlNWI0MjZjYjhlY2NjN2M3YWlzaWduZWRfYXR4GDIwMjYtMTItMDVUMDM6MjY6NTcuNzY0Wml0cmVlX3NpemUFa21tZF9zZWNvbmRzGQ4QbmV4cG9ydF90YXJnZXRzgXg1ZmlsZTovLy90bXAvY3MtYW5jaG9ycy1HdWpDeEgvdF80ZjJlZWYwOGZjMTcwM2VhOGIzMS90cHJldl9jaGVja3BvaW50X2hhc2h4QDRjOGMyZDc0OWI5MjExZmNhZjRjMDRiZGI2Zjc4NWUzZTM5MzJhMTgxYmQ4MmIzMzVhM2M5NTkxM2M5Y2VkNDM",
    "signed_at": "2026-12-05T03:26:57.764Z",
    "mmd_seconds": 3600,
    "export_target": "file:///tmp/cs-anchors-GujCxH/t_4f2eef08fc1703ea8b31/",
    "export_uri": "file:///tmp/cs-anchors-GujCxH/t_4f2eef08fc1703ea8b31/checkpoint",
    "export_status": "exported",
    "exported_at": "2026-12-05T03:26:57.896Z"
  },
  "path": [
    "eb104a75f6fdd0c1c2e4c98c86e28db71253917dc41812f9760fee5b633809ee",
    "38f606bcf0e510a46ba6873dffa64fdcc3d9e03fb6caecb4104c3368624320a3",
    "76f52450e259424fa3e4f8b3030f233438f7d96325a1c4814d80a7e254068d13"
  ]
},
  consistency: {
  "from_checkpoint": {
    "checkpoint_id": 1,
    "microblock_id": 1,
    "tree_size": 4,
    "root_hash": "2ea32415ab97999e434e94fda3f17695f0da8df803b6f3cc79bf1ffdc31c147f",
    "checkpoint_hash": "4c8c2d749b9211fcaf4c04bdb6f785e3e3932a181bd82b335a3c95913c9ced43",
    "prev_checkpoint_hash": "",
    "signature_algorithm": "Ed25519",
    "signer_key_id": "test-key-1.ledger",
    "checkpoint_signature": "VO4Y6mM532-CfMQuC6b8QGAEuEOzpdAz8fBJ5iEeTCapOlUo7023_KqaJO1mThnDO0pA68PcVI1QIJz9UKgkDA",
    "checkpoint_payload": "qWR0eXBlamNoZWNrcG9pbnRma2V5X2lkcXRlc3Qta2V5LTEubGVkZ2VyZ3ZlcnNpb24BaXJvb3RfaGFzaHhAMmVhMzI0MTVhYjk3OTk5ZTQzNGU5NGZkYTNmMTc2OTVmMGRhOGRmODAzYjZmM2NjNzliZjFmZmRjMzFjMTQ3ZmlzaWduZWRfYXR4GDIwMjYtMTItMDVUMDM6MjY6NTcuNTUxWml0cmVlX3NpemUEa21tZF9zZWNvbmRzGQ4QbmV4cG9ydF90YXJnZXRzgXg1ZmlsZTovLy90bXAvY3MtYW5jaG9ycy1HdWpDeEgvdF80ZjJlZWYwOGZjMTcwM2VhOGIzMS90cHJldl9jaGVja3BvaW50X2hhc2hg",
    "signed_at": "2026-12-05T03:26:57.551Z",
    "mmd_seconds": 3600,
    "export_target": "file:///tmp/cs-anchors-GujCxH/t_4f2eef08fc1703ea8b31/",
    "export_uri": "file:///tmp/cs-anchors-GujCxH/t_4f2eef08fc1703ea8b31/checkpoint",
    "export_status": "exported",
    "exported_at": "2026-12-05T03:26:57.721Z"
  },
  "to_checkpoint": {
    "checkpoint_id": 2,
    "microblock_id": 2,
    "tree_size": 5,
    "root_hash": "a442bca7139b1df28a4bc09040b01e4a60b702a08b403ede5b426cb8eccc7c7a",
    "checkpoint_hash": "f73690b6d54f01664b7183fafc7a4aa44f84c53f9087e608839c1811789901d4",
    "prev_checkpoint_hash": "4c8c2d749b9211fcaf4c04bdb6f785e3e3932a181bd82b335a3c95913c9ced43",
    "signature_algorithm": "Ed25519",
    "signer_key_id": "test-key-1.ledger",
    "checkpoint_signature": "qSNvNtwFalN8r7HpMs05u37QknLyff2if5XO1nEca24CEflp39mHiyp9sEwNf3Tv256ZVSn8ddrGAUFA_NBeBw",
    "checkpoint_payload": "qWR0eXBlamNoZWNrcG9pbnRma2V5X2lkcXRlc3Qta2V5LTEubGVkZ2VyZ3ZlcnNpb24BaXJvb3RfaGFzaHhAYTQ0MmJjYTcxMzliMWRmMjhhNGJjMDkwNDBiMDFlNGE2MGI3MDJhMDhiNDAzZWRlNWI0MjZjYjhlY2NjN2M3YWlzaWduZWRfYXR4GDIwMjYtMTItMDVUMDM6MjY6NTcuNzY0Wml0cmVlX3NpemUFa21tZF9zZWNvbmRzGQ4QbmV4cG9ydF90YXJnZXRzgXg1ZmlsZTovLy90bXAvY3MtYW5jaG9ycy1HdWpDeEgvdF80ZjJlZWYwOGZjMTcwM2VhOGIzMS90cHJldl9jaGVja3BvaW50X2hhc2h4QDRjOGMyZDc0OWI5MjExZmNhZjRjMDRiZGI2Zjc4NWUzZTM5MzJhMTgxYmQ4MmIzMzVhM2M5NTkxM2M5Y2VkNDM",
    "signed_at": "2026-12-05T03:26:57.764Z",
    "mmd_seconds": 3600,
    "export_target": "file:///tmp/cs-anchors-GujCxH/t_4f2eef08fc1703ea8b31/",
    "export_uri": "file:///tmp/cs-anchors-GujCxH/t_4f2eef08fc1703ea8b31/checkpoint",
    "export_status": "exported",
    "exported_at": "2026-12-05T03:26:57.896Z"
  },
  "path": [
    "76f52450e259424fa3e4f8b3030f233438f7d96325a1c4814d80a7e254068d13"
  ]
},
  bundle: {
  "event": {
    "seq": 1,
    "event_uuid": "4d3abf6c-6b73-80fd-b592-2ab4ac88dd64",
    "event_type": "clearance.approved",
    "request_id": "req_97b34e50-fbc0-423b-abae-a2badad08e54",
    "agent_id": "support-agent-7",
    "policy_id": "refund-policy",
    "intent_hash": "",
    "tool_name": "stripe_refund",
    "tool_args": {
      "amount": 45,
      "currency": "usd",
      "order_id": "ord-1042"
    },
    "reason": "Within the automatic limit",
    "citations": [],
    "evidence_chunks": [],
    "confidence": 0.95,
    "approved": true,
    "confidence_bucket": "extra_high",
    "decision_status": "approved",
    "accepted_at": "2026-12-05T03:26:57.263Z",
    "canonical_version": 3,
    "event_hash": "3aaace8bf1d9d59e98f3178722cbb6796c2b09fc00fba21e89495f6efa3225c4",
    "leaf_hash": "7a7359d1255cc40bf7a2cfb21051f6279241f773c7194cad10668ce57d53c707",
    "leaf_index": 0,
    "checkpoint_id": 1,
    "receipt_algorithm": "Ed25519",
    "receipt_key_id": "test-key-1.ledger",
    "receipt_signature": "pmToKHyuC6bLOJzns1HFwHQHXpYBqzya5fnb6IqBEh9dTiPdFZFUvmgTtAJcurbuNRgzaMh1YTKV3663a8J4Cw",
    "receipt_payload": "qGR0eXBlbWV2ZW50X3JlY2VpcHRndmVyc2lvbgFpbGVhZl9oYXNoeEA3YTczNTlkMTI1NWNjNDBiZjdhMmNmYjIxMDUxZjYyNzkyNDFmNzczYzcxOTRjYWQxMDY2OGNlNTdkNTNjNzA3amV2ZW50X2hhc2h4QDNhYWFjZThiZjFkOWQ1OWU5OGYzMTc4NzIyY2JiNjc5NmMyYjA5ZmMwMGZiYTIxZTg5NDk1ZjZlZmEzMjI1YzRqZXZlbnRfdXVpZHgkNGQzYWJmNmMtNmI3My04MGZkLWI1OTItMmFiNGFjODhkZDY0anJlcXVlc3RfaWR4KHJlcV85N2IzNGU1MC1mYmMwLTQyM2ItYWJhZS1hMmJhZGFkMDhlNTRrYWNjZXB0ZWRfYXR4GDIwMjYtMTItMDVUMDM6MjY6NTcuMjYzWm5yZWNlaXB0X2tleV9pZHF0ZXN0LWtleS0xLmxlZGdlcg",
    "rule_set_hash": "cbabb98ecb24529a1e07aeb3bccc3b5b80f71e8f2d6f85432ed1d843125cf54d",
    "matched_rule_ids": [
      "refund-policy/small"
    ],
    "eval_inputs_hash": "750082bff71aeed2b88131d05771c34b78e3fb51d03991edc9561df4d0ef7bf7",
    "eval_trace_hash": "e08e3325ebc1145708505f1087718a24ff72973a593873a484c85c83365b6022",
    "classifier_label": null,
    "classifier_confidence_bucket": null,
    "intent_hash_committed": "6289b115f91a7b7463ef425cc58b2d9cc6b2bf36dff45ccfb4a5d4cc52c6b83c"
  },
  "inclusion": {
    "event_uuid": "4d3abf6c-6b73-80fd-b592-2ab4ac88dd64",
    "request_id": "req_97b34e50-fbc0-423b-abae-a2badad08e54",
    "event_hash": "3aaace8bf1d9d59e98f3178722cbb6796c2b09fc00fba21e89495f6efa3225c4",
    "leaf_hash": "7a7359d1255cc40bf7a2cfb21051f6279241f773c7194cad10668ce57d53c707",
    "leaf_index": 0,
    "tree_size": 5,
    "checkpoint": {
      "checkpoint_id": 2,
      "microblock_id": 2,
      "tree_size": 5,
      "root_hash": "a442bca7139b1df28a4bc09040b01e4a60b702a08b403ede5b426cb8eccc7c7a",
      "checkpoint_hash": "f73690b6d54f01664b7183fafc7a4aa44f84c53f9087e608839c1811789901d4",
      "prev_checkpoint_hash": "4c8c2d749b9211fcaf4c04bdb6f785e3e3932a181bd82b335a3c95913c9ced43",
      "signature_algorithm": "Ed25519",
      "signer_key_id": "test-key-1.ledger",
      "checkpoint_signature": "qSNvNtwFalN8r7HpMs05u37QknLyff2if5XO1nEca24CEflp39mHiyp9sEwNf3Tv256ZVSn8ddrGAUFA_NBeBw",
      "checkpoint_payload": "qWR0eXBlamNoZWNrcG9pbnRma2V5X2lkcXRlc3Qta2V5LTEubGVkZ2VyZ3ZlcnNpb24BaXJvb3RfaGFzaHhAYTQ0MmJjYTcxMzliMWRmMjhhNGJjMDkwNDBiMDFlNGE2MGI3MDJhMDhiNDAzZWRlNWI0MjZjYjhlY2NjN2M3YWlzaWduZWRfYXR4GDIwMjYtMTItMDVUMDM6MjY6NTcuNzY0Wml0cmVlX3NpemUFa21tZF9zZWNvbmRzGQ4QbmV4cG9ydF90YXJnZXRzgXg1ZmlsZTovLy90bXAvY3MtYW5jaG9ycy1HdWpDeEgvdF80ZjJlZWYwOGZjMTcwM2VhOGIzMS90cHJldl9jaGVja3BvaW50X2hhc2h4QDRjOGMyZDc0OWI5MjExZmNhZjRjMDRiZGI2Zjc4NWUzZTM5MzJhMTgxYmQ4MmIzMzVhM2M5NTkxM2M5Y2VkNDM",
      "signed_at": "2026-12-05T03:26:57.764Z",
      "mmd_seconds": 3600,
      "export_target": "file:///tmp/cs-anchors-GujCxH/t_4f2eef08fc1703ea8b31/",
      "export_uri": "file:///tmp/cs-anchors-GujCxH/t_4f2eef08fc1703ea8b31/checkpoint",
      "export_status": "exported",
      "exported_at": "2026-12-05T03:26:57.896Z"
    },
    "path": [
      "eb104a75f6fdd0c1c2e4c98c86e28db71253917dc41812f9760fee5b633809ee",
      "38f606bcf0e510a46ba6873dffa64fdcc3d9e03fb6caecb4104c3368624320a3",
      "76f52450e259424fa3e4f8b3030f233438f7d96325a1c4814d80a7e254068d13"
    ]
  },
  "keys": [
    {
      "key_id": "test-key-1.ledger",
      "algorithm": "Ed25519",
      "public_jwk": "eyJrdHkiOiJPS1AiLCJjcnYiOiJFZDI1NTE5IiwieCI6InJsejBMbFd4R2RGV1JEam1Xc2NyaW1kc1p6Zy1TaXY0ZmVJdFVHdklUdEEiLCJraWQiOiJ0ZXN0LWtleS0xLmxlZGdlciIsInVzZSI6InNpZyIsImFsZyI6IkVkRFNBIn0",
      "active_from": "2026-12-05T03:26:40.809Z",
      "attestation_payload": "",
      "attestation_signature": "",
      "attestation_key_id": "",
      "attestation_status": ""
    }
  ],
  "consistency": {
    "from_checkpoint": {
      "checkpoint_id": 1,
      "microblock_id": 1,
      "tree_size": 4,
      "root_hash": "2ea32415ab97999e434e94fda3f17695f0da8df803b6f3cc79bf1ffdc31c147f",
      "checkpoint_hash": "4c8c2d749b9211fcaf4c04bdb6f785e3e3932a181bd82b335a3c95913c9ced43",
      "prev_checkpoint_hash": "",
      "signature_algorithm": "Ed25519",
      "signer_key_id": "test-key-1.ledger",
      "checkpoint_signature": "VO4Y6mM532-CfMQuC6b8QGAEuEOzpdAz8fBJ5iEeTCapOlUo7023_KqaJO1mThnDO0pA68PcVI1QIJz9UKgkDA",
      "checkpoint_payload": "qWR0eXBlamNoZWNrcG9pbnRma2V5X2lkcXRlc3Qta2V5LTEubGVkZ2VyZ3ZlcnNpb24BaXJvb3RfaGFzaHhAMmVhMzI0MTVhYjk3OTk5ZTQzNGU5NGZkYTNmMTc2OTVmMGRhOGRmODAzYjZmM2NjNzliZjFmZmRjMzFjMTQ3ZmlzaWduZWRfYXR4GDIwMjYtMTItMDVUMDM6MjY6NTcuNTUxWml0cmVlX3NpemUEa21tZF9zZWNvbmRzGQ4QbmV4cG9ydF90YXJnZXRzgXg1ZmlsZTovLy90bXAvY3MtYW5jaG9ycy1HdWpDeEgvdF80ZjJlZWYwOGZjMTcwM2VhOGIzMS90cHJldl9jaGVja3BvaW50X2hhc2hg",
      "signed_at": "2026-12-05T03:26:57.551Z",
      "mmd_seconds": 3600,
      "export_target": "file:///tmp/cs-anchors-GujCxH/t_4f2eef08fc1703ea8b31/",
      "export_uri": "file:///tmp/cs-anchors-GujCxH/t_4f2eef08fc1703ea8b31/checkpoint",
      "export_status": "exported",
      "exported_at": "2026-12-05T03:26:57.721Z"
    },
    "to_checkpoint": {
      "checkpoint_id": 2,
      "microblock_id": 2,
      "tree_size": 5,
      "root_hash": "a442bca7139b1df28a4bc09040b01e4a60b702a08b403ede5b426cb8eccc7c7a",
      "checkpoint_hash": "f73690b6d54f01664b7183fafc7a4aa44f84c53f9087e608839c1811789901d4",
      "prev_checkpoint_hash": "4c8c2d749b9211fcaf4c04bdb6f785e3e3932a181bd82b335a3c95913c9ced43",
      "signature_algorithm": "Ed25519",
      "signer_key_id": "test-key-1.ledger",
      "checkpoint_signature": "qSNvNtwFalN8r7HpMs05u37QknLyff2if5XO1nEca24CEflp39mHiyp9sEwNf3Tv256ZVSn8ddrGAUFA_NBeBw",
      "checkpoint_payload": "qWR0eXBlamNoZWNrcG9pbnRma2V5X2lkcXRlc3Qta2V5LTEubGVkZ2VyZ3ZlcnNpb24BaXJvb3RfaGFzaHhAYTQ0MmJjYTcxMzliMWRmMjhhNGJjMDkwNDBiMDFlNGE2MGI3MDJhMDhiNDAzZWRlNWI0MjZjYjhlY2NjN2M3YWlzaWduZWRfYXR4GDIwMjYtMTItMDVUMDM6MjY6NTcuNzY0Wml0cmVlX3NpemUFa21tZF9zZWNvbmRzGQ4QbmV4cG9ydF90YXJnZXRzgXg1ZmlsZTovLy90bXAvY3MtYW5jaG9ycy1HdWpDeEgvdF80ZjJlZWYwOGZjMTcwM2VhOGIzMS90cHJldl9jaGVja3BvaW50X2hhc2h4QDRjOGMyZDc0OWI5MjExZmNhZjRjMDRiZGI2Zjc4NWUzZTM5MzJhMTgxYmQ4MmIzMzVhM2M5NTkxM2M5Y2VkNDM",
      "signed_at": "2026-12-05T03:26:57.764Z",
      "mmd_seconds": 3600,
      "export_target": "file:///tmp/cs-anchors-GujCxH/t_4f2eef08fc1703ea8b31/",
      "export_uri": "file:///tmp/cs-anchors-GujCxH/t_4f2eef08fc1703ea8b31/checkpoint",
      "export_status": "exported",
      "exported_at": "2026-12-05T03:26:57.896Z"
    },
    "path": [
      "76f52450e259424fa3e4f8b3030f233438f7d96325a1c4814d80a7e254068d13"
    ]
  },
  "c2sp_checkpoint": "vm/ledger/t_4f2eef08fc1703ea8b31\n5\npEK8pxObHfKKS8CQQLAeSmC3AqCLQD7eW0JsuOzMfHo=\n\n— vm/ledger/t_4f2eef08fc1703ea8b31 8tYxmCvZPE7//tSJw87oEvHwrT2ROydR//ZneAdGshswRd43dBnp4MysZ6jJNjDFg4k3qmBgOlQ2BUlExZLrsriQ8wU=\n",
  "c2sp_verifier_key": "vm/ledger/t_4f2eef08fc1703ea8b31+f2d63198+Aa5c9C5VsRnRVkQ45lrHK4pnbGc4Pkor+H3iLVBryE7Q"
},
  tlogProof: "c2sp.org/tlog-proof@v1\nindex 0\n6xBKdfb90MHC5MmMhuKNtxJTkX3EGBL5dg/uW2M4Ce4=\nOPYGvPDlEKRrpoc9/6ZP3MPZ4D+2yuy0EEwzaGJDIKM=\ndvUkUOJZQk+j5PizAw8jNDj32WMlocSBTYCn4lQGjRM=\n\nvm/ledger/t_4f2eef08fc1703ea8b31\n5\npEK8pxObHfKKS8CQQLAeSmC3AqCLQD7eW0JsuOzMfHo=\n\n— vm/ledger/t_4f2eef08fc1703ea8b31 8tYxmCvZPE7//tSJw87oEvHwrT2ROydR//ZneAdGshswRd43dBnp4MysZ6jJNjDFg4k3qmBgOlQ2BUlExZLrsriQ8wU=\n",
  note: "vm/ledger/t_4f2eef08fc1703ea8b31\n5\npEK8pxObHfKKS8CQQLAeSmC3AqCLQD7eW0JsuOzMfHo=\n\n— vm/ledger/t_4f2eef08fc1703ea8b31 8tYxmCvZPE7//tSJw87oEvHwrT2ROydR//ZneAdGshswRd43dBnp4MysZ6jJNjDFg4k3qmBgOlQ2BUlExZLrsriQ8wU=\n",
  verifierKey: "vm/ledger/t_4f2eef08fc1703ea8b31+f2d63198+Aa5c9C5VsRnRVkQ45lrHK4pnbGc4Pkor+H3iLVBryE7Q",
};

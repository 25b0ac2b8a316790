/**
 * Examples for the OpenAPI document of the execution routes (src/http/routes/token-execution.ts), in
 * the shape a vault answers (test/integration/token-execution.test.ts checks live answers against the
 * same schemas); test/integration/openapi.test.ts validates each against its schema.
 */
export const tokenExecutionExamples = {
  reportRequest: {
    status: 200,
    duration_ms: 12,
    response_sha256: "9f2c0a5e4b0d3c1f8e7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e",
  },
  reported: {
    jti: "ee8dd418-fd35-4946-adcc-84bc54e644c0",
    request_id: "req_97b34e50-fbc0-423b-abae-a2badad08e54",
    tool: "stripe_refund",
    status: 200,
    outcome: "succeeded",
    duration_ms: 12,
    response_sha256: "9f2c0a5e4b0d3c1f8e7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e",
    detail: null,
    reported_at: "2026-12-05T21:40:12.345Z",
    reported_by: "key_5f0c1d2e3a4b5c6d",
    replayed: false,
  },
  unreported: {
    tokens: [
      {
        jti: "2c077145-acc2-4567-a766-564ed0ad2480",
        request_id: "req_1ed03dec-13dc-49fe-998c-06819c5b2b2e",
        tool: "stripe_refund",
        agent_id: "support-agent-7",
        consumed_at: "2026-12-05T21:02:41.120Z",
        consumed_by: "key_5f0c1d2e3a4b5c6d",
      },
    ],
    next_cursor: null,
    timeout_seconds: 300,
  },
  closeRequest: { note: "Checked with the payments team: the refund went through" },
  closed: {
    jti: "2c077145-acc2-4567-a766-564ed0ad2480",
    request_id: "req_1ed03dec-13dc-49fe-998c-06819c5b2b2e",
    tool: "stripe_refund",
    status: null,
    outcome: "unknown",
    duration_ms: null,
    response_sha256: null,
    detail: "Checked with the payments team: the refund went through",
    reported_at: "2026-12-05T21:45:03.918Z",
    reported_by: "key_8a1b2c3d4e5f6a7b",
    closed_by: "Ada Lovelace (rvw_0c9e4f3a-6b2d-4d8e-a1f7-5e3b2c1d0a9f)",
    replayed: false,
  },
};

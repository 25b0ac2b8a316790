/**
 * Field types and sizes of POST /request-clearance and POST /mint-token, and the mint-token
 * refusals for an unknown, pending or differently-argued original request.
 *
 * Part of the bad-input suite (test/integration/bad-input/): every error is RFC 9457 problem+json
 * with a stable `code` from the catalog, bad input always gets a 4xx, never a 5xx or a crash, and
 * unknown fields are ignored only where the protocol asks (§6.11). This file starts its own vault on PGlite; every response's
 * status is recorded, and the last tests check that none was a 5xx and that the vault still answers.
 */
import { describe, expect, it } from "vitest";
import { describeClosingChecks, useBadInputVault } from "./suite-lifecycle.js";
import { long } from "./hostile-payloads.js";
import { expectFieldError, expectProblem } from "./problem-assertions.js";

const suite = useBadInputVault();

// ---------------------------------------------------------------------------------------------
// Field types and sizes, per endpoint
// ---------------------------------------------------------------------------------------------

describe("POST /request-clearance field validation", () => {
  const cases: { field: string; value: unknown }[] = [
    { field: "tool_name", value: 5 },
    { field: "tool_name", value: null },
    { field: "tool_name", value: "" },
    { field: "tool_name", value: true },
    { field: "tool_name", value: {} },
    { field: "tool_name", value: ["stripe_refund"] },
    { field: "tool_name", value: long(257) },
    { field: "tool_args", value: [] },
    { field: "tool_args", value: "x" },
    { field: "tool_args", value: 5 },
    { field: "tool_args", value: null },
    { field: "tool_args", value: true },
    { field: "agent_id", value: 5 },
    { field: "agent_id", value: long(257) },
    { field: "session_id", value: {} },
    { field: "session_id", value: long(257) },
    { field: "context", value: "x" },
    { field: "context", value: [] },
    { field: "human_principal", value: 5 },
    { field: "human_principal", value: long(513) },
    { field: "parent_jti", value: long(257) },
    { field: "destination_uri", value: long(2049) },
    { field: "destination_provider", value: [] },
    { field: "data_categories", value: "pii" },
    { field: "data_categories", value: [1] },
    { field: "data_categories", value: Array.from({ length: 101 }, (_, i) => `c${i}`) },
    { field: "data_categories", value: [long(129)] },
    { field: "purpose", value: long(513) },
    { field: "dataset_ref", value: false },
  ];
  it.each(cases)("$field = $value -> 400 validation_failed", async ({ field, value }) => {
    const body = { tool_name: "stripe_refund", tool_args: { amount: 5 }, [field]: value };
    expectFieldError(await suite.vault.http("POST", "/request-clearance", { key: suite.vault.agentKey, body }), field);
  });

  it("strings at their maximum length are accepted", async () => {
    const body = { tool_name: long(256), agent_id: long(256), session_id: long(256), human_principal: long(512), destination_uri: long(2048) };
    expect((await suite.vault.http("POST", "/request-clearance", { key: suite.vault.agentKey, body })).status).toBe(200);
  });

  it("omitted optional fields get their defaults", async () => {
    const res = await suite.vault.http("POST", "/request-clearance", { key: suite.vault.agentKey, body: { tool_name: "stripe_refund" } });
    expect(res.status).toBe(200);
  });
});

describe("POST /mint-token field validation", () => {
  const cases: { field: string; value: unknown }[] = [
    { field: "tool_name", value: 5 },
    { field: "tool_name", value: "" },
    { field: "tool_name", value: long(257) },
    { field: "tool_args", value: [] },
    { field: "tool_args", value: "x" },
    { field: "original_request_id", value: 5 },
    { field: "original_request_id", value: "" },
    { field: "original_request_id", value: null },
    { field: "original_request_id", value: long(257) },
    { field: "agent_id", value: long(257) },
    { field: "session_id", value: 5 },
    { field: "policy_id", value: [] },
    { field: "policy_version_id", value: long(257) },
    { field: "policy_content_hash", value: {} },
  ];
  it.each(cases)("$field = $value -> 400 validation_failed", async ({ field, value }) => {
    const body = { tool_name: "stripe_refund", tool_args: { amount: 5 }, original_request_id: suite.vault.approved.request_id, [field]: value };
    expectFieldError(await suite.vault.http("POST", "/mint-token", { key: suite.vault.agentKey, body }), field);
  });

  it("an unknown original_request_id -> 404 request_not_found", async () => {
    const body = { tool_name: "stripe_refund", tool_args: { amount: 5 }, original_request_id: "req_does_not_exist" };
    expectProblem(await suite.vault.http("POST", "/mint-token", { key: suite.vault.agentKey, body }), 404, "request_not_found");
  });

  it("a pending original request -> 409 approval_not_reusable", async () => {
    const body = { tool_name: "unlisted_tool", tool_args: { n: 1 }, original_request_id: suite.vault.pendingId };
    expectProblem(await suite.vault.http("POST", "/mint-token", { key: suite.vault.agentKey, body }), 409, "approval_not_reusable");
  });

  it("other arguments than the approved ones -> 409 approval_not_reusable", async () => {
    const body = { tool_name: "stripe_refund", tool_args: { amount: 5000 }, original_request_id: suite.vault.approved.request_id };
    expectProblem(await suite.vault.http("POST", "/mint-token", { key: suite.vault.agentKey, body }), 409, "approval_not_reusable");
  });
});

describeClosingChecks(suite, 45);

/**
 * Values PostgreSQL text or canonical JSON cannot hold (NUL characters, lone surrogates,
 * non-finite numbers) on every endpoint that takes a body: handled with a 2xx or a 4xx, never a 5xx.
 *
 * Part of the bad-input suite (test/integration/bad-input/): every error is RFC 9457 problem+json
 * with a stable `code` from the catalog, bad input always gets a 4xx, never a 5xx or a crash, and
 * unknown fields are ignored only where the protocol asks (§6.11). This file starts its own vault on PGlite; every response's
 * status is recorded, and the last tests check that none was a 5xx and that the vault still answers.
 */
import { describe, expect, it } from "vitest";
import { describeClosingChecks, useBadInputVault } from "./suite-lifecycle.js";
import type { Json } from "./hostile-payloads.js";
import { expectHandled } from "./problem-assertions.js";

const suite = useBadInputVault();

// ---------------------------------------------------------------------------------------------
// Values PostgreSQL text or canonical JSON cannot hold
// ---------------------------------------------------------------------------------------------

describe("NUL characters, lone surrogates and non-finite numbers -> handled (2xx or 4xx), never a 5xx", () => {
  const clearance: { label: string; raw: () => string }[] = [
    { label: "NUL in tool_name", raw: () => JSON.stringify({ tool_name: "stripe\u0000refund" }) },
    { label: "NUL in agent_id", raw: () => JSON.stringify({ tool_name: "stripe_refund", agent_id: "a\u0000" }) },
    { label: "NUL in session_id", raw: () => JSON.stringify({ tool_name: "stripe_refund", session_id: "\u0000" }) },
    { label: "NUL in human_principal", raw: () => JSON.stringify({ tool_name: "stripe_refund", human_principal: "\u0000" }) },
    { label: "NUL in parent_jti", raw: () => JSON.stringify({ tool_name: "stripe_refund", parent_jti: "\u0000" }) },
    { label: "NUL in context.policy_id", raw: () => JSON.stringify({ tool_name: "stripe_refund", context: { policy_id: "p\u0000" } }) },
    { label: "NUL in a tool_args key and value", raw: () => JSON.stringify({ tool_name: "stripe_refund", tool_args: { "a\u0000": "\u0000" } }) },
    { label: "NUL in data_categories", raw: () => JSON.stringify({ tool_name: "stripe_refund", data_categories: ["\u0000"] }) },
    { label: "a lone surrogate in tool_name", raw: () => '{"tool_name":"a\\ud800"}' },
    { label: "1e400 in tool_args", raw: () => '{"tool_name":"stripe_refund","tool_args":{"amount":1e400}}' },
    { label: "-1e400 in context", raw: () => '{"tool_name":"stripe_refund","context":{"x":-1e400}}' },
  ];
  it.each(clearance)("POST /request-clearance with $label", async ({ raw }) => {
    expectHandled(await suite.vault.http("POST", "/request-clearance", { key: suite.vault.agentKey, rawBody: raw() }));
  });

  it("POST /reviews/:id/decision with NUL in review_reason", async () => {
    const id = await suite.vault.freshPending();
    expectHandled(await suite.vault.http("POST", `/reviews/${id}/decision`, { key: suite.vault.reviewerKey, body: { approved: false, review_reason: "no\u0000" } }));
  });

  const mint: { label: string; raw: () => string }[] = [
    { label: "NUL in session_id", raw: () => JSON.stringify({ tool_name: "stripe_refund", tool_args: { amount: 5 }, original_request_id: suite.vault.approved.request_id, session_id: "s\u0000" }) },
    { label: "NUL in original_request_id", raw: () => JSON.stringify({ tool_name: "stripe_refund", original_request_id: "req_\u0000" }) },
    { label: "1e400 in tool_args", raw: () => `{"tool_name":"stripe_refund","tool_args":{"amount":1e400},"original_request_id":"${suite.vault.approved.request_id}"}` },
  ];
  it.each(mint)("POST /mint-token with $label", async ({ raw }) => {
    expectHandled(await suite.vault.http("POST", "/mint-token", { key: suite.vault.agentKey, rawBody: raw() }));
  });

  it("POST /consume-token of a real token with 1e400 in tool_args", async () => {
    const token = await suite.vault.freshToken();
    const res = await suite.vault.http("POST", "/consume-token", { key: suite.vault.agentKey, rawBody: `{"token":"${token}","tool_args":{"amount":1e400}}` });
    expectHandled(res);
    expect(res.status, "arguments that cannot be the approved ones must not burn the token").not.toBe(200);
  });

  it("POST /consume-token of a real token with NUL in tool_name", async () => {
    const token = await suite.vault.freshToken();
    expectHandled(await suite.vault.http("POST", "/consume-token", { key: suite.vault.agentKey, body: { token, tool_name: "stripe\u0000refund" } }));
  });

  const policy: { label: string; body: () => Json }[] = [
    { label: "NUL in a tool", body: () => suite.vault.policyDoc(undefined, { tools: ["policy_test_tool\u0000"] }) },
    { label: "NUL in description", body: () => suite.vault.policyDoc(undefined, { description: "d\u0000" }) },
    { label: "NUL in a rule", body: () => suite.vault.policyDoc(undefined, { rules: ["r\u0000"] }) },
    { label: "NUL in a condition reason", body: () => suite.vault.policyDoc(undefined, { conditions: [{ id: "c", when: "args.n > 1", decision: "deny", reason: "\u0000" }] }) },
  ];
  it.each(policy)("POST /register-policy with $label", async ({ body }) => {
    expectHandled(await suite.vault.http("POST", "/register-policy", { key: suite.vault.adminKey, body: body() }));
  });
});

describeClosingChecks(suite, 25);

/**
 * Idempotency-Key misuse: replays, a reused key with another body, malformed keys (including
 * control characters fetch refuses to send) and keys shared across tenants.
 *
 * Part of the bad-input suite (test/integration/bad-input/): every error is RFC 9457 problem+json
 * with a stable `code` from the catalog, bad input always gets a 4xx, never a 5xx or a crash, and
 * unknown fields are ignored only where the protocol asks (§6.11). This file starts its own vault on PGlite; every response's
 * status is recorded, and the last tests check that none was a 5xx and that the vault still answers.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { describeClosingChecks, useBadInputVault } from "./suite-lifecycle.js";
import { rawRequest, type Json } from "./hostile-payloads.js";
import { expectProblem } from "./problem-assertions.js";

const suite = useBadInputVault();

// ---------------------------------------------------------------------------------------------
// Idempotency-Key
// ---------------------------------------------------------------------------------------------

describe("Idempotency-Key", () => {
  const idemEndpoints: { name: string; path: string; key: () => string; first: () => Json; second: () => Json }[] = [
    {
      name: "/request-clearance",
      path: "/request-clearance",
      key: () => suite.vault.agentKey,
      first: () => ({ tool_name: "stripe_refund", tool_args: { amount: 5 } }),
      second: () => ({ tool_name: "stripe_refund", tool_args: { amount: 6 } }),
    },
    {
      name: "/register-policy",
      path: "/register-policy",
      key: () => suite.vault.adminKey,
      first: () => suite.vault.policyDoc("idem-policy"),
      second: () => suite.vault.policyDoc("idem-policy", { description: "changed" }),
    },
    {
      name: "/mint-token",
      path: "/mint-token",
      key: () => suite.vault.agentKey,
      first: () => ({ tool_name: "stripe_refund", tool_args: { amount: 5 }, original_request_id: suite.vault.approved.request_id, session_id: "s1" }),
      second: () => ({ tool_name: "stripe_refund", tool_args: { amount: 5 }, original_request_id: suite.vault.approved.request_id, session_id: "s2" }),
    },
  ];

  it.each(idemEndpoints)("$name: same key and body replays; a different body -> 422 idempotency_key_reused", async (ep) => {
    const idem = `idem-${randomUUID()}`;
    const a = await suite.vault.http("POST", ep.path, { key: ep.key(), body: ep.first(), headers: { "idempotency-key": idem } });
    expect(a.status, JSON.stringify(a.body).slice(0, 300)).toBe(200);
    const b = await suite.vault.http("POST", ep.path, { key: ep.key(), body: ep.first(), headers: { "idempotency-key": idem } });
    expect(b.status).toBe(200);
    expect(b.body).toEqual(a.body);
    expectProblem(
      await suite.vault.http("POST", ep.path, { key: ep.key(), body: ep.second(), headers: { "idempotency-key": idem } }),
      422,
      "idempotency_key_reused",
    );
  });

  const badIdem: [string, string][] = [
    ["300 characters", "k".repeat(300)],
    ["256 characters", "k".repeat(256)],
    ["an empty value", ""],
    ["a tab", "a\tb"],
    ["a space", "a b"],
    ["a Latin-1 character", "caf\u00e9"],
  ];
  describe.each(idemEndpoints)("$name", (ep) => {
    it.each(badIdem)("an Idempotency-Key with %s -> 400 bad_request", async (_label, idem) => {
      const body = ep === idemEndpoints[1] ? suite.vault.policyDoc() : ep.first();
      expectProblem(await suite.vault.http("POST", ep.path, { key: ep.key(), body, headers: { "idempotency-key": idem } }), 400, "bad_request");
    });

    it("a 255-character Idempotency-Key is accepted", async () => {
      const body = ep === idemEndpoints[1] ? suite.vault.policyDoc() : ep.first();
      const res = await suite.vault.http("POST", ep.path, { key: ep.key(), body, headers: { "idempotency-key": `${randomUUID()}${"k".repeat(219)}` } });
      expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
    });
  });

  it.each([
    ["\\x01", "a\u0001b"],
    ["ESC", "a\u001bb"],
    ["DEL", "a\u007fb"],
  ])("an Idempotency-Key with the control character %s -> 400 problem+json", async (_label, idem) => {
    const body = JSON.stringify({ tool_name: "stripe_refund", tool_args: { amount: 5 } });
    const res = await suite.vault.rawHttp(
      `POST /request-clearance (Idempotency-Key with control character)`,
      rawRequest(
        "POST",
        "/request-clearance",
        { "Content-Type": "application/json", "X-Vault-API-Key": suite.vault.agentKey, "Idempotency-Key": idem, "Content-Length": String(Buffer.byteLength(body)) },
        body,
      ),
    );
    expectProblem(res, 400);
  });

  it("the same Idempotency-Key in another tenant is independent", async () => {
    const idem = `idem-${randomUUID()}`;
    const a = await suite.vault.http("POST", "/request-clearance", { key: suite.vault.agentKey, body: { tool_name: "stripe_refund", tool_args: { amount: 5 } }, headers: { "idempotency-key": idem } });
    expect(a.status).toBe(200);
    const b = await suite.vault.http("POST", "/request-clearance", { key: suite.vault.otherTenantAdminKey, body: { tool_name: "other_tool" }, headers: { "idempotency-key": idem } });
    expect(b.status).toBe(200);
    expect(b.body.request_id).not.toBe(a.body.request_id);
  });
});

describeClosingChecks(suite, 35);

/**
 * Authentication on the GET endpoints, scopes, public endpoints, and that a key never reaches
 * another tenant's data.
 *
 * Part of the bad-input suite (test/integration/bad-input/): every error is RFC 9457 problem+json
 * with a stable `code` from the catalog, bad input always gets a 4xx, never a 5xx or a crash, and
 * unknown fields are ignored only where the protocol asks (§6.11). This file starts its own vault on PGlite; every response's
 * status is recorded, and the last tests check that none was a 5xx and that the vault still answers.
 */
import { describe, expect, it } from "vitest";
import { describeClosingChecks, useBadInputVault } from "./suite-lifecycle.js";
import { badApiKeys } from "./hostile-payloads.js";
import { expectProblem } from "./problem-assertions.js";

const suite = useBadInputVault();

// ---------------------------------------------------------------------------------------------
// Authentication on the GET endpoints, scopes, public endpoints
// ---------------------------------------------------------------------------------------------

describe("GET /clearance-status authentication", () => {
  it.each(badApiKeys)("$label -> 401 unauthorized", async ({ key }) => {
    const k = key(suite.vault.adminKey);
    expectProblem(
      await suite.vault.http("GET", `/clearance-status/${suite.vault.approved.request_id}`, { key: k, headers: k === "" ? { "x-vault-api-key": "" } : {} }),
      401,
      "unauthorized",
    );
  });
});

describe("scopes", () => {
  it("an agent key may not register policies -> 403 insufficient_scope", async () => {
    expectProblem(await suite.vault.http("POST", "/register-policy", { key: suite.vault.agentKey, body: suite.vault.policyDoc() }), 403, "insufficient_scope");
  });

  it("a reviewer key may not register policies -> 403 insufficient_scope", async () => {
    expectProblem(await suite.vault.http("POST", "/register-policy", { key: suite.vault.reviewerKey, body: suite.vault.policyDoc() }), 403, "insufficient_scope");
  });

  it("an agent key may not approve -> 403 insufficient_scope, and the request stays pending", async () => {
    const id = await suite.vault.freshPending();
    expectProblem(await suite.vault.http("POST", `/reviews/${id}/decision`, { key: suite.vault.agentKey, body: { approved: true } }), 403, "insufficient_scope");
    expect((await suite.vault.http("GET", `/clearance-status/${id}`, { key: suite.vault.agentKey })).body.status).toBe("pending_review");
  });

  it("an agent key may cancel (approved: false)", async () => {
    const id = await suite.vault.freshPending();
    const res = await suite.vault.http("POST", `/reviews/${id}/decision`, { key: suite.vault.agentKey, body: { approved: false } });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("denied");
  });

  it("a reviewer key may not request clearance -> 403 insufficient_scope", async () => {
    expectProblem(
      await suite.vault.http("POST", "/request-clearance", { key: suite.vault.reviewerKey, body: { tool_name: "stripe_refund", tool_args: { amount: 5 } } }),
      403,
      "insufficient_scope",
    );
  });

  it("a reviewer key may not consume -> 403 insufficient_scope, and the token is not burned", async () => {
    const token = await suite.vault.freshToken();
    expectProblem(await suite.vault.http("POST", "/consume-token", { key: suite.vault.reviewerKey, body: { token } }), 403, "insufficient_scope");
    expect((await suite.vault.http("POST", "/consume-token", { key: suite.vault.agentKey, body: { token } })).status).toBe(200);
  });

  it("a reviewer key may not mint -> 403 insufficient_scope", async () => {
    const body = { tool_name: "stripe_refund", tool_args: { amount: 5 }, original_request_id: suite.vault.approved.request_id };
    expectProblem(await suite.vault.http("POST", "/mint-token", { key: suite.vault.reviewerKey, body }), 403, "insufficient_scope");
  });
});

describe("public endpoints", () => {
  it.each([undefined, "csk_garbage"])("GET /.well-known/jwks.json with key %s -> 200", async (key) => {
    const res = await suite.vault.http("GET", "/.well-known/jwks.json", { key });
    expect(res.status).toBe(200);
    expect(res.body.keys).toEqual(expect.arrayContaining([expect.objectContaining({ kid: suite.vault.tokenHeader.kid, alg: "EdDSA" })]));
  });

  it.each(["/healthz", "/readyz"])("GET %s without a key -> 200", async (path) => {
    expect((await suite.vault.http("GET", path)).status).toBe(200);
  });
});

// ---------------------------------------------------------------------------------------------
// Tenancy
// ---------------------------------------------------------------------------------------------

describe("a key never reaches another tenant's data", () => {
  it("another tenant cannot read the request -> 404 request_not_found", async () => {
    expectProblem(await suite.vault.http("GET", `/clearance-status/${suite.vault.approved.request_id}`, { key: suite.vault.otherTenantAdminKey }), 404, "request_not_found");
    expectProblem(await suite.vault.http("GET", `/clearance-status/${suite.vault.pendingId}`, { key: suite.vault.otherTenantAdminKey }), 404, "request_not_found");
  });

  it("another tenant cannot cancel or approve the request -> 404, and it stays pending", async () => {
    expectProblem(await suite.vault.http("POST", `/reviews/${suite.vault.pendingId}/decision`, { key: suite.vault.otherTenantAdminKey, body: { approved: false } }), 404, "request_not_found");
    expectProblem(await suite.vault.http("POST", `/reviews/${suite.vault.pendingId}/decision`, { key: suite.vault.otherTenantAdminKey, body: { approved: true } }), 404, "request_not_found");
    const res = await suite.vault.http("GET", `/clearance-status/${suite.vault.pendingId}`, { key: suite.vault.agentKey });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("pending_review");
  });

  it("another tenant cannot mint from the approval -> 404 request_not_found", async () => {
    const body = { tool_name: "stripe_refund", tool_args: { amount: 5 }, original_request_id: suite.vault.approved.request_id };
    expectProblem(await suite.vault.http("POST", "/mint-token", { key: suite.vault.otherTenantAdminKey, body }), 404, "request_not_found");
  });

  it("another tenant cannot consume the token -> 403 tenant_mismatch, and it stays unburned", async () => {
    const token = await suite.vault.freshToken();
    expectProblem(await suite.vault.http("POST", "/consume-token", { key: suite.vault.otherTenantAdminKey, body: { token } }), 403, "tenant_mismatch");
    expect((await suite.vault.http("POST", "/consume-token", { key: suite.vault.agentKey, body: { token } })).status).toBe(200);
  });

  it("the owner still reads its request", async () => {
    const res = await suite.vault.http("GET", `/clearance-status/${suite.vault.approved.request_id}`, { key: suite.vault.agentKey });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("approved");
  });
});

describeClosingChecks(suite, 30);

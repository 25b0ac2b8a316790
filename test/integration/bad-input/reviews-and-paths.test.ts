/**
 * Field validation of POST /reviews/:request_id/decision, hostile ids in paths, routing of
 * unknown routes, wrong methods and doubled slashes, and requests the HTTP parser itself refuses.
 *
 * Part of the bad-input suite (test/integration/bad-input/): every error is RFC 9457 problem+json
 * with a stable `code` from the catalog, bad input always gets a 4xx, never a 5xx or a crash, and
 * unknown fields are ignored only where the protocol asks (§6.11). This file starts its own vault on PGlite; every response's
 * status is recorded, and the last tests check that none was a 5xx and that the vault still answers.
 */
import { describe, expect, it } from "vitest";
import { describeClosingChecks, useBadInputVault } from "./suite-lifecycle.js";
import { long, rawRequest } from "./hostile-payloads.js";
import { expectClientProblem, expectFieldError, expectProblem } from "./problem-assertions.js";

const suite = useBadInputVault();

describe("POST /reviews/:request_id/decision field validation", () => {
  const cases: { field: string; value: unknown }[] = [
    { field: "approved", value: "yes" },
    { field: "approved", value: "true" },
    { field: "approved", value: 1 },
    { field: "approved", value: 0 },
    { field: "approved", value: null },
    { field: "approved", value: [] },
    { field: "review_reason", value: 5 },
    { field: "review_reason", value: {} },
    { field: "review_reason", value: long(2001) },
  ];
  it.each(cases)("$field = $value -> 400 validation_failed", async ({ field, value }) => {
    const body = { approved: false, review_reason: "no", [field]: value };
    expectFieldError(await suite.vault.http("POST", `/reviews/${suite.vault.pendingId}/decision`, { key: suite.vault.reviewerKey, body }), field);
  });

  it("the request is still pending after all the rejected decisions", async () => {
    const res = await suite.vault.http("GET", `/clearance-status/${suite.vault.pendingId}`, { key: suite.vault.agentKey });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("pending_review");
  });
});

// ---------------------------------------------------------------------------------------------
// Hostile ids in paths
// ---------------------------------------------------------------------------------------------

describe("GET /clearance-status/:request_id with hostile ids", () => {
  it.each([
    ["an unknown id", "req_does_not_exist"],
    ["a 256-character id", "r".repeat(256)],
    ["an encoded slash and space", "req%2F%201"],
    ["an encoded traversal", "..%2F..%2Fhealthz"],
    ["an emoji", "%F0%9F%92%A9"],
    ["SQL", encodeURIComponent("' OR '1'='1'; DROP TABLE clearance_requests; --")],
    ["a query string", "req_does_not_exist?x=1&x=2"],
  ])("%s -> 404 request_not_found", async (_label, id) => {
    expectProblem(await suite.vault.http("GET", `/clearance-status/${id}`, { key: suite.vault.agentKey }), 404, "request_not_found");
  });

  it.each([
    ["a 257-character id", "r".repeat(257)],
    ["a 300-character id", "r".repeat(300)],
  ])("%s -> 400 validation_failed", async (_label, id) => {
    expectProblem(await suite.vault.http("GET", `/clearance-status/${id}`, { key: suite.vault.agentKey }), 400, "validation_failed");
  });

  it.each([
    ["a 301-character id (over the router's param limit)", "r".repeat(301)],
    ["a 5,000-character id", "r".repeat(5000)],
    ["an encoded NUL", "req%00x"],
    ["a broken percent-encoding", "%E0%A4%A"],
    ["a lone percent sign", "req%"],
    ["an encoded lone surrogate", "%ED%A0%80"],
  ])("%s -> a 4xx problem", async (_label, id) => {
    expectClientProblem(await suite.vault.http("GET", `/clearance-status/${id}`, { key: suite.vault.agentKey }));
  });

  it("encoded dots (sent raw: fetch would resolve them away) -> 404 request_not_found", async () => {
    const res = await suite.vault.rawHttp("GET /clearance-status/%2e%2e", rawRequest("GET", "/clearance-status/%2e%2e", { "X-Vault-API-Key": suite.vault.agentKey }));
    expectProblem(res, 404, "request_not_found");
  });

  it("the missing id -> 404", async () => {
    expectProblem(await suite.vault.http("GET", "/clearance-status/", { key: suite.vault.agentKey }), 404);
  });
});

describe("POST /reviews/:request_id/decision with hostile ids", () => {
  it("an unknown id -> 404 request_not_found", async () => {
    expectProblem(await suite.vault.http("POST", "/reviews/req_does_not_exist/decision", { key: suite.vault.reviewerKey, body: { approved: true } }), 404, "request_not_found");
  });

  it("an unknown id with an agent key cancelling -> 404 request_not_found", async () => {
    expectProblem(await suite.vault.http("POST", "/reviews/req_does_not_exist/decision", { key: suite.vault.agentKey, body: { approved: false } }), 404, "request_not_found");
  });

  it("a 257-character id -> 400 validation_failed", async () => {
    expectProblem(await suite.vault.http("POST", `/reviews/${"r".repeat(257)}/decision`, { key: suite.vault.reviewerKey, body: { approved: true } }), 400, "validation_failed");
  });

  it.each([
    ["an encoded NUL", "req%00x"],
    ["a broken percent-encoding", "%E0%A4%A"],
    ["a 301-character id", "r".repeat(301)],
  ])("%s -> a 4xx problem", async (_label, id) => {
    expectClientProblem(await suite.vault.http("POST", `/reviews/${id}/decision`, { key: suite.vault.reviewerKey, body: { approved: false } }));
  });

  it("an already decided request -> 409 request_not_pending", async () => {
    const id = await suite.vault.freshPending();
    expect((await suite.vault.http("POST", `/reviews/${id}/decision`, { key: suite.vault.reviewerKey, body: { approved: false } })).status).toBe(200);
    expectProblem(await suite.vault.http("POST", `/reviews/${id}/decision`, { key: suite.vault.reviewerKey, body: { approved: true } }), 409, "request_not_pending");
  });
});

// ---------------------------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------------------------

describe("routing", () => {
  it.each([
    ["GET", "/nope", undefined],
    ["POST", "/nope", { a: 1 }],
    ["GET", "/index.html", undefined],
    ["GET", "/REQUEST-CLEARANCE", undefined],
    ["GET", "/.well-known/", undefined],
    ["GET", "/reviews/x/decision/extra", undefined],
  ] as const)("%s %s -> 404 not_found", async (method, path, body) => {
    expectProblem(await suite.vault.http(method, path, { key: suite.vault.agentKey, body }), 404, "not_found");
  });

  it("GET /reviews/{id} is for reviewers: 403 for an agent key, 404 request_not_found for an unknown id", async () => {
    expectProblem(await suite.vault.http("GET", "/reviews/x", { key: suite.vault.agentKey }), 403, "insufficient_scope");
    expectProblem(await suite.vault.http("GET", "/reviews/x", { key: suite.vault.reviewerKey }), 404, "request_not_found");
  });

  it.each([
    ["GET", "/request-clearance", undefined],
    ["GET", "/consume-token", undefined],
    ["GET", "/reviews/x/decision", undefined],
    ["PUT", "/request-clearance", { tool_name: "stripe_refund" }],
    ["PATCH", "/register-policy", { policy_id: "x" }],
    ["POST", "/clearance-status/x", { a: 1 }],
    ["POST", "/healthz", { a: 1 }],
    ["DELETE", "/request-clearance", undefined],
    ["DELETE", "/clearance-status/x", undefined],
  ] as const)("wrong method %s %s -> 404 or 405 problem", async (method, path, body) => {
    const res = await suite.vault.http(method, path, { key: suite.vault.agentKey, body });
    expectClientProblem(res, [404, 405]);
  });

  it.each(["//request-clearance", "///request-clearance", "/request-clearance/"])("POST %s is routed like /request-clearance", async (path) => {
    const res = await suite.vault.http("POST", path, { key: suite.vault.agentKey, body: { tool_name: "stripe_refund", tool_args: { amount: 5 } } });
    expect(res.status, JSON.stringify(res.body).slice(0, 200)).toBe(200);
    expect(res.body.status).toBe("approved");
  });

  it("GET //clearance-status/:id is routed", async () => {
    const res = await suite.vault.http("GET", `//clearance-status/${suite.vault.approved.request_id}`, { key: suite.vault.agentKey });
    expect(res.status).toBe(200);
    expect(res.body.request_id).toBe(suite.vault.approved.request_id);
  });

  it("POST //register-policy and //consume-token are routed", async () => {
    expect((await suite.vault.http("POST", "//register-policy", { key: suite.vault.adminKey, body: suite.vault.policyDoc() })).status).toBe(200);
    expect((await suite.vault.http("POST", "//consume-token", { key: suite.vault.agentKey, body: { token: await suite.vault.freshToken() } })).status).toBe(200);
  });

  it("GET //healthz and //.well-known/jwks.json are routed", async () => {
    expect((await suite.vault.http("GET", "//healthz")).status).toBe(200);
    expect((await suite.vault.http("GET", "//.well-known/jwks.json")).status).toBe(200);
  });
});

// ---------------------------------------------------------------------------------------------
// Requests the HTTP parser itself refuses
// ---------------------------------------------------------------------------------------------

describe("requests refused before routing are still problem+json", () => {
  it("a header section over the server's limit (20 KiB API key) -> 4xx problem", async () => {
    const res = await suite.vault.http("GET", "/clearance-status/req_x", { key: "k".repeat(20_000) });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.headers.get("content-type") ?? "").toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ status: res.status, code: expect.any(String), title: expect.any(String), detail: expect.any(String) });
  });

  it("a non-numeric Content-Length -> 400 problem", async () => {
    const res = await suite.vault.rawHttp(
      "POST /request-clearance (bad content-length)",
      rawRequest("POST", "/request-clearance", { "Content-Type": "application/json", "X-Vault-API-Key": suite.vault.agentKey, "Content-Length": "abc" }, "{}"),
    );
    expectProblem(res, 400);
  });
});

describeClosingChecks(suite, 60);

/**
 * Policy documents (POST/GET/DELETE /policies/{id}/documents) and review settings
 * (GET/PUT /review-settings) under hostile input.
 *
 * Part of the bad-input suite (test/integration/bad-input/): every error is RFC 9457 problem+json
 * with a stable `code` from the catalog, bad input always gets a 4xx, never a 5xx or a crash.
 * This file starts its own vault on PGlite; the last tests check that no response was a 5xx.
 */
import { describe, expect, it } from "vitest";
import { long } from "./hostile-payloads.js";
import { expectClientProblem, expectFieldError, expectProblem } from "./problem-assertions.js";
import { describeClosingChecks, useBadInputVault } from "./suite-lifecycle.js";

const suite = useBadInputVault();
const docs = "/policies/refund-policy/documents";

describe("POST /policies/{id}/documents", () => {
  const good = { title: "Handbook", content: "# Refunds\n\nRefunds need a receipt.", media_type: "text/markdown" };
  const cases: { field: string; value: unknown }[] = [
    { field: "title", value: 5 },
    { field: "title", value: "" },
    { field: "title", value: "   " },
    { field: "title", value: long(301) },
    { field: "content", value: 5 },
    { field: "content", value: "" },
    { field: "content", value: " \n\t " },
    { field: "content", value: ["a"] },
    { field: "content", value: long(512 * 1024 + 1) },
    { field: "media_type", value: "application/pdf" },
    { field: "media_type", value: null },
  ];
  it.each(cases)("$field = $value -> 400 validation_failed", async ({ field, value }) => {
    expectFieldError(await suite.vault.http("POST", docs, { key: suite.vault.adminKey, body: { ...good, [field]: value } }), field);
  });

  it.each([
    ["an unknown field", { ...good, extra: 1 }],
    ["an array", [good]],
    ["a string", "just text"],
    ["null", null],
  ])("a JSON body that is %s -> 400", async (_label, body) => {
    expectProblem(await suite.vault.http("POST", docs, { key: suite.vault.adminKey, body }), 400);
  });

  it("a document that is only headings has nothing to index -> 400", async () => {
    expectProblem(await suite.vault.http("POST", docs, { key: suite.vault.adminKey, body: { ...good, content: "# A\n## B\n" } }), 400, "validation_failed");
  });

  it("NUL characters in the text -> 400, nothing stored", async () => {
    const before = (await suite.vault.http("GET", docs, { key: suite.vault.adminKey })).body.documents.length;
    expectClientProblem(await suite.vault.http("POST", docs, { key: suite.vault.adminKey, body: { ...good, content: "Refunds\u0000 need a receipt." } }));
    expectClientProblem(
      await suite.vault.http("POST", `${docs}?title=x`, { key: suite.vault.adminKey, rawBody: "nul \u0000 here", headers: { "content-type": "text/plain" } }),
    );
    expect((await suite.vault.http("GET", docs, { key: suite.vault.adminKey })).body.documents).toHaveLength(before);
  });

  it.each([
    ["an unknown policy", "/policies/no-such-policy/documents", 404, "policy_not_found"],
    ["an over-long policy id", `/policies/${long(129)}/documents`, 400, "validation_failed"],
  ] as const)("%s -> %i %s", async (_label, path, status, code) => {
    expectProblem(await suite.vault.http("POST", path, { key: suite.vault.adminKey, body: good }), status, code);
  });

  it("an unsupported content type -> 415, a title over 300 characters in the query -> 400", async () => {
    expectProblem(await suite.vault.http("POST", docs, { key: suite.vault.adminKey, rawBody: "<p>x</p>", headers: { "content-type": "text/html" } }), 415);
    const res = await suite.vault.http("POST", `${docs}?title=${long(301)}`, { key: suite.vault.adminKey, rawBody: "text", headers: { "content-type": "text/plain" } });
    expectFieldError(res, "title");
  });

  it("agent, reviewer and other-tenant keys cannot attach documents", async () => {
    expectProblem(await suite.vault.http("POST", docs, { key: suite.vault.agentKey, body: good }), 403, "insufficient_scope");
    expectProblem(await suite.vault.http("POST", docs, { key: suite.vault.reviewerKey, body: good }), 403, "insufficient_scope");
    // Tenants are isolated: the other tenant has no policy of that name.
    expectProblem(await suite.vault.http("POST", docs, { key: suite.vault.otherTenantAdminKey, body: good }), 404, "policy_not_found");
    expectProblem(await suite.vault.http("POST", docs, { body: good }), 401, "unauthorized");
  });

  it("DELETE of an unknown or malformed document id -> 404 / 400", async () => {
    expectProblem(await suite.vault.http("DELETE", `${docs}/doc_nope`, { key: suite.vault.adminKey }), 404, "document_not_found");
    expectProblem(await suite.vault.http("DELETE", `${docs}/${long(101)}`, { key: suite.vault.adminKey }), 400, "validation_failed");
    expectProblem(await suite.vault.http("DELETE", "/policies/no-such-policy/documents/doc_x", { key: suite.vault.adminKey }), 404, "policy_not_found");
  });
});

describe("/review-settings", () => {
  it.each([["maybe"], [5], [null], ["HIGH"], [""]])("minimum_confidence_bucket = %s -> 400 validation_failed", async (value) => {
    expectFieldError(await suite.vault.http("PUT", "/review-settings", { key: suite.vault.adminKey, body: { minimum_confidence_bucket: value } }), "minimum_confidence_bucket");
  });

  it("unknown fields, a missing field or a non-object body -> 400, and the setting is unchanged", async () => {
    for (const body of [{ minimum_confidence_bucket: "low", extra: true }, {}, ["low"], "low"]) {
      expectProblem(await suite.vault.http("PUT", "/review-settings", { key: suite.vault.adminKey, body }), 400);
    }
    expect((await suite.vault.http("GET", "/review-settings", { key: suite.vault.adminKey })).body).toMatchObject({ minimum_confidence_bucket: "high", approvals_required: 1, groups: [] });
  });

  it.each([
    ["approvals_required", 0],
    ["approvals_required", 21],
    ["approvals_required", "2"],
    ["approvals_required", 1.5],
    ["groups", [{ name: "a" }, { name: "a" }]],
    ["groups", [{ name: "", approvals_required: 1 }]],
    ["groups", [{ name: "a", approvals_required: 1, extra: 1 }]],
    ["groups", "finance"],
    ["reviewers", []],
    ["reviewers", [5]],
    ["expiry_seconds", 0],
    ["expiry_seconds", 1e12],
    ["reminder_after_seconds", -1],
    ["escalate_after_seconds", "soon"],
  ] as const)("review rules: %s = %j -> 400 validation_failed", async (field, value) => {
    const res = await suite.vault.http("PUT", "/review-settings", { key: suite.vault.adminKey, body: { minimum_confidence_bucket: "high", [field]: value } });
    expectProblem(res, 400, "validation_failed");
    const policy = await suite.vault.http("PUT", "/review-settings?policy_id=refund-policy", { key: suite.vault.adminKey, body: { [field]: value } });
    expectProblem(policy, 400, "validation_failed");
  });

  it("a policy override takes rules only; DELETE needs a policy_id", async () => {
    const v = suite.vault;
    expectProblem(await v.http("PUT", "/review-settings?policy_id=refund-policy", { key: v.adminKey, body: { minimum_confidence_bucket: "low" } }), 400, "validation_failed");
    expectProblem(await v.http("PUT", `/review-settings?policy_id=${"p".repeat(129)}`, { key: v.adminKey, body: {} }), 400, "validation_failed");
    expectProblem(await v.http("DELETE", "/review-settings", { key: v.adminKey }), 400, "bad_request");
  });

  it("only admins change it; reviewers may read it; agents may not", async () => {
    const body = { minimum_confidence_bucket: "low" };
    expectProblem(await suite.vault.http("PUT", "/review-settings", { key: suite.vault.agentKey, body }), 403, "insufficient_scope");
    expectProblem(await suite.vault.http("PUT", "/review-settings", { key: suite.vault.reviewerKey, body }), 403, "insufficient_scope");
    expectProblem(await suite.vault.http("GET", "/review-settings", { key: suite.vault.agentKey }), 403, "insufficient_scope");
    expect((await suite.vault.http("GET", "/review-settings", { key: suite.vault.reviewerKey })).status).toBe(200);
  });
});

describeClosingChecks(suite, 30);

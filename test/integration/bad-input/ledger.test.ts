/**
 * The ledger read endpoints under hostile input: bad numbers, unknown ids, other tenants' requests,
 * wrong keys. Part of the bad-input suite: every error is problem+json with a catalog code, never
 * a 5xx. This file starts its own vault on PGlite; the last tests check that no response was a 5xx.
 */
import { describe, expect, it } from "vitest";
import { long } from "./hostile-payloads.js";
import { expectClientProblem, expectProblem } from "./problem-assertions.js";
import { describeClosingChecks, useBadInputVault } from "./suite-lifecycle.js";

const suite = useBadInputVault();

const badCounts = ["abc", "-1", "0", "1.5", "1e3", "", " 1", "0x10", "99999999999999999", "1001", "%00", "[]"];

describe("GET /ledger and /ledger/checkpoints", () => {
  it.each(badCounts)("limit=%s -> 400 validation_failed", async (limit) => {
    const v = suite.vault;
    expectProblem(await v.http("GET", `/ledger?limit=${encodeURIComponent(limit)}`, { key: v.agentKey }), 400, "validation_failed");
    expectProblem(await v.http("GET", `/ledger/checkpoints?limit=${encodeURIComponent(limit)}`, { key: v.agentKey }), 400, "validation_failed");
  });

  it.each(["after_leaf_index=-5", "after_leaf_index=x", "order=up", "redact=yes", "after_id=1.5"])("%s -> 400", async (query) => {
    const v = suite.vault;
    const path = query.startsWith("after_id") ? "/ledger/checkpoints" : "/ledger";
    expectProblem(await v.http("GET", `${path}?${query}`, { key: v.agentKey }), 400, "validation_failed");
  });

  it("a repeated parameter is refused, not silently picked", async () => {
    const v = suite.vault;
    expectClientProblem(await v.http("GET", "/ledger?limit=1&limit=2", { key: v.agentKey }));
  });

  it("needs a key, and a wrong key is 401", async () => {
    const v = suite.vault;
    expectProblem(await v.http("GET", "/ledger"), 401, "unauthorized");
    expectProblem(await v.http("GET", "/ledger/checkpoint", { key: "csk_nope" }), 401, "unauthorized");
  });

  it("another tenant sees none of this tenant's events", async () => {
    const v = suite.vault;
    await v.testVault.vault.ctx.ledgerLoop.drain();
    const own = await v.http("GET", "/ledger", { key: v.agentKey });
    expect(own.status).toBe(200);
    expect(own.body.entries.length).toBeGreaterThan(0);
    const other = await v.http("GET", "/ledger", { key: v.otherTenantAdminKey });
    expect(other.status).toBe(200);
    expect(other.body.entries).toEqual([]);
    expectProblem(await v.http("GET", `/ledger/proof/bundle?request_id=${v.approved.request_id}`, { key: v.otherTenantAdminKey }), 404, "ledger_event_not_found");
  });
});

describe("GET /ledger/proof/*", () => {
  it.each(["inclusion", "bundle", "tlog"])("%s without request_id, or with an empty or oversized one -> 400", async (kind) => {
    const v = suite.vault;
    for (const q of ["", "?request_id=", `?request_id=${long(300)}`, `?request_id=${v.approved.request_id}&event_uuid=${long(65)}`]) {
      expectProblem(await v.http("GET", `/ledger/proof/${kind}${q}`, { key: v.agentKey }), 400, "validation_failed");
    }
  });

  it.each(["inclusion", "bundle", "tlog"])("%s for an unknown request or event -> 404 ledger_event_not_found", async (kind) => {
    const v = suite.vault;
    expectProblem(await v.http("GET", `/ledger/proof/${kind}?request_id=req_unknown`, { key: v.agentKey }), 404, "ledger_event_not_found");
    const unknownEvent = `/ledger/proof/${kind}?request_id=${v.approved.request_id}&event_uuid=00000000-0000-4000-8000-000000000000`;
    expectProblem(await v.http("GET", unknownEvent, { key: v.agentKey }), 404, "ledger_event_not_found");
  });

  it("a request id full of SQL and control characters is just an unknown id", async () => {
    const v = suite.vault;
    const id = encodeURIComponent("x' OR '1'='1\u0001; DROP TABLE ledger_events;--");
    expectProblem(await v.http("GET", `/ledger/proof/bundle?request_id=${id}`, { key: v.agentKey }), 404, "ledger_event_not_found");
  });

  it.each([
    ["from=2&to=1", 400, "bad_request"],
    ["from=0&to=1", 400, "validation_failed"],
    ["from=1", 400, "validation_failed"],
    ["from=a&to=b", 400, "validation_failed"],
    ["from=1&to=999999", 404, "checkpoint_not_found"],
    ["from=999998&to=999999", 404, "checkpoint_not_found"],
  ] as const)("consistency %s -> %i %s", async (query, status, code) => {
    const v = suite.vault;
    await v.testVault.vault.ctx.ledgerLoop.drain();
    expectProblem(await v.http("GET", `/ledger/proof/consistency?${query}`, { key: v.agentKey }), status, code);
  });

  it("a proof the ledger can give is 200 for every scope of the tenant", async () => {
    const v = suite.vault;
    for (const key of [v.agentKey, v.reviewerKey, v.adminKey]) {
      expect((await v.http("GET", `/ledger/proof/bundle?request_id=${v.approved.request_id}`, { key })).status).toBe(200);
    }
  });
});

describeClosingChecks(suite, 60);

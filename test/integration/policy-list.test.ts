import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, newDatabase, newKey, newTenant, refundPolicy, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

// Issue 11 item 1: a default-approve policy must be visible as such outside its registration answer,
// so GET /policies (which the console's Policies view reads) carries the same warnings.
const lenientPolicy = {
  policy_id: "lenient-wires",
  description: "Wire transfers, approved unless a condition says otherwise",
  tools: ["wire_transfer"],
  conditions: [{ id: "huge", when: "args.amount > 100000", decision: "deny", reason: "too large" }],
  default_decision: "approve",
};

type Listed = { policy_id: string; default_decision: string; warnings: { code: string; message: string }[] } & Record<string, unknown>;
const byPolicy = (body: { policies: Listed[] }) => Object.fromEntries(body.policies.map((p) => [p.policy_id, p]));

describe("GET /policies", () => {
  let db: TestDatabase;
  let v: TestVault;

  beforeAll(async () => {
    db = newDatabase("postgres");
    v = await startTestVault(db);
    for (const body of [refundPolicy, lenientPolicy]) expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body })).status).toBe(200);
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it("lists the current version of each policy, with a default_approve warning only where the default approves", async () => {
    const res = await call(v.url, "GET", "/policies", { key: v.adminKey });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(["policies", "next_cursor"]);
    expect(res.body.next_cursor).toBeNull();
    const listed = byPolicy(res.body);
    expect(Object.keys(listed).sort()).toEqual(["lenient-wires", "refund-policy"]);
    expect(listed["refund-policy"]).toEqual({
      policy_id: "refund-policy",
      policy_version_id: expect.stringMatching(/^pv_/),
      version: 1,
      status: "active",
      content_hash: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
      description: refundPolicy.description,
      tools: ["stripe_refund"],
      default_decision: "review",
      condition_count: 3,
      registered_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      warnings: [],
    });
    expect(listed["lenient-wires"]).toMatchObject({ default_decision: "approve", condition_count: 1, tools: ["wire_transfer"] });
    expect(listed["lenient-wires"]!.warnings).toEqual([{ code: "default_approve", message: expect.stringContaining("wire_transfer") }]);
    expect(Date.now() - Date.parse(listed["lenient-wires"]!.registered_at as string)).toBeLessThan(10 * 60_000);
  });

  it("shows a new version at once, and its warning goes when the default no longer approves", async () => {
    const registered = (await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: { ...lenientPolicy, default_decision: "review" } })).body;
    expect(registered.warnings).toEqual([]);
    const listed = byPolicy((await call(v.url, "GET", "/policies", { key: v.adminKey })).body)["lenient-wires"]!;
    expect(listed).toMatchObject({ version: 2, policy_version_id: registered.policy_version_id, default_decision: "review", warnings: [] });
    await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: lenientPolicy });
    expect(byPolicy((await call(v.url, "GET", "/policies", { key: v.adminKey })).body)["lenient-wires"]!.warnings).toHaveLength(1);
  });

  it("is readable by reviewers (key or console session) and admins, never by agents or without a key", async () => {
    const reviewerKey = (await call(v.url, "POST", "/reviewers", { key: v.adminKey, body: { name: "Pat", email: "pat@example.com" } })).body.api_key;
    const asReviewer = await call(v.url, "GET", "/policies", { key: reviewerKey });
    expect(asReviewer.status).toBe(200);
    expect(asReviewer.body.policies).toHaveLength(2);
    const cookie = (await call(v.url, "POST", "/console/session", { body: { api_key: reviewerKey } })).headers.get("set-cookie")!.split(";")[0]!;
    expect((await call(v.url, "GET", "/policies", { headers: { cookie } })).body.policies).toHaveLength(2);

    const asAgent = await call(v.url, "GET", "/policies", { key: await newKey(v, "agent") });
    expect([asAgent.status, asAgent.body.code]).toEqual([403, "insufficient_scope"]);
    expect(asAgent.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(JSON.stringify(asAgent.body)).not.toContain("lenient-wires");
    expect((await call(v.url, "GET", "/policies")).status).toBe(401);
    expect((await call(v.url, "GET", "/policies", { key: "csk_not_a_key" })).status).toBe(401);
  });

  it("the review detail carries the default decision of the policy version that judged the request", async () => {
    const agent = await newKey(v, "agent");
    await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: { ...lenientPolicy, conditions: [{ id: "big", when: "args.amount > 1000", decision: "review" }] } });
    const detail = async (tool: string, amount: number) => {
      const id = (await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: tool, tool_args: { amount } } })).body.request_id;
      let body: Record<string, unknown> = {};
      for (let i = 0; i < 100 && body.status !== "pending_review"; i++) {
        body = (await call(v.url, "GET", `/reviews/${id}`, { key: v.adminKey })).body;
        if (body.status !== "pending_review") await new Promise((r) => setTimeout(r, 50));
      }
      return body;
    };
    expect(await detail("wire_transfer", 5000)).toMatchObject({ status: "pending_review", policy_id: "lenient-wires", policy_default_decision: "approve" });
    expect(await detail("stripe_refund", 500)).toMatchObject({ status: "pending_review", policy_id: "refund-policy", policy_default_decision: "review" });
  });

  it("shows each tenant only its own policies", async () => {
    const other = await newTenant(v, `policy-list-${Date.now()}`);
    expect((await call(v.url, "GET", "/policies", { key: other.adminKey })).body).toEqual({ policies: [], next_cursor: null });
    await call(v.url, "POST", "/register-policy", { key: other.adminKey, body: { ...lenientPolicy, policy_id: "other-tenant-only" } });
    const theirs = (await call(v.url, "GET", "/policies", { key: other.adminKey })).body.policies.map((p: Listed) => p.policy_id);
    expect(theirs).toEqual(["other-tenant-only"]);
    const ours = (await call(v.url, "GET", "/policies", { key: v.adminKey })).body.policies.map((p: Listed) => p.policy_id);
    expect(ours.sort()).toEqual(["lenient-wires", "refund-policy"]);
  });
});

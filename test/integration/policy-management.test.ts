import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../../src/clock.js";
import { PolicyCache } from "../../src/policies/policy-store.js";
import { call, newDatabase, newKey, refundPolicy, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

// Issue 14, policy management: list (paged), read, versions, diff and retire.
const wirePolicy = {
  policy_id: "wires",
  description: "Wire transfers",
  tools: ["wire_transfer"],
  conditions: [{ id: "huge", when: "args.amount > 10000", decision: "deny", reason: "too large" }],
  default_decision: "review",
};
const mailPolicy = { policy_id: "mail", description: "Outgoing mail", tools: ["send_email"], default_decision: "approve" };

describe.each<Engine>(["postgres", "pglite"])("policy management on %s", (engine) => {
  let db: TestDatabase;
  let v: TestVault;
  let agent: string;
  let reviewer: string;
  const admin = (method: string, path: string, body?: unknown) => call(v.url, method, path, { key: v.adminKey, body });
  const clear = (tool_name: string, tool_args: object, context: object = {}) =>
    call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name, tool_args, context, agent_id: "a-1", session_id: "s-1" } });
  const registered: Record<string, { policy_content_hash: string; policy_version_id: string }> = {};

  beforeAll(async () => {
    db = newDatabase(engine);
    // Policy cache TTL 0 would hide a missing invalidation; the default TTL keeps the test honest.
    v = await startTestVault(db);
    agent = await newKey(v, "agent");
    reviewer = await newKey(v, "reviewer");
    for (const body of [refundPolicy, wirePolicy, mailPolicy]) {
      const res = await admin("POST", "/register-policy", body);
      expect(res.status).toBe(200);
      registered[body.policy_id] = res.body;
    }
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it("lists policies a page at a time in policy_id order, with status and content hash", async () => {
    const first = await admin("GET", "/policies?limit=2");
    expect(first.status).toBe(200);
    expect(first.body.policies.map((p: { policy_id: string }) => p.policy_id)).toEqual(["mail", "refund-policy"]);
    expect(first.body.next_cursor).toEqual(expect.any(String));
    expect(first.body.policies[0]).toEqual({
      policy_id: "mail",
      policy_version_id: registered.mail!.policy_version_id,
      version: 1,
      status: "active",
      content_hash: registered.mail!.policy_content_hash,
      description: "Outgoing mail",
      tools: ["send_email"],
      default_decision: "approve",
      condition_count: 0,
      registered_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      warnings: [{ code: "default_approve", message: expect.any(String) }],
    });
    const second = await admin("GET", `/policies?limit=2&cursor=${encodeURIComponent(first.body.next_cursor)}`);
    expect(second.body).toMatchObject({ policies: [{ policy_id: "wires" }], next_cursor: null });
    expect((await admin("GET", "/policies")).body.policies).toHaveLength(3);
  });

  it("refuses a bad limit, cursor or flag with a 400 problem", async () => {
    for (const q of ["limit=0", "limit=201", "limit=ten", "cursor=bm9wZQ", "include_retired=yes"]) {
      const res = await admin("GET", `/policies?${q}`);
      expect([q, res.status, res.body.code]).toEqual([q, 400, "validation_failed"]);
      expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    }
  });

  it("reads a policy's current version in full, and answers 404 policy_not_found for an unknown one", async () => {
    const res = await admin("GET", "/policies/refund-policy");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      policy_id: "refund-policy",
      status: "active",
      policy_version_id: registered["refund-policy"]!.policy_version_id,
      version: 1,
      content_hash: registered["refund-policy"]!.policy_content_hash,
      registered_at: expect.any(String),
      description: refundPolicy.description,
      rules: refundPolicy.rules,
      tools: refundPolicy.tools,
      conditions: refundPolicy.conditions,
      default_decision: "review",
      documents: [],
      warnings: [],
    });
    const missing = await admin("GET", "/policies/no-such-policy");
    expect([missing.status, missing.body.code]).toEqual([404, "policy_not_found"]);
    expect((await admin("GET", "/policies/no-such-policy/versions")).body.code).toBe("policy_not_found");
  });

  it("lists versions newest first, reads an older one, and diffs two", async () => {
    const changed = { ...wirePolicy, conditions: [{ id: "huge", when: "args.amount > 5000", decision: "deny", reason: "too large" }] };
    const v2 = (await admin("POST", "/register-policy", changed)).body;
    expect(v2.version).toBe(2);

    const versions = (await admin("GET", "/policies/wires/versions")).body;
    expect(versions).toEqual({
      policy_id: "wires",
      versions: [
        { policy_version_id: v2.policy_version_id, version: 2, status: "active", content_hash: v2.policy_content_hash, registered_at: expect.any(String), current: true },
        { policy_version_id: registered.wires!.policy_version_id, version: 1, status: "active", content_hash: registered.wires!.policy_content_hash, registered_at: expect.any(String), current: false },
      ],
    });
    const old = (await admin("GET", "/policies/wires/versions/1")).body;
    expect(old).toMatchObject({ version: 1, content_hash: registered.wires!.policy_content_hash, conditions: [{ when: "args.amount > 10000" }] });
    expect((await admin("GET", "/policies/wires/versions/9")).body.code).toBe("policy_version_not_found");
    expect((await admin("GET", "/policies/wires/versions/0")).body.code).toBe("validation_failed");

    const diff = (await admin("GET", "/policies/wires/diff")).body;
    expect(diff).toMatchObject({
      policy_id: "wires",
      from: { version: 1, content_hash: registered.wires!.policy_content_hash },
      to: { version: 2, content_hash: v2.policy_content_hash },
      format: "yaml",
    });
    expect(diff.diff).toContain("-    when: args.amount > 10000\n+    when: args.amount > 5000\n");
    expect(diff.diff).not.toContain("description");

    const json = (await admin("GET", "/policies/wires/diff?from=1&to=2&format=json")).body.diff;
    expect(json).toContain('-      "when": "args.amount > 10000",\n+      "when": "args.amount > 5000",');
    const reverse = (await admin("GET", "/policies/wires/diff?from=2&to=1")).body.diff;
    expect(reverse).toContain("-    when: args.amount > 5000\n+    when: args.amount > 10000\n");
    const first = (await admin("GET", "/policies/wires/diff?to=1")).body;
    expect(first.from).toEqual({ version: 0, content_hash: null });
    expect(first.diff).toContain("+policy_id: wires\n");
    expect((await admin("GET", "/policies/wires/diff?from=1&to=1")).body.code).toBe("validation_failed");
    expect((await admin("GET", "/policies/wires/diff?from=7")).body.code).toBe("policy_version_not_found");
  });

  it("retires a policy: a new version that never decides; history and hashes stay; retiring again changes nothing", async () => {
    expect((await clear("wire_transfer", { amount: 20000 })).body).toMatchObject({ status: "denied", policy_id: "wires" });
    const before = (await admin("GET", "/policies/wires/versions")).body.versions;

    const retired = await admin("DELETE", "/policies/wires");
    expect(retired.status).toBe(200);
    expect(retired.body).toEqual({ policy_id: "wires", status: "retired", policy_version_id: expect.stringMatching(/^pv_/), version: 3, content_hash: expect.stringMatching(/^sha256:/) });
    expect(before.map((x: { content_hash: string }) => x.content_hash)).not.toContain(retired.body.content_hash);
    const again = await admin("DELETE", "/policies/wires");
    expect([again.status, again.body]).toEqual([200, retired.body]);

    const versions = (await admin("GET", "/policies/wires/versions")).body.versions;
    expect(versions.map((x: { version: number; status: string; current: boolean }) => [x.version, x.status, x.current])).toEqual([
      [3, "retired", true],
      [2, "active", false],
      [1, "active", false],
    ]);
    expect(versions.slice(1)).toEqual(before.map((x: object) => ({ ...x, current: false })));
    expect((await admin("GET", "/policies/wires")).body).toMatchObject({ status: "retired", version: 3, content_hash: retired.body.content_hash });
    expect((await admin("GET", "/policies/wires/diff")).body.diff).toContain("+retired: true\n");

    // Left out of the listing unless asked for.
    expect((await admin("GET", "/policies")).body.policies.map((p: { policy_id: string }) => p.policy_id)).toEqual(["mail", "refund-policy"]);
    const all = (await admin("GET", "/policies?include_retired=true")).body.policies;
    expect(all.find((p: { policy_id: string }) => p.policy_id === "wires")).toMatchObject({ status: "retired", version: 3 });

    // It decides nothing, by tool or by name.
    expect((await clear("wire_transfer", { amount: 20000 })).body).toMatchObject({ status: "pending_review", reason_code: "no_applicable_policy" });
    expect((await clear("wire_transfer", { amount: 20000 }, { policy_id: "wires" })).body).toMatchObject({ status: "pending_review", reason_code: "policy_not_found" });
    // The judge's own policy loading (the judge service builds the same cache) never returns it.
    const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
    const active = await new PolicyCache(systemClock, 60_000).active(v.tenantId, sql);
    expect(active.map((p) => p.policyId).sort()).toEqual(["mail", "refund-policy"]);
  });

  it("registering a retired policy makes a new active version that decides again", async () => {
    const res = (await admin("POST", "/register-policy", wirePolicy)).body;
    expect(res).toMatchObject({ status: "registered", version: 4, policy_content_hash: registered.wires!.policy_content_hash });
    expect((await admin("GET", "/policies/wires")).body).toMatchObject({ status: "active", version: 4 });
    expect((await clear("wire_transfer", { amount: 20000 })).body).toMatchObject({ status: "denied", policy_id: "wires", policy_version_id: res.policy_version_id });
  });

  it("keeps attached documents across retirement and re-registration", async () => {
    const doc = { title: "Mail handbook", content: "# Mail\n\nNever send customer data to personal addresses." };
    expect((await admin("POST", "/policies/mail/documents", doc)).status).toBe(201);
    const retired = (await admin("DELETE", "/policies/mail")).body;
    expect((await admin("GET", "/policies/mail")).body.documents).toEqual([expect.objectContaining({ title: "Mail handbook" })]);
    // A retired policy's documents stay as they were: changing them would make versions nobody sees.
    const attach = await admin("POST", "/policies/mail/documents", { title: "Late", content: "Too late." });
    expect([attach.status, attach.body.code]).toEqual([409, "policy_retired"]);
    const docId = (await admin("GET", "/policies/mail")).body.documents[0].document_id;
    const detach = await admin("DELETE", `/policies/mail/documents/${docId}`);
    expect([detach.status, detach.body.code]).toEqual([409, "policy_retired"]);
    expect((await admin("GET", "/policies/mail")).body.version).toBe(retired.version);
    const back = (await admin("POST", "/register-policy", mailPolicy)).body;
    expect(back.version).toBe(retired.version + 1);
    const docs = (await admin("GET", "/policies/mail/documents")).body.documents;
    expect(docs).toEqual([expect.objectContaining({ title: "Mail handbook", chunks: expect.any(Number) })]);
    expect(docs[0].chunks).toBeGreaterThan(0);
  });

  it("lets reviewers read but only admins retire; agents and strangers read nothing", async () => {
    expect((await call(v.url, "GET", "/policies/refund-policy", { key: reviewer })).status).toBe(200);
    expect((await call(v.url, "GET", "/policies/refund-policy/diff?to=1", { key: reviewer })).status).toBe(200);
    const byReviewer = await call(v.url, "DELETE", "/policies/refund-policy", { key: reviewer });
    expect([byReviewer.status, byReviewer.body.code]).toEqual([403, "insufficient_scope"]);
    for (const path of ["/policies", "/policies/refund-policy", "/policies/refund-policy/versions"]) {
      expect((await call(v.url, "GET", path, { key: agent })).status).toBe(403);
      expect((await call(v.url, "GET", path)).status).toBe(401);
    }
    expect((await call(v.url, "DELETE", "/policies/refund-policy", { key: agent })).status).toBe(403);
    expect((await admin("GET", "/policies/refund-policy")).body.status).toBe("active");
    expect((await admin("DELETE", "/policies/no-such-policy")).body.code).toBe("policy_not_found");
  });
});

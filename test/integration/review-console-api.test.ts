import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiKey } from "../../src/tenancy/api-keys.js";
import { call, newDatabase, newKey, refundPolicy, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

describe("console sessions and the live review feed", () => {
  let db: TestDatabase;
  let v: TestVault;
  let agent: string;
  let reviewerKey: string;
  const pending = async () =>
    (await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 500 } } })).body.request_id as string;

  beforeAll(async () => {
    db = newDatabase("pglite");
    v = await startTestVault(db);
    agent = await newKey(v, "agent");
    await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy });
    reviewerKey = (await call(v.url, "POST", "/reviewers", { key: v.adminKey, body: { name: "Kim", email: "kim@example.com" } })).body.api_key;
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it("signs in with a reviewer key into an HttpOnly, SameSite=Strict cookie, never with an agent key", async () => {
    expect((await call(v.url, "POST", "/console/session", { body: { api_key: agent } })).body.code).toBe("insufficient_scope");
    expect((await call(v.url, "POST", "/console/session", { body: { api_key: "csk_wrong" } })).status).toBe(401);
    const res = await call(v.url, "POST", "/console/session", { body: { api_key: reviewerKey } });
    expect(res.status).toBe(200);
    expect(res.body.reviewer).toMatchObject({ name: "Kim", email: "kim@example.com" });
    const cookie = res.headers.get("set-cookie")!;
    expect(cookie).toMatch(/^cs_session=css_[A-Za-z0-9_-]+; HttpOnly; SameSite=Strict; Path=\/; Max-Age=\d+$/);
    expect(cookie).not.toContain(reviewerKey);
  });

  it("the cookie authenticates reads, and state changes only with the console header (CSRF)", async () => {
    const cookie = (await call(v.url, "POST", "/console/session", { body: { api_key: reviewerKey } })).headers.get("set-cookie")!.split(";")[0]!;
    const id = await pending();
    expect((await call(v.url, "GET", "/reviews", { headers: { cookie } })).body.reviews.map((r: { request_id: string }) => r.request_id)).toContain(id);
    const forged = await call(v.url, "POST", `/reviews/${id}/decision`, { headers: { cookie }, body: { approved: true } });
    expect([forged.status, forged.body.code]).toEqual([403, "csrf_header_missing"]);
    const ok = await call(v.url, "POST", `/reviews/${id}/decision`, { headers: { cookie, "x-countersign-console": "1" }, body: { approved: true, review_reason: "ok" } });
    expect(ok.body.status).toBe("approved");
    expect(ok.body.token).toBeNull(); // the reviewer sees the decision, never the agent's bearer token
    expect((await call(v.url, "DELETE", "/console/session", { headers: { cookie, "x-countersign-console": "1" } })).status).toBe(200);
    expect((await call(v.url, "GET", "/reviews", { headers: { cookie } })).status).toBe(401);
  });

  it("disabling a reviewer ends their console sessions at once and their keys within the key cache time", async () => {
    const created = (await call(v.url, "POST", "/reviewers", { key: v.adminKey, body: { name: "Out", email: "out@example.com" } })).body;
    const cookie = (await call(v.url, "POST", "/console/session", { body: { api_key: created.api_key } })).headers.get("set-cookie")!.split(";")[0]!;
    expect((await call(v.url, "GET", "/reviews", { headers: { cookie } })).status).toBe(200);
    expect((await call(v.url, "DELETE", `/reviewers/${created.reviewer_id}`, { key: reviewerKey })).body.code).toBe("insufficient_scope");
    expect((await call(v.url, "DELETE", `/reviewers/${created.reviewer_id}`, { key: v.adminKey })).body).toEqual({ reviewer_id: created.reviewer_id, disabled: true });
    expect((await call(v.url, "GET", "/reviews", { headers: { cookie } })).status).toBe(401);
    await new Promise((r) => setTimeout(r, v.vault.ctx.config.caches.apiKeyTtlMs + 100));
    expect((await call(v.url, "GET", "/reviews", { key: created.api_key })).status).toBe(401);
    expect((await call(v.url, "DELETE", `/reviewers/${created.reviewer_id}`, { key: v.adminKey })).body.code).toBe("reviewer_not_found");
    const listed = (await call(v.url, "GET", "/reviewers", { key: v.adminKey })).body.reviewers.find((r: { id: string }) => r.id === created.reviewer_id);
    expect(listed.disabled_at).toEqual(expect.any(String));
  });

  it("GET /reviews/{id} keeps the judge's reason apart from the reviewer's, and names each voter", async () => {
    const id = await pending();
    const approved = await call(v.url, "POST", `/reviews/${id}/decision`, { key: reviewerKey, body: { approved: true, review_reason: "Parcel lost in transit" } });
    expect(approved.body.status).toBe("approved");
    const detail = (await call(v.url, "GET", `/reviews/${id}`, { key: reviewerKey })).body;
    // The request's reason is now the reviewer's; the judge's, as the ledger recorded it, stays readable.
    expect(detail).toMatchObject({ reason: "Parcel lost in transit", reason_code: "review_approved", judge_reason: "Refunds over $100 need a human", decided_by: "review" });
    expect(detail.votes_detail).toEqual([
      expect.objectContaining({ reviewer_name: "Kim", reviewer_email: "kim@example.com", voter_kind: "reviewer", approved: true, reason: "Parcel lost in transit" }),
    ]);

    // Keys with no reviewer identity: their label when they have one, else their id.
    const labelled = await createApiKey(v.vault.ctx.control, { tenantId: v.tenantId, scope: "reviewer", label: "Ops rota key" });
    const bare = await createApiKey(v.vault.ctx.control, { tenantId: v.tenantId, scope: "reviewer" });
    const denied = await pending();
    expect((await call(v.url, "POST", `/reviews/${denied}/decision`, { key: labelled.apiKey, body: { approved: false, review_reason: "Not ours" } })).body.status).toBe("denied");
    const byLabel = (await call(v.url, "GET", `/reviews/${denied}`, { key: bare.apiKey })).body;
    expect(byLabel.votes_detail).toEqual([
      expect.objectContaining({ reviewer_name: "Ops rota key", reviewer_email: "", voter_kind: "api_key", api_key_id: labelled.id, api_key_label: "Ops rota key", reason: "Not ours" }),
    ]);
    // Denied by the review: the judge's reason is still the judge's.
    expect(byLabel).toMatchObject({ reason: "Not ours", judge_reason: "Refunds over $100 need a human" });
    const other = await pending();
    await call(v.url, "POST", `/reviews/${other}/decision`, { key: bare.apiKey, body: { approved: false } });
    const [vote] = (await call(v.url, "GET", `/reviews/${other}`, { key: reviewerKey })).body.votes_detail;
    expect(vote).toMatchObject({ reviewer_name: `API key ${bare.id}`, voter_kind: "api_key", api_key_id: bare.id, api_key_label: null });
  });

  it("GET /reviews?decided_by= lists requests decided without review, and keeps the old listing by default", async () => {
    const auto = async (amount: number) =>
      (await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount } } })).body as { request_id: string; status: string };
    const small = await auto(50);
    const large = await auto(5000);
    expect([small.status, large.status]).toEqual(["approved", "denied"]);
    const reviewed = await pending();
    await call(v.url, "POST", `/reviews/${reviewed}/decision`, { key: reviewerKey, body: { approved: true } });
    const ids = async (query: string) =>
      ((await call(v.url, "GET", `/reviews?${query}`, { key: reviewerKey })).body.reviews as { request_id: string; decided_by: string }[]).map((r) => r.request_id);

    const byDefault = await ids("status=all");
    expect(byDefault).toContain(reviewed);
    expect(byDefault).not.toContain(small.request_id);
    expect(byDefault).not.toContain(large.request_id);
    const automatic = await ids("status=all&decided_by=automatic");
    expect(automatic).toEqual(expect.arrayContaining([small.request_id, large.request_id]));
    expect(automatic).not.toContain(reviewed);
    const any = await ids("status=all&decided_by=any");
    expect(any).toEqual(expect.arrayContaining([small.request_id, large.request_id, reviewed]));
    // The two filters combine.
    const deniedAutomatically = await ids("status=denied&decided_by=automatic");
    expect(deniedAutomatically).toContain(large.request_id);
    expect(deniedAutomatically).not.toContain(small.request_id);
    const listed = (await call(v.url, "GET", "/reviews?status=approved&decided_by=automatic", { key: reviewerKey })).body.reviews;
    expect(listed.find((r: { request_id: string }) => r.request_id === small.request_id)).toMatchObject({ decided_by: "automatic", status: "approved", reason: "Within the automatic limit" });
    // Nothing was reviewed, so the judge's reason is the request's.
    expect((await call(v.url, "GET", `/reviews/${small.request_id}`, { key: reviewerKey })).body).toMatchObject({ decided_by: "automatic", judge_reason: "Within the automatic limit", votes_detail: [] });

    const bad = await call(v.url, "GET", "/reviews?decided_by=robot", { key: reviewerKey });
    expect([bad.status, bad.body.code]).toEqual([400, "validation_failed"]);
  });

  it("GET /reviews/stream pushes a new pending review and its decision as server-sent events", async () => {
    const controller = new AbortController();
    const res = await fetch(`${v.url}/reviews/stream`, { headers: { "x-vault-api-key": reviewerKey }, signal: controller.signal });
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    const events: { request_id: string; status: string }[] = [];
    let buffer = "";
    const readUntil = async (pred: () => boolean) => {
      const deadline = Date.now() + 5_000;
      while (!pred() && Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += Buffer.from(value).toString("utf8");
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split("\n").find((l) => l.startsWith("data: "));
          if (block.includes("event: review") && data) events.push(JSON.parse(data.slice(6)));
        }
      }
    };
    const id = await pending();
    await readUntil(() => events.some((e) => e.request_id === id));
    expect(events.find((e) => e.request_id === id)).toMatchObject({ status: "pending_review", tool_name: "stripe_refund" });
    await call(v.url, "POST", `/reviews/${id}/decision`, { key: reviewerKey, body: { approved: false } });
    await readUntil(() => events.some((e) => e.request_id === id && e.status === "denied"));
    expect(events.some((e) => e.request_id === id && e.status === "denied")).toBe(true);
    controller.abort();
  });
});

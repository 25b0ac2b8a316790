import { afterAll, beforeAll, describe, expect, it } from "vitest";
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

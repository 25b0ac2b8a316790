import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allowPrivate, register } from "../helpers/outbox-api.js";
import { HttpReceiver, sdkVerifyWebhook } from "../helpers/outbox-receivers.js";
import { call, newDatabase, newKey, refundPolicy, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

/** The review workflow's own events reach a customer's endpoint, signed, through the durable outbox. */
describe("webhooks from the review workflow", () => {
  let db: TestDatabase;
  let v: TestVault;
  let receiver: HttpReceiver;
  let secret: string;
  beforeAll(async () => {
    db = newDatabase("pglite");
    v = await startTestVault(db, { env: { ...allowPrivate, VAULT_REVIEW_SWEEP_INTERVAL_SECONDS: "3600" } });
    receiver = await HttpReceiver.start();
    secret = (await register(v, receiver.url)).secret;
    await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy });
  });
  afterAll(async () => {
    await v?.close();
    await receiver?.close();
    await db?.drop();
  });

  it("submitted, pending, approved by a reviewer and consumed: each event once, signed as the SDK verifies", async () => {
    const agent = await newKey(v, "agent");
    const reviewer = (await call(v.url, "POST", "/reviewers", { key: v.adminKey, body: { name: "Lee", email: "lee@example.com" } })).body.api_key;
    const res = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 500 } } });
    const id = res.body.request_id;
    await call(v.url, "POST", `/reviews/${id}/decision`, { key: reviewer, body: { approved: true, review_reason: "ok" } });
    const token = (await call(v.url, "GET", `/clearance-status/${id}`, { key: agent })).body.token;
    expect((await call(v.url, "POST", "/consume-token", { key: agent, body: { token } })).status).toBe(200);
    await v.vault.ctx.outboxWorker.drain();
    await receiver.waitFor(4);
    const bodies = receiver.requests.map((r) => JSON.parse(r.raw.toString("utf8")));
    // Each event exactly once. Arrival order is not compared: one outbox batch is delivered concurrently, and
    // webhooks promise at-least-once delivery, not ordering (receivers order by created_at).
    const byType = (pairs: string[][]) => [...pairs].sort((a, b) => a[0]!.localeCompare(b[0]!));
    expect(byType(bodies.map((b) => [b.type, b.data.request_id]))).toEqual(
      byType([
        ["request.submitted", id],
        ["request.pending_review", id],
        ["request.approved", id],
        ["token.consumed", id],
      ]),
    );
    for (const r of receiver.requests) expect(sdkVerifyWebhook(r.raw, r.headers["x-ledgix-signature"] as string, secret)).toBe(true);
  });

  it("a pending review is announced to Slack, then reminded and escalated once each when its rules say so", async () => {
    const slack = await HttpReceiver.start();
    try {
      expect((await call(v.url, "PUT", "/notification-settings", { key: v.adminKey, body: { slack: { webhook_url: `${slack.url}/hook` } } })).status).toBe(200);
      await call(v.url, "PUT", "/review-settings", { key: v.adminKey, body: { minimum_confidence_bucket: "high", reminder_after_seconds: 1, escalate_after_seconds: 2 } });
      const agent = await newKey(v, "agent");
      const id = (await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 500, order_id: "slack-1" } } })).body.request_id;
      await new Promise((r) => setTimeout(r, 2_100));
      await v.vault.ctx.reviewSweeper.sweep();
      await v.vault.ctx.reviewSweeper.sweep(); // a second pass sends nothing new
      await v.vault.ctx.outboxWorker.drain();
      await slack.waitFor(3);
      const texts = slack.requests.map((r) => r.raw.toString("utf8"));
      expect(texts).toHaveLength(3);
      for (const t of texts) {
        expect(t).toContain(id);
        expect(t).toContain(`/console/#/reviews/${id}`);
        expect(t).toContain("slack-1");
      }
      // One announcement, one reminder, one escalation, in whatever order the concurrent batch arrived.
      expect(texts.filter((t) => /remind/i.test(t))).toHaveLength(1);
      expect(texts.filter((t) => /escalat/i.test(t))).toHaveLength(1);
    } finally {
      await call(v.url, "PUT", "/review-settings", { key: v.adminKey, body: { minimum_confidence_bucket: "high" } });
      await slack.close();
    }
  });
});

describe("concurrent votes on PostgreSQL", () => {
  let db: TestDatabase;
  let v: TestVault;
  beforeAll(async () => {
    db = newDatabase("postgres");
    v = await startTestVault(db, { env: { VAULT_REVIEW_SWEEP_INTERVAL_SECONDS: "3600" } });
    await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy });
    await call(v.url, "PUT", "/review-settings", { key: v.adminKey, body: { minimum_confidence_bucket: "high", approvals_required: 3 } });
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it("approvals arriving at once are each counted once, and exactly one of them approves the request", async () => {
    const agent = await newKey(v, "agent");
    const keys = await Promise.all(
      ["p1", "p2", "p3", "p4"].map(async (n) => (await call(v.url, "POST", "/reviewers", { key: v.adminKey, body: { name: n, email: `${n}@example.com` } })).body.api_key as string),
    );
    const id = (await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 500 } } })).body.request_id;
    const answers = await Promise.all(keys.map((key) => call(v.url, "POST", `/reviews/${id}/decision`, { key, body: { approved: true } })));
    const statuses = answers.map((a) => (a.status === 200 ? a.body.status : a.body.code)).sort();
    expect(statuses).toEqual(["approved", "pending_review", "pending_review", "request_not_pending"]);
    const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
    expect((await sql.query("SELECT jti FROM issued_tokens WHERE request_id = $1", [id])).length).toBe(1);
    expect((await sql.query("SELECT 1 FROM review_decisions WHERE request_id = $1", [id])).length).toBe(3);
    const types = await sql.query<{ event_type: string }>("SELECT event_type FROM ledger_events WHERE request_id = $1 ORDER BY seq", [id]);
    expect(types.map((t) => t.event_type)).toEqual(["clearance.pending_review", "review.vote", "review.vote", "review.approved"]);
  });
});

import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import type { EvidenceChunk } from "../../src/judge/judge.js";
import type { NotificationKind, OutboxRequest } from "../../src/outbox/outbox.js";
import type { OutboxWriter } from "../../src/requests/events.js";
import { decodeHeader, HttpReceiver, inTenantTx, metricValue, parseMail, sampleRequest, SmtpReceiver } from "../helpers/outbox-receivers.js";
import { call, newPgDatabase, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

const DAY_MS = 86_400_000;

const evidence: EvidenceChunk[] = [
  {
    chunk_id: "c1",
    policy_id: "refund-policy",
    policy_version_id: "v1",
    source: "rule",
    heading: "Refund limits <rules>",
    excerpt: "Refunds over $100 need a human & a second look.",
    score: 0.91,
  },
];

// Hostile values in every field a reviewer sees: none may become markup, a mention, or a link.
const hostile = sampleRequest({
  tool_args: { amount: 250, note: `<script>alert("x")</script> & <!channel> <https://evil.example|click>` },
  agent_id: "agent-<b>7</b>",
  reason: "Refunds over $100 need a human <img src=x onerror=alert(1)>",
  citations: evidence,
});

describe("review notifications over Slack and email (postgres)", () => {
  let db: TestDatabase;
  let v: TestVault;
  let slack: HttpReceiver;
  let smtp: SmtpReceiver;
  const clock = new ManualClock(Date.now());

  beforeAll(async () => {
    slack = await HttpReceiver.start();
    smtp = await SmtpReceiver.start();
    db = newPgDatabase();
    v = await startTestVault(db, {
      overrides: { clock },
      env: {
        VAULT_WEBHOOK_ALLOW_PRIVATE_TARGETS: "true",
        VAULT_OUTBOX_MAX_ATTEMPTS: "2",
        VAULT_TRANSPORT_KEY_BASE64: Buffer.alloc(32, 7).toString("base64"),
        SMTP_HOST: "127.0.0.1",
        SMTP_PORT: String(smtp.port),
        SMTP_FROM: "Countersign <countersign@example.test>",
      },
    });
    const put = await call(v.url, "PUT", "/notification-settings", {
      key: v.adminKey,
      body: {
        slack: { webhook_url: `${slack.url}/services/default`, policies: { "refund-policy": `${slack.url}/services/refunds` } },
        email: { recipients: ["ops@example.test"], policies: { "refund-policy": ["refunds@example.test", "lead@example.test"] } },
      },
    });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
    await slack?.close();
    await smtp?.close();
  });
  beforeEach(() => {
    slack.requests.length = 0;
    smtp.messages.length = 0;
    slack.fallback = 200;
    smtp.refuse.clear();
  });

  async function notify(request: OutboxRequest, kind: NotificationKind = "review.requested", received = 0) {
    const consoleUrl = `${v.url}/console/#/reviews/${encodeURIComponent(request.id)}`;
    await inTenantTx(v, v.tenantId, (tx) =>
      v.vault.ctx.outbox.notifyReview(tx, v.tenantId, kind, request, {
        approvals_required: 2,
        received,
        expires_at: "2026-03-02T10:00:00.000Z",
        console_url: consoleUrl,
      }),
    );
    await v.vault.ctx.outboxWorker.drain();
    return consoleUrl;
  }

  it("the outbox is what the review workflow expects", () => {
    const wired: OutboxWriter = v.vault.ctx.outbox;
    expect(typeof wired.notifyReview).toBe("function");
  });

  it("shows the settings with Slack URLs redacted", async () => {
    const res = await call(v.url, "GET", "/notification-settings", { key: v.adminKey });
    expect(res.body.email).toEqual({ recipients: ["ops@example.test"], policies: { "refund-policy": ["refunds@example.test", "lead@example.test"] }, notify: [] });
    expect(res.body.slack.webhook_url).toBe(`${slack.url}/…ault`);
    expect(JSON.stringify(res.body)).not.toContain("/services/refunds");
    // With VAULT_TRANSPORT_KEY_BASE64 set, the URLs (credentials) are sealed at rest.
    const rows = await (await v.vault.ctx.tenantDbs.get(v.tenantId)).query<{ slack_url: string }>("SELECT slack_url FROM notification_channels WHERE kind = 'slack'");
    expect(rows).toHaveLength(2);
    for (const r of rows) expect(r.slack_url).toMatch(/^aes256gcm:v1:/);
  });

  it("posts a Slack message with summary, arguments, evidence, progress and the console link, everything escaped", async () => {
    const consoleUrl = await notify(hostile);
    expect(slack.requests).toHaveLength(1);
    const got = slack.requests[0]!;
    // The policy's own channel, not the tenant default.
    expect(got.path).toBe("/services/refunds");
    expect(got.headers["content-type"]).toBe("application/json");
    const message = JSON.parse(got.raw.toString("utf8"));
    const text = JSON.stringify(message.blocks);
    expect(message.blocks[0]).toEqual({ type: "header", text: { type: "plain_text", text: "Review requested: stripe_refund", emoji: false } });
    const fields = message.blocks[1].fields.map((f: { text: string }) => f.text);
    expect(fields).toEqual([
      "*Tool*\nstripe_refund",
      "*Agent*\nagent-&lt;b&gt;7&lt;/b&gt;",
      "*Human principal*\nalice@example.test",
      "*Policy*\nrefund-policy",
      "*Confidence*\nhigh",
    ]);
    expect(message.blocks[2].text.text).toBe("*Reason*\nRefunds over $100 need a human &lt;img src=x onerror=alert(1)&gt;");
    const args = message.blocks[3].text.text as string;
    expect(args.startsWith("*Arguments*\n```{\n  \"amount\": 250,")).toBe(true);
    expect(args).toContain("&lt;script&gt;alert(\\\"x\\\")&lt;/script&gt; &amp; &lt;!channel&gt; &lt;https://evil.example|click&gt;");
    expect(message.blocks[4].text.text).toBe(
      "*Evidence*\n• *Refund limits &lt;rules&gt;* (refund-policy)\n>Refunds over $100 need a human &amp; a second look.",
    );
    expect(message.blocks[5].elements[0].text).toContain("Approvals: *0 of 2* · Expires: 2026-03-02T10:00:00.000Z");
    expect(message.blocks[6].elements[0]).toMatchObject({ type: "button", url: consoleUrl, text: { text: "Open in console" } });
    expect(consoleUrl).toMatch(/\/console\/#\/reviews\/req_/);
    // Nothing from the request reaches Slack unescaped.
    expect(text).not.toContain("<!channel>");
    expect(text).not.toContain("<script>");
    expect(text).not.toContain("<https://evil");
  });

  it("emails text and HTML with the same content, to the policy's recipients, HTML-escaped", async () => {
    const consoleUrl = await notify(hostile, "review.reminder", 1);
    expect(smtp.messages).toHaveLength(1);
    const mail = smtp.messages[0]!;
    expect(mail.from).toBe("countersign@example.test");
    expect(mail.to.sort()).toEqual(["lead@example.test", "refunds@example.test"]);
    const parsed = parseMail(mail.raw);
    expect(decodeHeader(parsed.headers.subject!)).toBe("[Countersign] Reminder: review still pending: stripe_refund (agent agent-<b>7</b>)");
    expect(parsed.headers.to).toContain("refunds@example.test");
    expect(parsed.headers["x-countersign-delivery"]).toMatch(/^ntf_/);

    expect(parsed.text).toContain("Tool: stripe_refund");
    expect(parsed.text).toContain("Approvals: 1 of 2");
    expect(parsed.text).toContain("Expires: 2026-03-02T10:00:00.000Z");
    expect(parsed.text).toContain(`"note": "<script>alert(\\"x\\")</script> & <!channel> <https://evil.example|click>"`);
    expect(parsed.text).toContain("- Refund limits <rules> (refund-policy): Refunds over $100 need a human & a second look.");
    expect(parsed.text).toContain(`Review it in the console: ${consoleUrl}`);

    expect(parsed.html).toContain("<td style=\"padding:4px 12px 4px 0;vertical-align:top\">agent-&lt;b&gt;7&lt;/b&gt;</td>");
    expect(parsed.html).toContain("&lt;script&gt;alert(\\&quot;x\\&quot;)&lt;/script&gt; &amp; &lt;!channel&gt;");
    expect(parsed.html).toContain("need a human &lt;img src=x onerror=alert(1)&gt;");
    expect(parsed.html).toContain("<strong>Refund limits &lt;rules&gt;</strong>");
    expect(parsed.html).toContain(`<a href="${consoleUrl}"`);
    expect(parsed.html).not.toMatch(/<script|<img|<b>/);
  });

  it("routes a request of another policy to the tenant defaults", async () => {
    await notify(sampleRequest({ policy_id: "travel-policy" }), "review.escalation");
    expect(slack.requests.map((r) => r.path)).toEqual(["/services/default"]);
    expect(JSON.parse(slack.requests[0]!.raw.toString()).blocks[0].text.text).toBe("Escalation: review overdue: stripe_refund");
    expect(smtp.messages.map((m) => m.to)).toEqual([["ops@example.test"]]);
  });

  it("a notification that keeps failing is dead: listed by GET /outbox and counted, never dropped silently", async () => {
    slack.fallback = 500;
    smtp.refuse.add("refunds@example.test").add("lead@example.test");
    const slackDead = await metricValue(v, "countersign_outbox_dead_total", 'kind="slack"');
    const emailDead = await metricValue(v, "countersign_outbox_dead_total", 'kind="email"');
    const request = sampleRequest();
    await notify(request);
    clock.advance(DAY_MS);
    await v.vault.ctx.outboxWorker.drain();
    expect(slack.requests).toHaveLength(2);
    expect(smtp.messages).toHaveLength(0);

    const dead = await call(v.url, "GET", "/outbox?status=dead", { key: v.adminKey });
    const mine = dead.body.entries.filter((e: { request_id: string }) => e.request_id === request.id);
    expect(mine.map((e: { kind: string }) => e.kind).sort()).toEqual(["email", "slack"]);
    expect(mine.find((e: { kind: string }) => e.kind === "slack")).toMatchObject({ status: "dead", attempts: 2, last_status: 500, event_type: "review.requested" });
    expect(mine.find((e: { kind: string }) => e.kind === "email").last_error).toMatch(/^SMTP: /);
    const onlySlack = await call(v.url, "GET", "/outbox?status=dead&kind=slack", { key: v.adminKey });
    expect(onlySlack.body.entries.every((e: { kind: string }) => e.kind === "slack")).toBe(true);
    expect(await metricValue(v, "countersign_outbox_dead_total", 'kind="slack"')).toBe(slackDead + 1);
    expect(await metricValue(v, "countersign_outbox_dead_total", 'kind="email"')).toBe(emailDead + 1);
    expect(await metricValue(v, "countersign_outbox_pending", 'kind="slack"')).toBe(0);
  });

  it("sends only the kinds a channel asks for", async () => {
    const put = await call(v.url, "PUT", "/notification-settings", {
      key: v.adminKey,
      body: { slack: { webhook_url: `${slack.url}/services/escalations`, notify: ["review.escalation"] }, email: { recipients: ["ops@example.test"] } },
    });
    expect(put.status).toBe(200);
    await notify(sampleRequest(), "review.requested");
    expect(slack.requests).toHaveLength(0);
    expect(smtp.messages).toHaveLength(1);
    await notify(sampleRequest(), "review.escalation");
    expect(slack.requests.map((r) => r.path)).toEqual(["/services/escalations"]);
  });

  it("validates the settings", async () => {
    const bad = await call(v.url, "PUT", "/notification-settings", { key: v.adminKey, body: { email: { recipients: ["not-an-address"] } } });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe("validation_failed");
    const unknown = await call(v.url, "PUT", "/notification-settings", { key: v.adminKey, body: { pager: {} } });
    expect(unknown.body.code).toBe("validation_failed");
  });
});

describe("email settings without SMTP (postgres)", () => {
  let db: TestDatabase;
  let v: TestVault;
  beforeAll(async () => {
    db = newPgDatabase();
    v = await startTestVault(db);
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it("are refused with smtp_not_configured", async () => {
    const res = await call(v.url, "PUT", "/notification-settings", { key: v.adminKey, body: { email: { recipients: ["ops@example.test"] } } });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("smtp_not_configured");
  });
});

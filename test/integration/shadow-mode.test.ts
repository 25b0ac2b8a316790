import type { AddressInfo } from "node:net";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { RateLimiter } from "../../src/http/rate-limit.js";
import { FailClosedJudge } from "../../src/judge/fail-closed-judge.js";
import { JudgeClient } from "../../src/judge/judge-client.js";
import { auditRecordOf } from "../../src/ledger/core/audit-event.js";
import { trustedKeysFromJwks, verifyProofBundle } from "../../src/ledger/verify/bundle-verifier.js";
import { buildJudgeServer } from "../../src/main/judge-service.js";
import { eventHashOf, type SdkEventFields } from "../helpers/ledgix-ledger-primitives.js";
import { fetchLedger, fetchLedgerCheckpoints, fetchJwks, toCamelCaseKeys, verifyLedgerProof } from "../helpers/ledgix-ledger-verifier.js";
import { allowPrivate, register } from "../helpers/outbox-api.js";
import { HttpReceiver, sdkVerifyWebhook } from "../helpers/outbox-receivers.js";
import { call, newDatabase, newKey, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

/**
 * Shadow mode (docs/shadow-mode.md): a shadow policy is evaluated and recorded but never decides; alone,
 * the tenant's shadow default answers; every mode change is a ledger event, a webhook and a notification.
 * Argument keys here are single words, so the SDK-faithful verifier (which camelCases bodies) can hash
 * every event of the tenant.
 */
const enforcing = {
  policy_id: "payouts",
  tools: ["payout"],
  conditions: [{ id: "small", when: "args.amount <= 100", decision: "approve", reason: "small payout" }],
  default_decision: "review",
};
const strict = {
  policy_id: "payouts-strict",
  tools: ["payout"],
  conditions: [{ id: "over-50", when: "args.amount > 50", decision: "deny", reason: "strict limit 50" }],
  default_decision: "approve",
};
const lonely = {
  policy_id: "exports",
  tools: ["export"],
  conditions: [{ id: "bulk", when: "args.rows > 1000", decision: "deny", reason: "bulk export" }],
  default_decision: "approve",
};

describe("shadow mode", () => {
  let db: TestDatabase;
  let v: TestVault;
  let agent: string;
  let reviewer: string;
  let hook: HttpReceiver;
  let slack: HttpReceiver;
  let secret: string;
  const clear = async (tool: string, args: Record<string, unknown>) => {
    const res = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: tool, tool_args: args, agent_id: "bot" } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body;
  };
  const stored = async (id: string) => (await (await v.vault.ctx.tenantDbs.get(v.tenantId)).query<{ judge_trace: any }>("SELECT judge_trace FROM clearance_requests WHERE id = $1", [id]))[0]!;
  const setMode = (policy: string, mode: string, key = v.adminKey, reason?: string) =>
    call(v.url, "PUT", `/policies/${policy}/mode`, { key, body: reason === undefined ? { mode } : { mode, reason } });

  beforeAll(async () => {
    db = newDatabase("pglite");
    v = await startTestVault(db, { env: allowPrivate });
    agent = await newKey(v, "agent");
    reviewer = await newKey(v, "reviewer");
    hook = await HttpReceiver.start();
    slack = await HttpReceiver.start();
    secret = (await register(v, hook.url, { events: ["policy.mode_changed"] })).secret;
    expect((await call(v.url, "PUT", "/notification-settings", { key: v.adminKey, body: { slack: { webhook_url: `${slack.url}/hook` } } })).status).toBe(200);
    for (const p of [enforcing, strict, lonely]) expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: p })).status).toBe(200);
  });
  afterAll(async () => {
    await v?.close();
    await hook?.close();
    await slack?.close();
    await db?.drop();
  });

  it("a switch to shadow is a ledger event, a webhook and a notification calling it log-only; a repeat writes nothing", async () => {
    const res = await setMode("payouts-strict", "shadow", v.adminKey, "trying stricter payouts on live traffic");
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ policy_id: "payouts-strict", mode: "shadow", changed: true });
    expect(res.body.ledger_event_uuid).toMatch(/^[0-9a-f-]{36}$/);
    const again = await setMode("payouts-strict", "shadow");
    expect(again.body).toMatchObject({ mode: "shadow", changed: false, ledger_event_uuid: null });

    await v.vault.ctx.outboxWorker.drain();
    await hook.waitFor(1);
    await slack.waitFor(1);
    expect(hook.requests).toHaveLength(1);
    const body = JSON.parse(hook.requests[0]!.raw.toString("utf8"));
    expect(body.type).toBe("policy.mode_changed");
    expect(body.data).toMatchObject({ scope: "policy", policy_id: "payouts-strict", from: "enforce", to: "shadow", shadow_default: "review", ledger_event_uuid: res.body.ledger_event_uuid });
    expect(sdkVerifyWebhook(hook.requests[0]!.raw, hook.requests[0]!.headers["x-ledgix-signature"] as string, secret)).toBe(true);
    expect(slack.requests).toHaveLength(1);
    const text = slack.requests[0]!.raw.toString("utf8");
    expect(text).toContain("payouts-strict");
    expect(text).toContain("log-only");
    expect(text).toContain("trying stricter payouts on live traffic");

    // The audit event, proven offline like any request's event.
    await v.vault.ctx.ledgerLoop.drain();
    const bundle = await call(v.url, "GET", `/ledger/proof/bundle?event_uuid=${res.body.ledger_event_uuid}`, { key: v.adminKey });
    expect(bundle.status, JSON.stringify(bundle.body)).toBe(200);
    expect(bundle.body.event.event_type).toBe("vault.audit");
    expect(auditRecordOf(bundle.body.event)).toMatchObject({
      action: "policy.mode_changed",
      subject_id: "payouts-strict",
      policy_id: "payouts-strict",
      details: { scope: "policy", from: "enforce", to: "shadow", default: "review" },
    });
    const jwks = (await call(v.url, "GET", "/.well-known/jwks.json")).body;
    expect(verifyProofBundle(bundle.body, trustedKeysFromJwks(jwks)).checks.filter((c) => !c.ok)).toEqual([]);
    expect((await call(v.url, "GET", "/policies/payouts-strict/mode", { key: reviewer })).body).toMatchObject({ mode: "shadow", changed_by: expect.any(String) });
  });

  it("shadow beside an enforcing policy: the enforcing one decides, the shadow decision is recorded with enforced false", async () => {
    await setMode("payouts-strict", "shadow");
    const answer = await clear("payout", { amount: 80 });
    // payouts approves (<= 100); payouts-strict would deny (> 50) but only shadows.
    expect(answer).toMatchObject({ status: "approved", reason_code: "condition_matched", policy_id: "payouts", matched_condition_ids: ["payouts/small"] });
    const { judge_trace } = await stored(answer.request_id);
    expect(judge_trace.shadow).toEqual([
      { policy_id: "payouts-strict", policy_version_id: expect.stringMatching(/^pv_/), decision: "deny", matched_condition_ids: ["payouts-strict/over-50"], reason: "strict limit 50" },
    ]);
    await v.vault.ctx.ledgerLoop.drain();
    const bundle = await call(v.url, "GET", `/ledger/proof/bundle?request_id=${answer.request_id}`, { key: agent });
    expect(bundle.body.event.event_type).toBe("clearance.approved");
    expect(bundle.body.event.evidence_chunks).toEqual([
      { type: "shadow", enforced: false, decisions: [{ policy: "payouts-strict", version: judge_trace.shadow[0].policy_version_id, decision: "deny", matched: ["payouts-strict/over-50"], reason: "strict limit 50" }] },
    ]);
    // Under 50 the shadow policy agrees (its default approve); the chunk says so too.
    const small = await clear("payout", { amount: 20 });
    expect(small.status).toBe("approved");
    expect((await stored(small.request_id)).judge_trace.shadow[0]).toMatchObject({ decision: "approve", matched_condition_ids: [] });
  });

  it("a request no shadow policy applies to is judged and recorded exactly as before", async () => {
    const answer = await clear("export", { rows: 10 });
    expect(answer).toMatchObject({ status: "approved", reason_code: "policy_default", policy_id: "exports" });
    // Its default decided after retrieval found no text: the trace of before, with no shadow member.
    expect((await stored(answer.request_id)).judge_trace).toEqual({ steps: ["conditions", "retrieval"], embedding_model: expect.any(String), retrieved: 0 });
    await v.vault.ctx.ledgerLoop.drain();
    const bundle = await call(v.url, "GET", `/ledger/proof/bundle?request_id=${answer.request_id}`, { key: agent });
    expect(bundle.body.event.evidence_chunks).toEqual([]);
  });

  it("a shadow policy alone: the tenant's shadow default answers (review, fail closed), and a new default applies at once", async () => {
    expect((await setMode("exports", "shadow")).status).toBe(200);
    const first = await clear("export", { rows: 5000 });
    expect(first).toMatchObject({ status: "pending_review", reason_code: "shadow_default", policy_id: null });
    expect(first.reason).toContain("exports");
    expect((await stored(first.request_id)).judge_trace.shadow).toEqual([expect.objectContaining({ policy_id: "exports", decision: "deny", matched_condition_ids: ["exports/bulk"] })]);

    const changed = await call(v.url, "PUT", "/policy-mode", { key: v.adminKey, body: { mode: "enforce", shadow_default: "deny", reason: "be strict meanwhile" } });
    expect(changed.body).toMatchObject({ mode: "enforce", shadow_default: "deny", changed: true });
    expect((await clear("export", { rows: 1 }))).toMatchObject({ status: "denied", reason_code: "shadow_default" });
    // Back to enforcing: the policy decides again (its default approve), nothing shadowed.
    expect((await setMode("exports", "enforce")).body).toMatchObject({ mode: "enforce", changed: true });
    const back = await clear("export", { rows: 1 });
    expect(back).toMatchObject({ status: "approved", reason_code: "policy_default" });
    expect((await stored(back.request_id)).judge_trace.shadow).toBeUndefined();
  });

  it("a tenant in shadow mode: every policy shadows and every request gets the shadow default", async () => {
    expect((await call(v.url, "PUT", "/policy-mode", { key: v.adminKey, body: { mode: "shadow", shadow_default: "review" } })).body).toMatchObject({ mode: "shadow", changed: true });
    try {
      const answer = await clear("payout", { amount: 80 });
      expect(answer).toMatchObject({ status: "pending_review", reason_code: "shadow_default" });
      expect(answer.reason).toContain("tenant is in shadow mode");
      const shadow = (await stored(answer.request_id)).judge_trace.shadow as { policy_id: string; decision: string }[];
      expect(shadow.map((s) => [s.policy_id, s.decision])).toEqual([
        ["payouts", "approve"],
        ["payouts-strict", "deny"],
      ]);
      const view = (await call(v.url, "GET", "/policy-mode", { key: reviewer })).body;
      expect(view).toMatchObject({ mode: "shadow", shadow_default: "review", policies: expect.arrayContaining([expect.objectContaining({ policy_id: "payouts-strict", mode: "shadow" })]) });
    } finally {
      await call(v.url, "PUT", "/policy-mode", { key: v.adminKey, body: { mode: "enforce", shadow_default: "review" } });
    }
  });

  it("only admins change modes; reviewers read them; an unknown policy is 404; a misspelled member is 400", async () => {
    expect((await setMode("payouts", "shadow", reviewer)).body.code).toBe("insufficient_scope");
    expect((await call(v.url, "PUT", "/policy-mode", { key: agent, body: { mode: "shadow" } })).body.code).toBe("insufficient_scope");
    expect((await setMode("nope", "shadow")).body.code).toBe("policy_not_found");
    expect((await call(v.url, "PUT", "/policies/payouts/mode", { key: v.adminKey, body: { mode: "shadow", mdoe: 1 } })).body.code).toBe("validation_failed");
    expect((await setMode("payouts", "observe")).status).toBe(400);
    expect((await call(v.url, "GET", "/policies/payouts/mode", { key: reviewer })).body).toMatchObject({ mode: "enforce", changed_at: null });
  });

  it("an approval is not re-issued (/mint-token) once its policy switched to shadow", async () => {
    const approved = await clear("payout", { amount: 10 });
    const mint = (key: string) =>
      call(v.url, "POST", "/mint-token", { key, body: { original_request_id: approved.request_id, tool_name: "payout", tool_args: { amount: 10 }, agent_id: "bot" } });
    // payouts-strict (in shadow) does not count among the policies the approval rests on.
    expect((await mint(agent)).status).toBe(200);
    await setMode("payouts", "shadow");
    try {
      expect((await mint(agent)).body.code).toBe("approval_not_reusable");
    } finally {
      await setMode("payouts", "enforce");
    }
  });

  it("every event of the tenant, shadow chunks and audit details included, hashes the same through the SDK's key conversion", async () => {
    await v.vault.ctx.ledgerLoop.drain();
    const entries = await fetchLedger(v.url, v.adminKey, 1000);
    expect(entries.some((e) => e.evidenceChunks.some((c) => c.type === "shadow"))).toBe(true);
    expect(entries.some((e) => e.toolName === "audit:tenant.mode_changed")).toBe(true);
    const raw = (await call(v.url, "GET", "/ledger?limit=1000", { key: v.adminKey })).body.entries as Record<string, any>[];
    for (const e of raw) {
      expect(eventHashOf(toCamelCaseKeys(e) as SdkEventFields), e.tool_name).toBe(e.event_hash);
    }
    const result = verifyLedgerProof(entries, await fetchLedgerCheckpoints(v.url, v.adminKey, 100), await fetchJwks(v.url, v.adminKey));
    expect(result.intact).toBe(true);
  });

  it("the shadow decisions survive the remote judge's wire (countersign judge → JudgeClient → fail-closed check)", async () => {
    await setMode("payouts-strict", "shadow");
    const judgeApp = buildJudgeServer({
      apiKey: "judge-key",
      judge: v.vault.ctx.judge,
      embeddings: { model: "m", embed: async () => ({ model: "m", vectors: [] }) },
      limiter: new RateLimiter({ rps: 0, burst: 1, ttlSeconds: 60 }, new ManualClock()),
      log: pino({ level: "silent" }),
      ready: async () => {},
    });
    await judgeApp.listen({ host: "127.0.0.1", port: 0 });
    try {
      const client = new JudgeClient(`http://127.0.0.1:${(judgeApp.server.address() as AddressInfo).port}`, "judge-key", 10_000, 1 << 20);
      const verdict = await new FailClosedJudge(client, 10_000, pino({ level: "silent" })).evaluate({
        tenantId: v.tenantId, requestId: "req_wire", tool: "payout", args: { amount: 70 }, context: {}, agentId: "bot", sessionId: "", humanPrincipal: null,
      });
      expect(verdict).toMatchObject({ decision: "approve", reason_code: "condition_matched" });
      expect(verdict.trace.shadow).toEqual([expect.objectContaining({ policy_id: "payouts-strict", decision: "deny", matched_condition_ids: ["payouts-strict/over-50"] })]);
    } finally {
      await judgeApp.close();
    }
  });
});

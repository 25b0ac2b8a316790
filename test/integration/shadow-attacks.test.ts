import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CelPool } from "../../src/policies/cel-pool.js";
import { replayBodySchema } from "../../src/requests/replay-schema.js";
import { DEFAULT_REPLAY_SETTINGS, ReplayService } from "../../src/requests/replay-service.js";
import { allowPrivate } from "../helpers/outbox-api.js";
import { OpenAiTestServer } from "../helpers/openai-test-server.js";
import { recordHistory } from "../helpers/recorded-history.js";
import { call, newDatabase, newKey, newPgDatabase, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

/**
 * Shadow mode and replay under attack (review R4 of issue 17): a stale cache, an agent naming a shadow
 * policy, a notification filter, hostile replay candidates and misleading replay histories. Each case
 * failed before its fix.
 */
const payouts = {
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
const register = async (v: TestVault, doc: unknown) => {
  const res = await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: doc });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
};
const setMode = async (v: TestVault, policy: string, mode: string) => {
  const res = await call(v.url, "PUT", `/policies/${policy}/mode`, { key: v.adminKey, body: { mode } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
};

describe("two vault processes on one database: a stale cached mode never keeps a policy disarmed", () => {
  let db: TestDatabase;
  let a: TestVault;
  let b: TestVault;
  let agentB: string;
  // Ten minutes: within this test, every cache entry of process B is as stale as it can be.
  const env = { VAULT_POLICY_CACHE_TTL_MS: "600000" };

  beforeAll(async () => {
    db = newPgDatabase();
    a = await startTestVault(db, { env });
    b = await startTestVault(db, { adminKey: a.adminKey, env });
    agentB = await newKey(b, "agent");
    await register(a, payouts);
    await register(a, strict);
  }, 120_000);
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await db?.drop();
  });

  const clearB = async (amount: number) => {
    const res = await call(b.url, "POST", "/request-clearance", { key: agentB, body: { tool_name: "payout", tool_args: { amount }, agent_id: "bot" } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body;
  };

  it("a policy switched back to enforce in process A enforces at once in process B (judge and /mint-token)", async () => {
    await setMode(a, "payouts-strict", "shadow");
    // B loads (and caches) the policies with payouts-strict in shadow: payouts approves 80.
    const before = await clearB(80);
    expect(before).toMatchObject({ status: "approved", policy_id: "payouts" });

    await setMode(a, "payouts-strict", "enforce");
    // B's cache still says shadow. The approval given under shadow is not re-issued by B: payouts-strict decides again.
    const mint = await call(b.url, "POST", "/mint-token", {
      key: agentB,
      body: { original_request_id: before.request_id, tool_name: "payout", tool_args: { amount: 80 }, agent_id: "bot" },
    });
    expect(mint.body.code).toBe("approval_not_reusable");
    // And the strict deny applies to a new request.
    expect(await clearB(80)).toMatchObject({ status: "denied", reason_code: "condition_matched", matched_condition_ids: ["payouts-strict/over-50"] });
  });

  it("a tenant switched back from shadow in A enforces at once in B, and a new shadow default applies at once", async () => {
    expect((await call(a.url, "PUT", "/policy-mode", { key: a.adminKey, body: { mode: "shadow", shadow_default: "approve" } })).status).toBe(200);
    // The other direction is the one allowed to wait: B keeps enforcing until its cache entry expires (documented).
    expect(await clearB(500)).toMatchObject({ status: "denied", policy_id: "payouts-strict" });
    b.vault.ctx.policies.invalidate(b.tenantId); // what the TTL's expiry does
    expect(await clearB(500)).toMatchObject({ status: "approved", reason_code: "shadow_default" });
    expect((await call(a.url, "PUT", "/policy-mode", { key: a.adminKey, body: { mode: "shadow", shadow_default: "deny" } })).status).toBe(200);
    expect(await clearB(10)).toMatchObject({ status: "denied", reason_code: "shadow_default" });
    expect((await call(a.url, "PUT", "/policy-mode", { key: a.adminKey, body: { mode: "enforce", shadow_default: "review" } })).status).toBe(200);
    expect(await clearB(500)).toMatchObject({ status: "denied", policy_id: "payouts-strict" });
  });
});

describe("shadow mode and replay against hostile callers (PGlite, with an LLM judge)", () => {
  let llm: OpenAiTestServer;
  let db: TestDatabase;
  let v: TestVault;
  let agent: string;

  beforeAll(async () => {
    llm = await OpenAiTestServer.start();
    db = newDatabase("pglite");
    v = await startTestVault(db, {
      env: {
        ...allowPrivate,
        // Email channels need SMTP configured; nothing listens there (only the outbox rows are read).
        SMTP_HOST: "127.0.0.1",
        SMTP_PORT: "9",
        SMTP_FROM: "vault@example.com",
        EVAL_MODEL: "openai/gpt-test",
        LLM_BASE_URL: `${llm.url}/v1`,
        LLM_API_KEY: "sk-test",
        EMBEDDING_MODEL: "openai/test-embed",
        EMBEDDING_BASE_URL: `${llm.url}/v1`,
        EMBEDDING_API_KEY: "sk-test",
      },
    });
    agent = await newKey(v, "agent");
  }, 120_000);
  afterAll(async () => {
    await v?.close();
    await llm?.close();
    await db?.drop();
  });

  // First: the replay window holds no live request of the tests below.
  it("replay skips recorded decisions the judge could not make (fail-closed reviews), and the candidate's own LLM failures", async () => {
    const refunds = { policy_id: "refunds", tools: ["refund"], conditions: [{ id: "big", when: "args.amount > 1000", decision: "deny", reason: "big" }], default_decision: "review" };
    await register(v, refunds);
    const now = Date.now();
    const at = (i: number) => new Date(now - 10_000 - i * 1000);
    await recordHistory(await v.vault.ctx.tenantDbs.get(v.tenantId), [
      // Judged as the policy decides: 2000 denied, 10 reviewed by its default.
      { tool: "refund", args: { amount: 2000 }, end: "denied", createdAt: at(0), policyId: "refunds" },
      { tool: "refund", args: { amount: 10 }, end: "pending", createdAt: at(1), policyId: "refunds" },
      // The judge could not decide these: their review is no policy's decision.
      { tool: "refund", args: { amount: 2000 }, end: "failed_closed", createdAt: at(2) },
      { tool: "refund", args: { amount: 2000 }, end: "failed_closed", createdAt: at(3) },
      // No policy covered the tool: that review is the policies' answer, compared as such.
      { tool: "wire", args: { amount: 5 }, end: "no_policy", createdAt: at(4) },
    ]);
    // The candidate is the live policy itself: nothing can change.
    const same = (await call(v.url, "POST", "/policies/refunds/replay", { key: v.adminKey, body: { candidate: refunds, since: "1h" } })).body;
    expect(same).toMatchObject({ evaluated: 3, skipped: 2, skipped_by_reason: { undecided: 0, failed_closed: 2, unreadable: 0, error: 0 }, changed_total: 0 });
    expect(same.transitions).toEqual({ "denied→denied": 1, "review→review": 2 });

    // with_llm while the model refuses everything: the LLM's open requests are errors, not reviews the candidate chose.
    llm.reset();
    llm.fallback = () => ({ refusal: "I cannot help with that" });
    const res = await call(v.url, "POST", "/policies/refunds/replay", { key: v.adminKey, body: { candidate: refunds, since: "1h", with_llm: true } });
    expect(res.status, JSON.stringify(res.body).slice(0, 400)).toBe(200);
    expect(res.body).toMatchObject({ evaluated: 2, skipped_by_reason: { failed_closed: 2, error: 1 }, changed_total: 0, relied_on_llm_count: 0 });
  }, 120_000);

  it("a candidate whose conditions keep running over their CEL budget stops the replay (each such run costs a worker)", async () => {
    const to = Array.from({ length: 3000 }, (_, i) => `r${i}`);
    const now = Date.now();
    await recordHistory(
      await v.vault.ctx.tenantDbs.get(v.tenantId),
      Array.from({ length: 30 }, (_, i) => ({ tool: "send", args: { to }, end: "approved" as const, createdAt: new Date(now - 5000 - i * 1000) })),
    );
    const costly = { policy_id: "sends", tools: ["send"], conditions: [{ id: "echo", when: 'args.to.exists(r, r + "x" in args.to)', decision: "review", reason: "echo" }], default_decision: "approve" };
    // The vault's own parts, with a small pool and budget of its own so the test is quick.
    const { ctx } = v.vault;
    const pool = new CelPool({ workers: 1, timeoutMs: 20, queueWaitMs: 30_000 });
    try {
      const parts = { conditions: pool, retriever: null, llm: null, credentials: null, log: pino({ level: "silent" }) };
      const settings = { ...DEFAULT_REPLAY_SETTINGS, timeBudgetMs: 120_000, inFlight: 2, maxOverBudget: 3 };
      const service = new ReplayService({ parts, policies: ctx.policies, reviewSettings: ctx.reviewSettings, ledger: ctx.ledger, clock: ctx.clock, settings });
      const report = await service.run(await ctx.tenantDbs.get(v.tenantId), v.tenantId, "test", "sends", replayBodySchema.parse({ candidate: costly, since: "1h" }));
      expect(report.stopped).toBe("condition_timeouts");
      expect(report.evaluated).toBeGreaterThanOrEqual(3);
      expect(report.evaluated).toBeLessThanOrEqual(4);
      expect(report.transitions).toEqual({ "approved→review": report.evaluated });
    } finally {
      await pool.close();
    }
  }, 120_000);

  /** The request's decision: with an LLM judge the vault queues, so a slow first answer (202) is waited for. */
  const decided = async (res: { status: number; body: any }) => {
    if (res.status !== 202) return res;
    return call(v.url, "GET", `/clearance-status/${res.body.request_id}?wait=30`, { key: agent });
  };

  it("an agent naming a shadow policy in context.policy_id does not escape the enforcing deny (even with an approve shadow default)", async () => {
    await register(v, strict);
    await register(v, { policy_id: "payouts-next", tools: ["payout"], conditions: [], default_decision: "approve" });
    await setMode(v, "payouts-next", "shadow");
    expect((await call(v.url, "PUT", "/policy-mode", { key: v.adminKey, body: { mode: "enforce", shadow_default: "approve" } })).status).toBe(200);
    try {
      const res = await decided(
        await call(v.url, "POST", "/request-clearance", {
          key: agent,
          body: { tool_name: "payout", tool_args: { amount: 5000 }, agent_id: "bot", context: { policy_id: "payouts-next" } },
        }),
      );
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body).toMatchObject({ status: "denied", policy_id: "payouts-strict", matched_condition_ids: ["payouts-strict/over-50"] });
      const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
      const [row] = await sql.query<{ judge_trace: { shadow: { policy_id: string; decision: string }[] } }>("SELECT judge_trace FROM clearance_requests WHERE id = $1", [res.body.request_id]);
      expect(row!.judge_trace.shadow.map((s) => [s.policy_id, s.decision])).toEqual([["payouts-next", "approve"]]);
    } finally {
      await call(v.url, "PUT", "/policy-mode", { key: v.adminKey, body: { mode: "enforce", shadow_default: "review" } });
      await setMode(v, "payouts-next", "enforce");
    }
  });

  it("registering a new version of a shadow policy says in its answer that the policy only logs", async () => {
    await register(v, strict);
    await setMode(v, "payouts-strict", "shadow");
    try {
      const answer = await register(v, { ...strict, conditions: [{ ...strict.conditions[0], when: "args.amount > 40" }] });
      expect(answer.version).toBe(2);
      expect(answer.warnings).toContainEqual(expect.objectContaining({ code: "shadow_mode", message: expect.stringContaining("log-only") }));
    } finally {
      await setMode(v, "payouts-strict", "enforce");
    }
    expect((await register(v, strict)).warnings.map((w: { code: string }) => w.code)).toEqual(["default_approve"]);
  });

  it("a switch to log-only is notified whatever the channel's notify filter; a switch back follows the filter", async () => {
    const hook = "http://127.0.0.1:9/hook";
    const settings = { slack: { webhook_url: hook, notify: ["review.requested"] }, email: { recipients: ["sec@example.com"], notify: ["review.requested"] } };
    expect((await call(v.url, "PUT", "/notification-settings", { key: v.adminKey, body: settings })).status).toBe(200);
    const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
    const notices = async () =>
      (await sql.query<{ kind: string; payload: string }>("SELECT kind, payload FROM outbox WHERE event_type = 'policy.mode_changed' AND kind IN ('slack', 'email') ORDER BY id")).map(
        (r) => ({ kind: r.kind, text: r.payload }),
      );
    await register(v, strict);
    const before = (await notices()).length;
    await setMode(v, "payouts-strict", "shadow");
    const toShadow = (await notices()).slice(before);
    expect(toShadow.map((n) => n.kind).sort()).toEqual(["email", "slack"]);
    expect(toShadow.every((n) => n.text.includes("log-only"))).toBe(true);
    await setMode(v, "payouts-strict", "enforce");
    expect((await notices()).length).toBe(before + 2);
    // A more lenient shadow default is a weakening too.
    expect((await call(v.url, "PUT", "/policy-mode", { key: v.adminKey, body: { mode: "enforce", shadow_default: "approve" } })).status).toBe(200);
    const lenient = (await notices()).slice(before + 2);
    expect(lenient).toHaveLength(2);
    expect(lenient[0]!.text).toContain("review to approve");
    expect((await call(v.url, "PUT", "/policy-mode", { key: v.adminKey, body: { mode: "enforce", shadow_default: "review" } })).status).toBe(200);
    expect((await notices()).length).toBe(before + 4);
  });

  it("hostile candidate texts are 400s, fast, and the vault keeps serving (deep nesting crashed the process)", async () => {
    const replay = (candidate: string) => call(v.url, "POST", "/policies/payouts-strict/replay", { key: v.adminKey, body: { candidate } });
    const deep = "[".repeat(5000) + "]".repeat(5000);
    const aliasBomb = `a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [${Array(10).fill("*a").join(",")}]\nc: &c [${Array(10).fill("*b").join(",")}]\nd: [${Array(101).fill("*c").join(",")}]\n`;
    const manyKeys = Array.from({ length: 40_000 }, (_, i) => `k${i}: v`).join("\n");
    const dupKeys = "policy_id: payouts-strict\npolicy_id: payouts\ntools: [payout]\n";
    for (const [name, text] of [["deep", deep], ["deep again", deep], ["block", "a:\n" + Array.from({ length: 900 }, (_, i) => " ".repeat(i + 1) + "a:").join("\n")], ["alias bomb", aliasBomb], ["many keys", manyKeys], ["duplicate keys", dupKeys]]) {
      const started = performance.now();
      const res = await replay(text!);
      expect(res.status, `${name}: ${JSON.stringify(res.body).slice(0, 300)}`).toBe(400);
      expect(res.body.code, name).toBe("validation_failed");
      expect(performance.now() - started, name).toBeLessThan(10_000);
    }
    expect((await call(v.url, "GET", "/healthz")).status).toBe(200);
    // Extreme windows are answered, never a 5xx.
    for (const since of ["999999d", "0001-01-01", "9999-12-31T23:59:59Z", "0m"]) {
      const res = await call(v.url, "POST", "/policies/payouts-strict/replay", { key: v.adminKey, body: { candidate: strict, since, limit: 10 } });
      expect(res.status, `${since}: ${JSON.stringify(res.body).slice(0, 300)}`).toBeLessThan(500);
    }
  }, 120_000);

});

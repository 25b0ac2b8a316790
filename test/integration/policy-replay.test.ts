import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import YAML from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pino from "pino";
import { policyModeAction, tenantModeAction } from "../../src/main/cli/shadow-actions.js";
import { CelPool } from "../../src/policies/cel-pool.js";
import { replayBodySchema } from "../../src/requests/replay-schema.js";
import { DEFAULT_REPLAY_SETTINGS, ReplayService } from "../../src/requests/replay-service.js";
import { RemoteVault } from "../../src/main/cli/vault-clients.js";
import { auditRecordOf } from "../../src/ledger/core/audit-event.js";
import { trustedKeysFromJwks, verifyProofBundle } from "../../src/ledger/verify/bundle-verifier.js";
import { excerptsOf, OpenAiTestServer, userMessage, type ChatReply, type RecordedRequest } from "../helpers/openai-test-server.js";
import { recordHistory, type RecordedEnd, type RecordedSpec } from "../helpers/recorded-history.js";
import { call, newDatabase, newKey, newTenant, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

/**
 * Replay (docs/shadow-mode.md#replay) over a recorded history of 10,354 clearance requests, with
 * counts derived by hand from how the history was made, not from the vault's code.
 *
 * The live policy `refunds` denies amounts over 1000 and approves up to 100 (else review). The history
 * holds 10,000 refunds with amount = i mod 2000 (each amount 0..1999 five times) decided that way,
 * 300 transfers under another policy, 50 requests without a decision, 4 real submissions, and rows the
 * replay must not read (older than the window, or re-issues). The candidate denies over 500 and
 * approves up to 200, so: 0..100 approved→approved, 101..200 review→approved, 201..500 review→review,
 * 501..1000 review→denied, 1001..1999 denied→denied.
 */
const live = {
  policy_id: "refunds",
  description: "Customer refunds",
  tools: ["refund"],
  conditions: [
    { id: "over-1000", when: "args.amount > 1000", decision: "deny", reason: "over 1000" },
    { id: "small", when: "args.amount <= 100", decision: "approve", reason: "small refund" },
  ],
  default_decision: "review",
};
const candidate = {
  ...live,
  conditions: [
    { id: "over-500", when: "args.amount > 500", decision: "deny", reason: "over 500" },
    { id: "up-to-200", when: "args.amount <= 200", decision: "approve", reason: "up to 200" },
  ],
};
const transfers = { policy_id: "transfers", tools: ["transfer"], conditions: [{ id: "any", when: "true", decision: "approve", reason: "ok" }], default_decision: "review" };

const DAY = 86_400_000;
const N = 10_000;

/** How the live policy decided an amount, and what became of a review (some were approved or denied by reviewers). */
function liveEnd(amount: number, i: number): RecordedEnd {
  if (amount > 1000) return "denied";
  if (amount <= 100) return "approved";
  return (["pending", "review_approved", "review_denied"] as const)[i % 3]!;
}

describe("replay over 10,354 recorded requests (PostgreSQL)", () => {
  let db: TestDatabase;
  let v: TestVault;
  let agent: string;
  const replay = (body: unknown, key = v.adminKey, policy = "refunds", url = v.url) => call(url, "POST", `/policies/${policy}/replay`, { key, body });
  /** The real command line against the test vault: exit code, stdout and stderr. */
  const cli = async (...args: string[]) => {
    try {
      const { stdout, stderr } = await promisify(execFile)("node", ["--import", "tsx", "src/main/cli.ts", "--url", v.url, "--api-key", v.adminKey, "policies", ...args], {
        env: { ...process.env, LOG_LEVEL: "silent", COUNTERSIGN_URL: "", COUNTERSIGN_API_KEY: "" },
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  beforeAll(async () => {
    db = newDatabase("postgres");
    v = await startTestVault(db);
    agent = await newKey(v, "agent");
    for (const p of [live, transfers]) expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: p })).status).toBe(200);
    const now = Date.now();
    const at = (i: number) => new Date(now - 60_000 - i * 1000); // one a second, the newest a minute ago
    const specs: RecordedSpec[] = [];
    for (let i = 0; i < N; i++) specs.push({ tool: "refund", args: { amount: i % 2000, note: `refund ${i}` }, end: liveEnd(i % 2000, i), createdAt: at(i), policyId: "refunds" });
    for (let i = 0; i < 300; i++) specs.push({ tool: "transfer", args: { amount: i }, end: "approved", createdAt: at(N + i), policyId: "transfers" });
    for (let i = 0; i < 40; i++) specs.push({ tool: "refund", args: { amount: 700 }, end: "processing", createdAt: at(i) });
    for (let i = 0; i < 10; i++) specs.push({ tool: "refund", args: { amount: 700 }, end: "cancelled", createdAt: at(i) });
    // Not read: older than 30 days, and re-issued tokens (kind mint) of an approval.
    for (let i = 0; i < 100; i++) specs.push({ tool: "refund", args: { amount: 700 }, end: "review_approved", createdAt: new Date(now - 40 * DAY - i) });
    for (let i = 0; i < 20; i++) specs.push({ tool: "refund", args: { amount: 700 }, end: "approved", createdAt: at(i), kind: "mint" });
    await recordHistory(await v.vault.ctx.tenantDbs.get(v.tenantId), specs);
    // The CEL workers start on first use, seconds on a loaded machine: started here, so that no live
    // request below fails closed to review (condition_timeout), which replay would rightly skip.
    await v.vault.ctx.judge.evaluate({ tenantId: v.tenantId, requestId: "req_warm_up", tool: "refund", args: { amount: 1 }, context: {}, agentId: "warm", sessionId: "", humanPrincipal: null });
    // And four requests through the real path, so the recorded shape is the lifecycle's own.
    for (const [amount, status] of [[50, "approved"], [150, "pending_review"], [700, "pending_review"], [1500, "denied"]] as const) {
      const res = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "refund", tool_args: { amount, note: "live" } } });
      expect(res.status).toBe(200);
      expect(res.body, JSON.stringify(res.body).slice(0, 300)).toMatchObject({ status });
    }
  }, 300_000);
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it("counts every old → new decision exactly, lists the changed requests, and writes nothing but its audit event", async () => {
    const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
    const counts = async () => (await sql.query<{ r: number; l: number; o: number }>(
      "SELECT (SELECT count(*)::int FROM clearance_requests) AS r, (SELECT count(*)::int FROM ledger_events) AS l, (SELECT count(*)::int FROM outbox) AS o",
    ))[0]!;
    const before = await counts();
    const res = await replay({ candidate, since: "30d", limit: 20_000 });
    expect(res.status, JSON.stringify(res.body).slice(0, 500)).toBe(200);
    const report = res.body;
    expect(report).toMatchObject({
      policy_id: "refunds",
      requests: 10_354,
      evaluated: 10_304,
      skipped: 50,
      skipped_by_reason: { undecided: 50, failed_closed: 0, unreadable: 0, error: 0 },
      stopped: null,
      with_llm: false,
      relied_on_llm_count: 0,
      llm_not_replayed: 0,
    });
    expect(report.transitions).toEqual({
      "approved→approved": 505 + 300 + 1,
      "denied→denied": 4995 + 1,
      "review→approved": 500 + 1,
      "review→denied": 2500 + 1,
      "review→review": 1500,
    });
    expect(report.changed_total).toBe(3002);
    expect(report.changed).toHaveLength(500);
    // Newest first: the live submissions, then the history from its newest row.
    expect(report.changed.every((c: any) => (c.old === "review" && (c.new === "approved" || c.new === "denied")))).toBe(true);
    const denied = report.changed.find((c: any) => c.new === "denied");
    expect(denied).toMatchObject({ tool: "refund", matched_condition_ids: ["refunds/over-500"], reason_code: "condition_matched", relied_on_llm: false });
    const times = report.changed.map((c: any) => Date.parse(c.created_at));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(report.candidate_content_hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(report.replaced_version).toMatchObject({ version: 1 });

    const after = await counts();
    expect(after).toEqual({ r: before.r, l: before.l + 1, o: before.o });
    // The policy itself is untouched: still version 1, still deciding as before.
    expect((await call(v.url, "GET", "/policies/refunds", { key: v.adminKey })).body.version).toBe(1);
    expect((await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "refund", tool_args: { amount: 700 } } })).body.status).toBe("pending_review");

    await v.vault.ctx.ledgerLoop.drain();
    const bundle = await call(v.url, "GET", `/ledger/proof/bundle?request_id=${report.replay_id}`, { key: v.adminKey });
    expect(bundle.status, JSON.stringify(bundle.body)).toBe(200);
    expect(bundle.body.event.event_uuid).toBe(report.ledger_event_uuid);
    expect(auditRecordOf(bundle.body.event)).toMatchObject({
      action: "policy.replayed",
      subject_id: report.replay_id,
      policy_id: "refunds",
      details: {
        candidate: report.candidate_content_hash,
        requests: 10_354,
        evaluated: 10_304,
        skipped: 50,
        changed: 3002,
        transitions: Object.entries(report.transitions).map(([pair, count]) => ({ from: pair.split("→")[0], to: pair.split("→")[1], count })),
        llm: false,
        relied: 0,
      },
    });
    const jwks = (await call(v.url, "GET", "/.well-known/jwks.json")).body;
    expect(verifyProofBundle(bundle.body, trustedKeysFromJwks(jwks)).checks.filter((c) => !c.ok)).toEqual([]);
  }, 120_000);

  it("stops at the limit and says so; the window bounds what is read", async () => {
    const limited = (await replay({ candidate, limit: 1000 })).body;
    // 10,354 and the one request the test before sent to check the policy still decides as before.
    expect(limited).toMatchObject({ requests: 10_355, stopped: "limit" });
    expect(limited.evaluated + limited.skipped).toBe(1000);
    // The last hour holds the 4 live requests, the 50 undecided ones and the newest ~3,540 history rows.
    const hour = (await replay({ candidate, since: "1h", limit: 100_000 })).body;
    expect(hour.stopped).toBeNull();
    expect(hour.requests).toBe(hour.evaluated + hour.skipped);
    expect(hour.requests).toBeLessThan(4000);
    expect(hour.requests).toBeGreaterThan(3000);
  }, 120_000);

  it("a time budget stops it between requests, and the report says so", async () => {
    // The vault's own parts, with a clock that moves 1 ms each time it is read: the budget runs out mid-page.
    const { ctx } = v.vault;
    const start = Date.now();
    let reads = 0;
    const ticking = { nowMs: () => start + reads++, now: () => new Date(start + reads++) };
    const pool = new CelPool({ workers: 1, timeoutMs: 2000, queueWaitMs: 10_000 });
    try {
      const parts = { conditions: pool, retriever: null, llm: null, credentials: null, log: pino({ level: "silent" }) };
      const service = new ReplayService({ parts, policies: ctx.policies, reviewSettings: ctx.reviewSettings, ledger: ctx.ledger, clock: ticking, settings: { ...DEFAULT_REPLAY_SETTINGS, timeBudgetMs: 300 } });
      const report = await service.run(await ctx.tenantDbs.get(v.tenantId), v.tenantId, "test", "refunds", replayBodySchema.parse({ candidate, limit: 20_000 }));
      expect(report.stopped).toBe("time_budget");
      expect(report.evaluated + report.skipped).toBeGreaterThan(0);
      expect(report.evaluated + report.skipped).toBeLessThan(500);
      expect(Object.values(report.transitions).reduce((a, b) => a + b, 0)).toBe(report.evaluated);
    } finally {
      await pool.close();
    }
  }, 60_000);

  it("a candidate equal to the live policy changes nothing; a new policy id is replayed as an addition", async () => {
    const same = (await replay({ candidate: live, limit: 20_000 })).body;
    expect(same.changed_total).toBe(0);
    expect(Object.keys(same.transitions).every((k) => k.split("→")[0] === k.split("→")[1])).toBe(true);
    const added = await replay({ candidate: { policy_id: "refund-cap", tools: ["refund"], conditions: [{ id: "cap", when: "args.amount > 1500", decision: "deny", reason: "cap" }], default_decision: "approve" }, limit: 20_000 }, v.adminKey, "refund-cap");
    expect(added.status).toBe(200);
    expect(added.body.replaced_version).toBeNull();
    // Deny beats the live policy's approve/review only above 1500 (all already denied): nothing changes.
    expect(added.body.changed_total).toBe(0);
  }, 120_000);

  it("takes the candidate as YAML text; refuses bad candidates, a mismatched id and non-admins with stable codes", async () => {
    const yaml = `policy_id: refunds\ntools: [refund]\nconditions:\n  - id: over-500\n    when: args.amount > 500\n    decision: deny\ndefault_decision: review\n`;
    const fromText = await replay({ candidate: yaml, limit: 100 });
    expect(fromText.status, JSON.stringify(fromText.body)).toBe(200);
    expect((await replay({ candidate: "policy_id: [unclosed" })).body).toMatchObject({ status: 400, code: "validation_failed" });
    expect((await replay({ candidate: { ...candidate, condtions: [] } })).body.code).toBe("validation_failed");
    expect((await replay({ candidate: { ...candidate, conditions: [{ id: "x", when: "args.amount >", decision: "deny" }] } })).body.code).toBe("invalid_condition");
    expect((await replay({ candidate: { ...candidate, policy_id: "transfers" } })).body).toMatchObject({ code: "validation_failed" });
    expect((await replay({ candidate, since: "yesterday" })).body.code).toBe("validation_failed");
    expect((await replay({ candidate, limit: 100_001 })).body.code).toBe("validation_failed");
    expect((await replay({ candidate, with_llm: true })).body).toMatchObject({ status: 409, code: "replay_llm_unavailable" });
    expect((await replay({ candidate }, await newKey(v, "reviewer"))).body.code).toBe("insufficient_scope");
    expect((await replay({ candidate }, agent)).body.code).toBe("insufficient_scope");
  }, 60_000);

  it("the command line: `policies replay` prints the table and the changed requests; `policies mode` and `tenant-mode` switch and show", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "cs-replay-cli-"));
    try {
      const file = path.join(dir, "refunds.yaml");
      writeFileSync(file, YAML.stringify(candidate));
      // The same replay through the API first: the printed table must say exactly what the report says.
      const report = (await replay({ candidate, limit: 20_000 })).body;
      const text = await cli("replay", "--policy", "refunds", "--candidate", file, "--since", "30d", "--limit", "20000");
      expect(text.code, text.stderr).toBe(0);
      for (const [pair, n] of Object.entries(report.transitions as Record<string, number>)) {
        const [from, to] = pair.split("→");
        expect(text.stdout).toMatch(new RegExp(`\\n${from} → ${to}\\s+${n}${from === to ? "\\n" : "\\s+changed\\n"}`));
      }
      expect(report.changed_total).toBeGreaterThan(3000);
      expect(text.stdout).toContain(`${report.changed_total} would change`);
      expect(text.stdout).toContain(`… ${report.changed_total - 50} more`);
      expect(text.stdout).toMatch(/recorded as ledger event [0-9a-f-]{36}/);
      const json = await cli("replay", "--policy", "refunds", "--candidate", file, "--limit", "100", "--json");
      expect(json.code, json.stderr).toBe(0);
      expect(JSON.parse(json.stdout)).toMatchObject({ policy_id: "refunds", stopped: "limit", evaluated: expect.any(Number) });
      expect((await cli("replay", "--policy", "refunds", "--candidate", path.join(dir, "missing.yaml"))).stderr).toContain("no such file");
      expect((await cli("replay", "--policy", "refunds", "--candidate", file, "--limit", "0")).code).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const api = RemoteVault.at(v.url, v.adminKey);
    expect((await policyModeAction(api, "transfers", "shadow", "observe")).text).toMatch(/^transfers: shadow \(log-only: its decisions are recorded, not enforced\); recorded as ledger event /);
    expect((await policyModeAction(api, "transfers", undefined, undefined)).text).toMatch(/^transfers: shadow \(set .* by /);
    expect((await tenantModeAction(api, undefined, {})).text).toBe("tenant: enforce, shadow default review\npolicies in shadow: transfers");
    const mode = await cli("mode", "transfers", "enforce");
    expect(mode.code, mode.stderr).toBe(0);
    expect(mode.stdout).toMatch(/^transfers: enforce; recorded as ledger event /);
    expect((await cli("mode", "transfers", "observe")).code).toBe(2);
  }, 180_000);

  it("one replay per tenant at a time (409 replay_in_progress); other tenants' requests are answered meanwhile", async () => {
    const other = await newTenant(v, "other-tenant");
    expect((await call(v.url, "POST", "/register-policy", { key: other.adminKey, body: transfers })).status).toBe(200);
    const otherAgent = await newKey(v, "agent", other.tenantId);
    let replayDone = 0;
    const first = replay({ candidate, limit: 20_000 }).then((r) => ((replayDone = performance.now()), r));
    await new Promise((r) => setTimeout(r, 150));
    const second = await replay({ candidate, limit: 10 });
    const clearedAt: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await call(v.url, "POST", "/request-clearance", { key: otherAgent, body: { tool_name: "transfer", tool_args: { amount: i } } });
      expect(res.body.status).toBe("approved");
      clearedAt.push(performance.now());
    }
    const done = await first;
    expect(done.status).toBe(200);
    expect(second.body).toMatchObject({ status: 409, code: "replay_in_progress" });
    // The other tenant's five clearances all came back while the replay was still running.
    expect(Math.max(...clearedAt)).toBeLessThan(replayDone);
    // Once it finished, the tenant may replay again.
    expect((await replay({ candidate, limit: 10 })).status).toBe(200);
  }, 120_000);
});

describe("replay with the LLM step (an OpenAI-compatible test server)", () => {
  let llm: OpenAiTestServer;
  let db: TestDatabase;
  let v: TestVault;
  // Text the judge retrieves; conditions only for the extremes.
  const support = {
    policy_id: "support-refunds",
    description: "# Refunds\n\nRefunds of damaged goods are handled by support agents.",
    rules: ["Refunds for damaged goods need a photo of the damage"],
    tools: ["refund"],
    conditions: [{ id: "over-1000", when: "args.amount > 1000", decision: "deny", reason: "over 1000" }],
    default_decision: "review",
  };
  const supportCandidate = {
    ...support,
    rules: ["Refunds for damaged goods under 300 dollars are approved without a photo"],
    conditions: [{ id: "over-800", when: "args.amount > 800", decision: "deny", reason: "over 800" }],
  };
  // Amounts 0, 20, …, 1180: 41 up to 800 (the LLM's), 10 in 801..1000 (the candidate's condition), 9 over 1000.
  const amounts = Array.from({ length: 60 }, (_, i) => i * 20);

  beforeAll(async () => {
    llm = await OpenAiTestServer.start();
    db = newDatabase("pglite");
    v = await startTestVault(db, {
      env: {
        EVAL_MODEL: "openai/gpt-test",
        LLM_BASE_URL: `${llm.url}/v1`,
        LLM_API_KEY: "sk-test",
        EMBEDDING_MODEL: "openai/test-embed",
        EMBEDDING_BASE_URL: `${llm.url}/v1`,
        EMBEDDING_API_KEY: "sk-test",
      },
    });
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: support })).status).toBe(200);
    // Recorded as the live LLM left them: over 1000 denied, the rest sent to review.
    const now = Date.now();
    await recordHistory(
      await v.vault.ctx.tenantDbs.get(v.tenantId),
      amounts.map((amount, i) => ({ tool: "refund", args: { amount, reason: "damaged goods" }, end: amount > 1000 ? "denied" : "pending", createdAt: new Date(now - 1000 * (i + 1)) })),
    );
  }, 120_000);
  afterAll(async () => {
    await v?.close();
    await llm?.close();
    await db?.drop();
  });

  it("with_llm: the LLM decides what the conditions leave open, on the candidate's text embedded in memory; the report says which", async () => {
    llm.reset();
    // The model approves under 300 and reviews the rest, citing what it was shown.
    llm.fallback = (req: RecordedRequest): ChatReply => {
      const amount = Number(/"amount":\s*(\d+)/.exec(userMessage(req))?.[1]);
      const cited = excerptsOf(req).map((e) => e.chunk_id).slice(0, 1);
      return { json: { decision: amount < 300 ? "yes" : "review", reasoning: `scripted for ${amount}`, confidence_bucket: "high", cited_chunk_ids: cited } };
    };
    const res = await call(v.url, "POST", "/policies/support-refunds/replay", { key: v.adminKey, body: { candidate: supportCandidate, with_llm: true } });
    expect(res.status, JSON.stringify(res.body).slice(0, 500)).toBe(200);
    const report = res.body;
    expect(report).toMatchObject({ evaluated: 60, skipped: 0, with_llm: true, relied_on_llm_count: 41, llm_not_replayed: 0 });
    // Under 300 (0..280: 15 amounts) the LLM approves; 300..800 stays review; 801..1000 the candidate denies.
    expect(report.transitions).toEqual({ "review→approved": 15, "review→review": 26, "review→denied": 10, "denied→denied": 9 });
    expect(report.changed.filter((c: any) => c.relied_on_llm)).toHaveLength(15);
    expect(report.changed.filter((c: any) => !c.relied_on_llm).every((c: any) => c.new === "denied" && c.matched_condition_ids[0] === "support-refunds/over-800")).toBe(true);
    // One chat per LLM decision, each shown the candidate's own rule (embedded in memory, never stored).
    const chats = llm.chatRequests();
    expect(chats).toHaveLength(41);
    const shown = excerptsOf(chats[0]!);
    expect(shown.some((e) => e.chunk_id.startsWith("candidate:") && e.text.includes("under 300 dollars"))).toBe(true);
    expect(shown.some((e) => e.text.includes("need a photo"))).toBe(false);
    const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
    expect((await sql.query<{ n: number }>("SELECT count(*)::int AS n FROM policy_chunks WHERE text LIKE '%under 300 dollars%'"))[0]!.n).toBe(0);
  }, 120_000);

  it("without with_llm the LLM is not called, and the report counts the decisions it would have made", async () => {
    llm.reset();
    const report = (await call(v.url, "POST", "/policies/support-refunds/replay", { key: v.adminKey, body: { candidate: supportCandidate } })).body;
    expect(report).toMatchObject({ evaluated: 60, relied_on_llm_count: 0, llm_not_replayed: 41 });
    expect(report.transitions).toEqual({ "review→review": 41, "review→denied": 10, "denied→denied": 9 });
    expect(llm.chatRequests()).toHaveLength(0);
  }, 60_000);
});

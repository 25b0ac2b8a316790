import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failClosedVerdict, type Judge, type JudgeInput, type Verdict } from "../../src/judge/judge.js";
import { call, newDatabase, newKey, refundPolicy, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

/** A judge whose behaviour each test scripts through the tool name. */
class ScriptedJudge implements Judge {
  release: (() => void)[] = [];
  async evaluate(input: JudgeInput): Promise<Verdict> {
    // The empty verdict with no policy and no evidence, turned into an approval.
    const approve: Verdict = {
      ...failClosedVerdict("unused", ""),
      decision: "approve",
      reason: "scripted approval",
      reason_code: null,
      confidence_bucket: "high",
      trace: {},
    };
    switch (input.tool) {
      case "throws":
        throw new Error("judge exploded");
      case "invalid":
        return { decision: "approve", reason: 42 } as unknown as Verdict;
      case "slow":
        await new Promise<void>((resolve) => this.release.push(resolve));
        return approve;
      case "hangs":
        return new Promise(() => {});
      default:
        return approve;
    }
  }
}

describe("queued clearance, fail-closed judge, backpressure and rate limits", () => {
  let db: TestDatabase;
  let v: TestVault;
  let agent: string;
  const judge = new ScriptedJudge();
  const clear = (tool: string) => call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: tool } });

  beforeAll(async () => {
    db = newDatabase("pglite");
    v = await startTestVault(db, {
      env: {
        VAULT_CLEARANCE_MODE: "queued",
        VAULT_CLEARANCE_ASYNC_WORKERS: "2",
        VAULT_CLEARANCE_ASYNC_QUEUE_SIZE: "4",
        VAULT_CLEARANCE_QUEUE_HIGH_WATERMARK_PERCENT: "75",
        VAULT_CLEARANCE_SYNC_WAIT_MS: "2000", // below the judge timeout, so the hanging judge still answers 202 first
        VAULT_JUDGE_TIMEOUT_MS: "3000",
        VAULT_RATE_LIMIT_RPS: "2",
        VAULT_RATE_LIMIT_BURST: "3",
      },
      overrides: { judge },
    });
    agent = await newKey(v, "agent");
  });
  afterAll(async () => {
    for (const r of judge.release) r();
    await v?.close();
    await db?.drop();
  });

  it("answers 200 when the queued decision lands within the wait budget", async () => {
    const res = await clear("fine");
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "approved", decision_status: "approved" });
    expect(typeof res.body.token).toBe("string");
  });

  it.each(["throws", "invalid", "hangs"])("turns a judge that %s into review, never approval", async (tool) => {
    await new Promise((r) => setTimeout(r, 1100)); // stay under the 2 rps limit of this suite
    const res = await clear(tool);
    const id = res.body.request_id;
    await v.vault.ctx.queue.drain();
    const status = await call(v.url, "GET", `/clearance-status/${id}`, { key: agent });
    expect(status.body).toMatchObject({ status: "pending_review", decision_status: "approved_pending_review", token: null, confidence_bucket: "none" });
    expect(["judge_unavailable", "judge_invalid_output", "judge_timeout"]).toContain(status.body.reason_code);
  });

  it("answers 202 then 429 with Retry-After once the queue passes its watermark", async () => {
    await new Promise((r) => setTimeout(r, 1600));
    // A key per request, so the per-key rate limit of this suite stays out of the way.
    const keys = await Promise.all([1, 2, 3, 4].map(() => newKey(v, "agent")));
    const slow = (i = 0) => call(v.url, "POST", "/request-clearance", { key: keys[i]!, body: { tool_name: "slow" } });
    const accepted = await Promise.all([slow(0), slow(1), slow(2)]);
    expect(accepted.map((r) => r.status)).toEqual([202, 202, 202]);
    const rejected = await slow(3);
    expect(rejected.status).toBe(429);
    expect(rejected.body.code).toBe("queue_saturated");
    expect(Number(rejected.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    // Release jobs as the two workers pick them up.
    while (v.vault.ctx.queue.depth() > 0) {
      for (const r of judge.release.splice(0)) r();
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const [i, r] of accepted.entries()) {
      const s = await call(v.url, "GET", `/clearance-status/${r.body.request_id}`, { key: keys[i]! });
      expect(s.body.status).toBe("approved");
    }
  });

  it("limits each API key to its rate and burst with 429 and Retry-After", async () => {
    const reviewer = await newKey(v, "reviewer");
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 6; i++) {
      const res = await call(v.url, "GET", "/clearance-status/req_missing", { key: reviewer });
      statuses.push(res.status);
      if (res.status === 429) retryAfter = res.headers.get("retry-after");
    }
    expect(statuses.slice(0, 3)).toEqual([404, 404, 404]);
    expect(statuses).toContain(429);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
  });
});

describe("no policy, no approval", () => {
  it("registers the refund policy fixture as valid CEL", async () => {
    const db = newDatabase("pglite");
    const v = await startTestVault(db);
    try {
      const res = await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy });
      expect(res.body).toMatchObject({ policy_id: "refund-policy", status: "registered", version: 1 });
    } finally {
      await v.close();
      await db.drop();
    }
  });
});

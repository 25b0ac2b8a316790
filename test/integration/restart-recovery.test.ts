import { afterEach, describe, expect, it } from "vitest";
import { MemoryClearanceQueue } from "../../src/requests/queue.js";
import type { Judge } from "../../src/judge/judge.js";
import { verifyLikeSdk } from "../helpers/sdk-checks.js";
import { call, newDatabase, newKey, refundPolicy, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

/** A judge that never answers: the vault acknowledges with 202 and the request stays in processing. */
const stuckJudge: Judge = { evaluate: () => new Promise(() => {}) };

describe.each<Engine>(["postgres", "pglite"])("a request answered 202 survives a restart (%s)", (engine) => {
  let db: TestDatabase | undefined;
  let running: TestVault | undefined;
  afterEach(async () => {
    await running?.close();
    await db?.drop();
  });

  it("is re-enqueued from the database at start-up and then decided", async () => {
    db = newDatabase(engine);
    const queuedEnv = { VAULT_CLEARANCE_MODE: "queued", VAULT_CLEARANCE_SYNC_WAIT_MS: "200", VAULT_JUDGE_TIMEOUT_MS: "600000" };
    const first = await startTestVault(db, {
      env: queuedEnv,
      overrides: { judge: stuckJudge, queue: new MemoryClearanceQueue(4, 50) },
    });
    running = first;
    await call(first.url, "POST", "/register-policy", { key: first.adminKey, body: refundPolicy });
    const agent = await newKey(first, "agent");
    const res = await call(first.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 8 } } });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: "processing", decision_status: "denied" });
    const requestId: string = res.body.request_id;
    expect(requestId).toMatch(/^req_/);
    await first.close();
    running = undefined;

    const second = await startTestVault(db, { env: queuedEnv, adminKey: first.adminKey });
    running = second;
    await second.vault.ctx.queue.drain();
    const status = await call(second.url, "GET", `/clearance-status/${requestId}`, { key: agent });
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ status: "approved", decision_status: "approved", request_id: requestId });
    await verifyLikeSdk(second.url, status.body.token);
  });
});

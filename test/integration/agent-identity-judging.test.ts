import type { AddressInfo } from "node:net";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { RateLimiter } from "../../src/http/rate-limit.js";
import { JudgeClient } from "../../src/judge/judge-client.js";
import { failClosedVerdict, type Judge, type JudgeInput } from "../../src/judge/judge.js";
import { buildJudgeServer } from "../../src/main/judge-service.js";
import { MemoryClearanceQueue } from "../../src/requests/queue.js";
import { agentSetup, claimBody, newAgent, PUBLIC_URL, send, type Agent } from "../helpers/agents.js";
import { newDatabase, newKey, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

/**
 * The verified signer reaches every judge: the queued judge (which reads the request back from its
 * row), a judge that takes the request over after a restart, and a remote `countersign judge`.
 */
const policy = {
  policy_id: "verified-only",
  description: "Deploys",
  rules: ["Only verified agents deploy"],
  tools: ["deploy"],
  conditions: [
    { id: "unverified", when: "agent.verified == false", decision: "deny", reason: "needs a verified agent" },
    { id: "verified", when: 'agent.verified && agent.namespace == "acme-corp" && "billing-api" in agent.services', decision: "approve", reason: "verified agent" },
  ],
  default_decision: "review",
};
const deploy = { tool_name: "deploy", tool_args: { env: "prod" } };
const stuckJudge: Judge = { evaluate: () => new Promise(() => {}) };
const queued = { VAULT_PUBLIC_URL: PUBLIC_URL, VAULT_CLEARANCE_MODE: "queued", VAULT_CLEARANCE_SYNC_WAIT_MS: "200", VAULT_JUDGE_TIMEOUT_MS: "600000", VAULT_CEL_TIMEOUT_MS: "2000" };

for (const engine of ["pglite", "postgres"] as Engine[]) {
  describe(`the signer reaches the judge on ${engine}`, () => {
    const clock = new ManualClock(Date.now());
    let db: TestDatabase | undefined;
    let running: TestVault | undefined;
    afterEach(async () => {
      await running?.close();
      running = undefined;
      await db?.drop();
      db = undefined;
    });

    /** A namespace, a service, the policy and an agent whose claim is approved. */
    async function setUp(v: TestVault): Promise<Agent> {
      const { serviceKey } = await agentSetup(v, { namespace: "acme-corp", service: "billing-api" });
      expect((await send(v, "POST", "/register-policy", { key: v.adminKey, body: policy })).status).toBe(200);
      const bot = newAgent("acme-corp", clock, "dev@acme.example");
      const claim = await send(v, "POST", "/v1/claims", { agent: bot, bearer: serviceKey, body: claimBody(bot, "billing-api") });
      expect((await send(v, "POST", `/v1/claims/${claim.body.claim_id}/approve`, { key: v.adminKey })).body.status).toBe("approved");
      return bot;
    }

    it("queued requests, and those a restarted vault takes over, are judged with the identity stored on their row", async () => {
      db = newDatabase(engine);
      const first = await startTestVault(db, { env: queued, overrides: { clock, judge: stuckJudge, queue: new MemoryClearanceQueue(4, 50) } });
      running = first;
      const bot = await setUp(first);
      const agentKey = await newKey(first, "agent");
      const signed = await send(first, "POST", "/request-clearance", { agent: bot, body: deploy });
      const unsigned = await send(first, "POST", "/request-clearance", { key: agentKey, body: deploy });
      expect([signed.status, unsigned.status]).toEqual([202, 202]);
      await first.close();
      running = undefined;

      const second = await startTestVault(db, { env: queued, adminKey: first.adminKey, overrides: { clock } });
      running = second;
      await second.vault.ctx.queue.drain();
      const sql = await second.vault.ctx.tenantDbs.get(second.tenantId);
      const status = async (id: string) => (await sql.query<{ status: string; reason: string }>("SELECT status, reason FROM clearance_requests WHERE id = $1", [id]))[0];
      expect(await status(signed.body.request_id)).toEqual({ status: "approved", reason: "verified agent" });
      expect(await status(unsigned.body.request_id)).toEqual({ status: "denied", reason: "needs a verified agent" });

      // And on the queued path of a running vault (no restart).
      const again = await send(second, "POST", "/request-clearance", { agent: bot, body: deploy });
      const decided = again.status === 202 ? await second.vault.ctx.queue.drain().then(() => status(again.body.request_id)) : again.body;
      expect(decided).toMatchObject({ status: "approved", reason: "verified agent" });
    });

    it("a remote judge (countersign judge) receives the identity as `agent` in its /evaluate body", async () => {
      const seen: JudgeInput[] = [];
      const judgeApp = buildJudgeServer({
        apiKey: "judge-key",
        judge: { evaluate: async (input) => (seen.push(input), failClosedVerdict("remote_probe", "recorded")) },
        embeddings: { model: "m", embed: async () => ({ model: "m", vectors: [] }) },
        limiter: new RateLimiter({ rps: 0, burst: 1, ttlSeconds: 60 }, new ManualClock()),
        log: pino({ level: "silent" }),
        ready: async () => {},
      });
      await judgeApp.listen({ host: "127.0.0.1", port: 0 });
      try {
        const judgeUrl = `http://127.0.0.1:${(judgeApp.server.address() as AddressInfo).port}`;
        db = newDatabase(engine);
        running = await startTestVault(db, { env: queued, overrides: { clock, judge: new JudgeClient(judgeUrl, "judge-key", 10_000, 1 << 20) } });
        const bot = await setUp(running);
        await send(running, "POST", "/request-clearance", { agent: bot, body: deploy });
        await send(running, "POST", "/request-clearance", { key: await newKey(running, "agent"), body: deploy });
        await running.vault.ctx.queue.drain();
        const [claim] = await (await running.vault.ctx.tenantDbs.get(running.tenantId)).query<{ claim_id: string }>("SELECT claim_id FROM agent_claims");
        expect(seen.map((i) => i.agent ?? null)).toEqual([
          { verified: true, namespace: "acme-corp", subject: "dev@acme.example", key: bot.identity.publicKey, claim_id: claim!.claim_id, services: ["billing-api"] },
          null,
        ]);
      } finally {
        await judgeApp.close();
      }
    });
  });
}


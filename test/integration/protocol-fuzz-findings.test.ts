import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { agentSetup, claimBody, newAgent, PUBLIC_URL, send, type Agent } from "../helpers/agents.js";
import { newDatabase, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

for (const engine of ["pglite", "postgres"] as Engine[]) {
  describe(`probe on ${engine}`, () => {
    let db: TestDatabase;
    let v: TestVault;
    let bot: Agent;
    let serviceKey: string;
    const clock = new ManualClock(Date.now());
    beforeAll(async () => {
      db = newDatabase(engine);
      v = await startTestVault(db, { env: { VAULT_PUBLIC_URL: PUBLIC_URL }, overrides: { clock } });
      ({ serviceKey } = await agentSetup(v, { namespace: "acme-corp", service: "billing-api" }));
      bot = newAgent("acme-corp", clock);
    });
    afterAll(async () => {
      await v?.close();
      await db?.drop();
    });
    it("probe", async () => {
      for (const service of ["a%00b", "%ED%A0%80", "%C3%A9"]) {
        const path = `/v1/verify?namespace=acme-corp&public_key=${encodeURIComponent(bot.identity.publicKey)}&service=${service}`;
        const res = await send(v, "GET", path, { agent: bot });
        console.log(engine, service, res.status, JSON.stringify(res.body).slice(0, 200));
      }
      const c = await send(v, "POST", "/v1/claims", { agent: bot, bearer: serviceKey, body: claimBody(bot, "billing-api", { subject: "x".repeat(256), agent_name: "\u00e9" }) });
      console.log(engine, "claim", c.status, JSON.stringify(c.body).slice(0, 200));
    });
  });
}

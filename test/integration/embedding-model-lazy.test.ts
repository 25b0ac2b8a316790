/**
 * The offline embedding model is loaded on first use, in a worker thread, never at start-up: a vault
 * that started (first start: control and tenant databases created, the knowledge check run) reports
 * countersign_embedding_model_loaded 0, and the first policy registration (which embeds its text)
 * loads it, after which retrieval ranks with it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PolicyRetriever } from "../../src/judge/retrieval.js";
import { call, newDatabase, refundPolicy, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

async function modelLoaded(v: TestVault): Promise<number> {
  const text = await fetch(`${v.url}/metrics`).then((r) => r.text());
  const line = text.split("\n").find((l) => l.startsWith("countersign_embedding_model_loaded "));
  if (!line) throw new Error("countersign_embedding_model_loaded is missing from /metrics");
  return Number(line.split(" ")[1]);
}

describe("the offline embedding model", () => {
  let db: TestDatabase;
  let v: TestVault;

  beforeAll(async () => {
    db = newDatabase("pglite");
    v = await startTestVault(db);
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it("is not loaded by a start, and is loaded by the first policy registration", async () => {
    expect((await call(v.url, "GET", "/readyz")).status).toBe(200);
    expect(await modelLoaded(v)).toBe(0);

    const res = await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(await modelLoaded(v)).toBe(1);

    const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
    const versions = (await sql.query<{ id: string }>("SELECT current_version_id AS id FROM policies")).map((r) => r.id);
    const found = await new PolicyRetriever(v.vault.ctx.embeddings, 3).retrieve(v.tenantId, sql, versions, "refund a damaged order of $80");
    expect(found.length).toBeGreaterThan(0);
    expect(found[0]!.policy_id).toBe("refund-policy");
    expect(found[0]!.score).toBeGreaterThan(0.1);
  });
});

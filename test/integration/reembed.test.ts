/**
 * `countersign policies reembed` on real PostgreSQL (exact scan, bytea vectors): chunks embedded
 * by another model are not searched until the CLI re-embeds them with the configured model, and a
 * running vault picks the new vectors up through the knowledge generation counter.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Sql } from "../../src/db/sql.js";
import { dot } from "../../src/policies/embeddings/embedding-provider.js";
import { OFFLINE_MODEL } from "../../src/policies/embeddings/offline-embeddings.js";
import { decodeVector } from "../../src/policies/policy-chunks.js";
import { call, newKey, newPgDatabase, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

const run = promisify(execFile);

const policy = {
  policy_id: "refund-policy",
  description: "Refunds of customer payments for damaged or missing orders",
  rules: ["Refunds up to $100 may be issued automatically", "Refunds over $1000 are never issued by agents"],
  tools: ["stripe_refund"],
  default_decision: "review",
};
const TEXTS = 3; // description + 2 rules, all different
const OLD_MODEL = "old/model";
const OLD_DIMENSIONS = 3;

describe("policies reembed on real PostgreSQL", () => {
  let db: TestDatabase;
  let v: TestVault;
  let agent: string;
  let sql: Sql;
  const logLines: { msg: string; embeddedWith?: string; chunks?: number; configured?: string }[] = [];
  /** The vectors the configured model gave each text at registration, by chunk id. */
  const original = new Map<string, Float32Array>();

  const cli = (...args: string[]) =>
    run("node", ["--import", "tsx", "src/main/cli.ts", ...args], { env: { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: "silent" } });
  const citations = async () => {
    const res = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 80, reason: "damaged order" } } });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("pending_review");
    return res.body.citations as { heading: string; excerpt: string }[];
  };
  const models = async () => sql.query<{ model: string; dimensions: number; n: number }>(
    "SELECT embedding_model AS model, dimensions, count(*)::int AS n FROM policy_chunks GROUP BY 1, 2 ORDER BY 1",
  );

  beforeAll(async () => {
    db = newPgDatabase();
    const first = await startTestVault(db);
    // The bootstrap key only creates the tenant once: the second vault must be given the same key.
    const adminKey = first.adminKey;
    try {
      expect((await call(first.url, "POST", "/register-policy", { key: first.adminKey, body: policy })).status).toBe(200);
      const tenantSql = await first.vault.ctx.tenantDbs.get(first.tenantId);
      for (const r of await tenantSql.query<{ id: string; embedding: unknown }>("SELECT id, embedding FROM policy_chunks")) {
        original.set(r.id, decodeVector(r.embedding));
      }
      // An older model's vectors: another name, another dimension, other values. Written behind
      // the vault's back (no generation bump), as a database restored from an old backup would be.
      const oldVector = Buffer.from(new Float32Array([1, 0, 0]).buffer);
      await tenantSql.query("UPDATE policy_chunks SET embedding_model = $1, dimensions = $2, embedding = $3", [OLD_MODEL, OLD_DIMENSIONS, oldVector]);
    } finally {
      await first.close();
    }
    expect(original.size).toBe(TEXTS);

    const log = pino({ level: "warn" }, { write: (line: string) => void logLines.push(JSON.parse(line)) });
    v = await startTestVault(db, { overrides: { log }, adminKey });
    agent = await newKey(v, "agent");
    sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it("warns at start-up and searches nothing while the chunks carry another model", async () => {
    // The start-up check runs in the background; give it a moment to log.
    const deadline = Date.now() + 10_000;
    const stale = () => logLines.find((l) => l.msg.includes("embedded with another model"));
    while (!stale() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(stale()).toMatchObject({ embeddedWith: OLD_MODEL, chunks: TEXTS, configured: OFFLINE_MODEL });
    expect(await models()).toEqual([{ model: OLD_MODEL, dimensions: OLD_DIMENSIONS, n: TEXTS }]);
    expect(await citations()).toEqual([]);
  });

  it("re-embeds every stale text with the configured model and the running vault cites them again", async () => {
    const { stdout } = await cli("policies", "reembed", "--json");
    expect(JSON.parse(stdout)).toEqual({ model: OFFLINE_MODEL, tenants: [{ tenant_id: v.tenantId, texts: TEXTS, dimensions: 512 }] });
    expect(await models()).toEqual([{ model: OFFLINE_MODEL, dimensions: 512, n: TEXTS }]);
    // Real vectors of each chunk's own text, not a relabelled copy of the old ones.
    for (const r of await sql.query<{ id: string; embedding: unknown }>("SELECT id, embedding FROM policy_chunks")) {
      const v512 = decodeVector(r.embedding);
      expect(v512).toHaveLength(512);
      expect(dot(v512, original.get(r.id)!)).toBeGreaterThan(0.999);
    }
    // The vault process cached the (empty) chunk list of this version; the CLI's generation bump
    // must make it reload.
    const cited = await citations();
    expect(cited.map((c) => c.heading).sort()).toEqual(["refund-policy", "refund-policy › Rule 1", "refund-policy › Rule 2"]);
  });

  it("has nothing left to do on a second run", async () => {
    const { stdout } = await cli("policies", "reembed", "--tenant", v.tenantId, "--json");
    expect(JSON.parse(stdout)).toEqual({ model: OFFLINE_MODEL, tenants: [{ tenant_id: v.tenantId, texts: 0, dimensions: null }] });
  });

  it("shows progress on stderr and a summary on stdout without --json", async () => {
    // A text shared by two versions is re-embedded once: version 2 repeats the description and the
    // first rule, so 6 rows hold 4 distinct texts.
    const changed = { ...policy, rules: [policy.rules[0]!, "Refunds over $500 go to a human"] };
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: changed })).body.status).toBe("registered");
    await sql.query("UPDATE policy_chunks SET embedding_model = $1", [OLD_MODEL]);
    const distinct = (await sql.query<{ n: number }>("SELECT count(DISTINCT text_hash)::int AS n FROM policy_chunks"))[0]!.n;
    expect(distinct).toBe(TEXTS + 1);
    const { stdout, stderr } = await cli("policies", "reembed");
    expect(stdout).toContain(`${v.tenantId}: ${TEXTS + 1} text(s) re-embedded (512 dimensions)`);
    expect(stdout).toContain(`model: ${OFFLINE_MODEL}`);
    expect(stderr).toContain(`${v.tenantId} [`);
    expect(stderr).toContain(`${TEXTS + 1}/${TEXTS + 1} texts`);
    expect(await models()).toEqual([{ model: OFFLINE_MODEL, dimensions: 512, n: 2 * TEXTS }]);
  });
});

/**
 * Retrieval of policy text with the real offline model (Universal Sentence Encoder), on both
 * engines: pgvector + HNSW on PGlite, the exact in-process scan on the test PostgreSQL (which has
 * no pgvector). Both must rank the same corpus the same way.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Sql } from "../../src/db/sql.js";
import { requestQuery } from "../../src/judge/evaluation-judge.js";
import { PolicyRetriever, type RetrievedChunk } from "../../src/judge/retrieval.js";
import { vectorStorageOf } from "../../src/policies/policy-chunks.js";
import { call, newDatabase, newKey, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

const TOP_K = 5;

// No conditions anywhere: nothing settles a request, so every clearance runs retrieval.
const corpus = [
  {
    policy_id: "refund-policy",
    description: "Refunds of customer payments for damaged or missing orders",
    rules: ["Refunds up to $100 may be issued automatically when the order arrived damaged", "Refunds over $1000 are never issued by agents"],
    tools: ["stripe_refund"],
    default_decision: "review",
  },
  {
    policy_id: "device-wipe",
    description: "# Remote wipes\n\nRemote wipes of company laptops and phones through device management.",
    rules: ["A device may be wiped only after it is reported lost or stolen", "Executives' devices are wiped by IT security only"],
    tools: ["mdm_wipe"],
    default_decision: "review",
  },
  {
    policy_id: "travel-expenses",
    description: "Travel expense claims: flights, hotels and per diem meals on business trips.",
    rules: ["Hotel nights above $250 need a manager's approval", "Flights are booked in economy class"],
    tools: ["expense_submit"],
    default_decision: "review",
  },
  {
    policy_id: "vacation",
    description: "Vacation and paid time off requests by employees",
    rules: ["Vacation requests longer than two weeks need HR approval"],
    tools: ["hr_timeoff"],
    default_decision: "review",
  },
  {
    // tools empty: applies to every tool, so its chunk is a candidate for every request.
    policy_id: "agent-conduct",
    description: "Every action taken by an agent is logged and attributable to a human principal.",
    tools: [],
    default_decision: "review",
  },
];
const refundChunks = 3; // description + 2 rules
const conductChunks = 1;
// Every description here is one short section and every rule one paragraph: one chunk each.
const corpusChunks = corpus.reduce((n, p) => n + 1 + (p.rules?.length ?? 0), 0);

const refundArgs = { amount: 80, reason: "customer wants their money back for a damaged order" };
const queries = {
  refund: { tool: "stripe_refund", args: refundArgs, expectFirst: "refund-policy" },
  wipe: { tool: "mdm_wipe", args: { device: "laptop-17", note: "employee reported the laptop stolen" }, expectFirst: "device-wipe" },
  vacation: { tool: "hr_timeoff", args: { days: 20, note: "three weeks of holiday in August" }, expectFirst: "vacation" },
};
type QueryName = keyof typeof queries;

const queryText = (name: QueryName) =>
  requestQuery({ tenantId: "t", requestId: "r", tool: queries[name].tool, args: queries[name].args, context: {}, agentId: "", sessionId: "", humanPrincipal: null });

/** Rankings over the whole corpus, per engine, compared once both engines have run. */
const rankings = new Map<Engine, Record<QueryName, RetrievedChunk[]>>();

describe.each<Engine>(["pglite", "postgres"])("policy retrieval on %s", (engine) => {
  let db: TestDatabase;
  let v: TestVault;
  let agent: string;
  let sql: Sql;
  const clear = (tool: string, args: object) => call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: tool, tool_args: args } });
  const currentVersions = async () => (await sql.query<{ id: string }>("SELECT current_version_id AS id FROM policies")).map((r) => r.id);
  const versionOf = async (policyId: string) =>
    (await sql.query<{ id: string }>("SELECT current_version_id AS id FROM policies WHERE policy_id = $1", [policyId]))[0]!.id;

  beforeAll(async () => {
    db = newDatabase(engine);
    v = await startTestVault(db);
    agent = await newKey(v, "agent");
    sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
    for (const policy of corpus) {
      const res = await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: policy });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await v?.close();
    await db?.drop();
  });

  it(`stores 512-d vectors of the offline model as ${engine === "pglite" ? "pgvector with an HNSW index" : "bytea for the exact scan"}`, async () => {
    expect(await vectorStorageOf(sql)).toBe(engine === "pglite" ? "pgvector" : "exact");
    const stored = await sql.query<{ model: string; dimensions: number; n: number }>(
      "SELECT embedding_model AS model, dimensions, count(*)::int AS n FROM policy_chunks GROUP BY 1, 2",
    );
    expect(stored).toEqual([{ model: "offline/universal-sentence-encoder", dimensions: 512, n: corpusChunks }]);
    const indexes = await sql.query<{ indexdef: string }>("SELECT indexdef FROM pg_indexes WHERE tablename = 'policy_chunks' AND indexname = 'policy_chunks_hnsw_512'");
    if (engine === "pglite") {
      expect(indexes).toHaveLength(1);
      // Only current versions' chunks are indexed: history must not crowd the search.
      expect(indexes[0]!.indexdef).toMatch(/USING hnsw .*vector_cosine_ops.*WHERE \(\(dimensions = 512\) AND is_current\)/);
    } else {
      expect(indexes).toEqual([]);
    }
  });

  it("ranks the policy about the request first among all current policy versions", async () => {
    const retriever = new PolicyRetriever(v.vault.ctx.embeddings, TOP_K);
    const versions = await currentVersions();
    expect(versions).toHaveLength(corpus.length);
    const results = {} as Record<QueryName, RetrievedChunk[]>;
    for (const name of Object.keys(queries) as QueryName[]) {
      const found = await retriever.retrieve(v.tenantId, sql, versions, queryText(name));
      expect(found).toHaveLength(TOP_K);
      expect(found[0]!.policy_id, `${name}: ${found.map((c) => c.policy_id).join(", ")}`).toBe(queries[name].expectFirst);
      for (let i = 1; i < found.length; i++) expect(found[i - 1]!.score).toBeGreaterThanOrEqual(found[i]!.score);
      for (const c of found) {
        expect(c.score).toBeGreaterThan(-1.0001);
        expect(c.score).toBeLessThan(1.0001);
        expect(versions).toContain(c.policy_version_id);
      }
      results[name] = found;
    }
    // The refund question is closer to every refund chunk than to anything about devices, travel or HR.
    const refund = results.refund;
    const worstRefund = Math.min(...refund.filter((c) => c.policy_id === "refund-policy").map((c) => c.score));
    const bestOther = Math.max(-1, ...refund.filter((c) => !["refund-policy", "agent-conduct"].includes(c.policy_id)).map((c) => c.score));
    expect(refund.filter((c) => c.policy_id === "refund-policy")).toHaveLength(refundChunks);
    expect(worstRefund).toBeGreaterThan(bestOther);
    rankings.set(engine, results);
  });

  it("cites only chunks of the policies covering the tool in the clearance response", async () => {
    const res = await clear("stripe_refund", refundArgs);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "pending_review", reason_code: "policy_default" });
    const citations = res.body.citations as { chunk_id: string; policy_id: string; policy_version_id: string; source: string; heading: string; excerpt: string; score: number }[];
    // topK is 5 but only 4 chunks belong to policies covering stripe_refund: the filter, not k, limits the answer.
    expect(citations).toHaveLength(refundChunks + conductChunks);
    expect(new Set(citations.map((c) => c.policy_id))).toEqual(new Set(["refund-policy", "agent-conduct"]));
    expect(citations[0]).toMatchObject({ policy_id: "refund-policy", policy_version_id: await versionOf("refund-policy") });
    expect(res.body.evidence_chunks).toEqual(citations);
    expect(citations.map((c) => c.heading).sort()).toEqual(["agent-conduct", "refund-policy", "refund-policy › Rule 1", "refund-policy › Rule 2"]);
    expect(citations.find((c) => c.heading === "refund-policy › Rule 2")).toMatchObject({ source: "rule", excerpt: "Refunds over $1000 are never issued by agents" });
    expect(citations.find((c) => c.heading === "refund-policy")).toMatchObject({ source: "description", excerpt: corpus[0]!.description });
    for (const c of citations) {
      const row = await sql.query("SELECT policy_version_id, text FROM policy_chunks WHERE id = $1", [c.chunk_id]);
      expect(row).toEqual([{ policy_version_id: c.policy_version_id, text: c.excerpt }]);
    }

    const wipe = await clear("mdm_wipe", queries.wipe.args);
    const wipePolicies = (wipe.body.citations as { policy_id: string }[]).map((c) => c.policy_id);
    expect(wipePolicies[0]).toBe("device-wipe");
    expect(new Set(wipePolicies)).toEqual(new Set(["device-wipe", "agent-conduct"]));
  });

  it("re-registering with one changed rule embeds only that rule, and the old version is no longer searched", async () => {
    const embed = vi.spyOn(v.vault.ctx.embeddings, "embed");
    const oldVersion = await versionOf("refund-policy");
    const count = async () =>
      (await sql.query<{ rows: number; texts: number }>("SELECT count(*)::int AS rows, count(DISTINCT text_hash)::int AS texts FROM policy_chunks"))[0]!;
    const before = await count();

    const same = await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: corpus[0] });
    expect(same.body).toMatchObject({ status: "unchanged", policy_version_id: oldVersion });
    expect(embed).not.toHaveBeenCalled();
    expect(await count()).toEqual(before);

    const newRule = "Refunds over $500 are sent to a human reviewer";
    const changed = { ...corpus[0]!, rules: [corpus[0]!.rules![0]!, newRule] };
    const res = await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: changed });
    expect(res.body).toMatchObject({ status: "registered", version: 2 });
    expect(embed).toHaveBeenCalledTimes(1);
    expect(embed.mock.calls[0]![0]).toEqual([`refund-policy › Rule 2\n\n${newRule}`]);
    embed.mockRestore();
    // One new text; the new version has its own rows for all three chunks, the old rows stay.
    expect(await count()).toEqual({ rows: before.rows + refundChunks, texts: before.texts + 1 });
    expect(await sql.query("SELECT count(*)::int AS n FROM policy_chunks WHERE policy_version_id = $1", [oldVersion])).toEqual([{ n: refundChunks }]);

    const newVersion = res.body.policy_version_id as string;
    const retriever = new PolicyRetriever(v.vault.ctx.embeddings, TOP_K);
    const current = await retriever.retrieve(v.tenantId, sql, await currentVersions(), queryText("refund"));
    expect(current.map((c) => c.policy_version_id)).not.toContain(oldVersion);
    expect(current.filter((c) => c.policy_id === "refund-policy").map((c) => c.policy_version_id)).toEqual(Array(refundChunks).fill(newVersion));
    expect(current.map((c) => c.text)).toContain(newRule);
    // The old chunks stay stored (evidence of past decisions) but are retired from search, even
    // when a caller asks for their version by id.
    const retired = await sql.query<{ text: string; is_current: boolean }>("SELECT text, is_current FROM policy_chunks WHERE policy_version_id = $1", [oldVersion]);
    expect(retired.map((r) => r.text)).toContain("Refunds over $1000 are never issued by agents");
    expect(retired.every((r) => !r.is_current)).toBe(true);
    expect(await retriever.retrieve(v.tenantId, sql, [oldVersion], queryText("refund"))).toEqual([]);

    const cleared = await clear("stripe_refund", refundArgs);
    const cited = cleared.body.citations as { policy_id: string; policy_version_id: string; excerpt: string }[];
    expect(cited).toHaveLength(refundChunks + conductChunks);
    expect(cited.filter((c) => c.policy_id === "refund-policy").every((c) => c.policy_version_id === newVersion)).toBe(true);
    expect(cited.map((c) => c.excerpt)).not.toContain("Refunds over $1000 are never issued by agents");
  });
});

describe("pgvector and the exact scan", () => {
  it("rank the same corpus the same way for the same queries", () => {
    const pglite = rankings.get("pglite");
    const postgres = rankings.get("postgres");
    expect(pglite, "the PGlite ranking test did not complete").toBeDefined();
    expect(postgres, "the PostgreSQL ranking test did not complete").toBeDefined();
    for (const name of Object.keys(queries) as QueryName[]) {
      const a = pglite![name];
      const b = postgres![name];
      expect(a.map((c) => [c.heading, c.text]), name).toEqual(b.map((c) => [c.heading, c.text]));
      a.forEach((c, i) => expect(c.score).toBeCloseTo(b[i]!.score, 4));
    }
  });
});

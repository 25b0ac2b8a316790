/**
 * Judge figures, in process against the code in src/ (tsx), each next to a baseline from the same
 * run: conditions-only judge path vs the bare CEL condition; retrieval over 10,000 chunks (pgvector
 * HNSW on PGlite, exact scan on PostgreSQL) vs a `SELECT 1` round trip; one-request embedding vs
 * batched; policy ingestion vs raw embedding of the same texts. Run by run.ts, or alone with
 * `npx tsx bench/judge-bench.ts` or `BENCH_ONLY=judge npm run bench`; its PostgreSQL database
 * (cs_bench_<hex>_judge) is dropped at the end.
 */
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import pino from "pino";
import { systemClock } from "../src/clock.js";
import { loadConfig } from "../src/config/config.js";
import { migrate } from "../src/db/migrate.js";
import { PgDatabase } from "../src/db/pg-database.js";
import { PgliteDatabase } from "../src/db/pglite-database.js";
import type { Database } from "../src/db/sql.js";
import { bindingsFor } from "../src/judge/conditions.js";
import { dot, normalize, type EmbeddingProvider } from "../src/policies/embeddings/embedding-provider.js";
import { OFFLINE_MODEL, OfflineEmbeddings } from "../src/policies/embeddings/offline-embeddings.js";
import { requestQuery } from "../src/judge/evaluation-judge.js";
import { createEvaluationJudge } from "../src/judge/judge-factory.js";
import type { JudgeInput } from "../src/judge/judge.js";
import { PolicyRetriever } from "../src/judge/retrieval.js";
import { compileCondition } from "../src/policies/cel.js";
import { embeddedText, ensureVectorIndex, insertChunks, vectorStorageOf, type EmbeddedChunk } from "../src/policies/policy-chunks.js";
import { addPolicyDocument } from "../src/policies/policy-documents.js";
import { registerPolicySchema } from "../src/policies/policy-schema.js";
import { PolicyCache, registerPolicy } from "../src/policies/policy-store.js";
import { documentChunks } from "../src/policies/policy-text.js";
import { sha256Hex } from "../src/tokens/canonical-json.js";
import { LatencyRecorder } from "./stats.js";
import { createDatabase, dropDatabases, withDatabase } from "./vault.js";

const EVALUATIONS = 20_000;
const CHUNKS = 10_000;
const DIMS = 512;
const TOP_K = 5;
const QUERIES = 400; // distinct query vectors; under the retriever's 1,000-entry query cache
const EMBED_REQUESTS = 200;
const DOC_SECTIONS = 240;
const GOAL = { conditionsAddedP99Ms: 1, retrievalP99Ms: 20 };
const CONDITION = "args.amount <= 100";
type Log = (msg: string) => void;
interface Figure { n: number; p50Ms: number; p99Ms: number }
const ms = (v: number) => (v < 1 ? v.toFixed(3) : v.toFixed(1)).padStart(7);
const row = (label: string, f: Figure, extra = "") => `${label} ${".".repeat(Math.max(2, 52 - label.length))} p50 ${ms(f.p50Ms)} ms  p99 ${ms(f.p99Ms)} ms  n=${f.n}${extra}`;
const secs = (t0: number) => +((performance.now() - t0) / 1000).toFixed(2);
/** Runs fn once; returns its result and how long it took, in seconds. */
async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  return [await fn(), (performance.now() - t0) / 1000];
}

/** Runs op n times, one at a time, and returns its latency percentiles (sync ops are not awaited). */
async function measure(n: number, op: (i: number) => unknown, into = new LatencyRecorder()): Promise<Figure> {
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = op(i);
    if (r instanceof Promise) await r;
    into.add(performance.now() - t0);
  }
  return { n, ...into.summary() };
}
const fig = ({ n, p50Ms, p99Ms }: Figure): Figure => ({ n, p50Ms: +p50Ms.toFixed(4), p99Ms: +p99Ms.toFixed(4) });

/** Seeded (mulberry32), so every run and both engines search exactly the same vectors. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function gaussianVector(next: () => number, base?: Float32Array, sigma = 1): Float32Array {
  const v = new Float32Array(DIMS);
  for (let i = 0; i < DIMS; i++) v[i] = (base?.[i] ?? 0) + sigma * Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  return normalize(v); // uniform on the sphere: the hardest case for HNSW, no clusters to exploit
}

/** Never called on the conditions-only path; if it were, the figure would not be what it claims. */
const noEmbeddings: EmbeddingProvider = { model: OFFLINE_MODEL, embed: async () => { throw new Error("this path must not embed"); } };
const policy = (id: string, tool: string, conditions: object[] = []) =>
  registerPolicySchema.parse({ policy_id: id, tools: [tool], conditions, default_decision: "deny" });

/** Tenant schema plus the three bench policies; returns the version id of each. */
async function prepare(db: Database): Promise<Record<string, string>> {
  await migrate(db, "tenant");
  const ids: Record<string, string> = {};
  for (const [id, tool, conds] of [
    ["bench-conditions", "bench_tool", [{ id: "ok", when: CONDITION, decision: "approve", reason: "within limit" }]],
    ["bench-knowledge", "knowledge_tool", []],
    ["bench-ingest", "ingest_tool", []],
  ] as const) ids[id] = (await registerPolicy(db, policy(id, tool, [...conds]), noEmbeddings)).policy_version_id;
  return ids;
}

const inputs: JudgeInput[] = Array.from({ length: 1000 }, (_, i) => ({
  tenantId: "t_bench", requestId: `r${i}`, tool: "bench_tool", args: { amount: i % 100, currency: "usd", order_id: `o-${i}` },
  context: {}, agentId: "agent-1", sessionId: `s-${i % 7}`, humanPrincipal: null,
}));

/** a) EvaluationJudge.evaluate on the conditions-only path vs the same CEL condition alone, in alternating blocks. */
async function conditionsPath(db: Database, log: Log) {
  const judge = createEvaluationJudge(loadConfig({ LOG_LEVEL: "silent" }), {}, {
    tenantSql: async () => db, policies: new PolicyCache(systemClock, 3_600_000), embeddings: noEmbeddings, log: pino({ level: "silent" }),
  });
  const test = compileCondition(CONDITION);
  const verdict = await judge.evaluate(inputs[0]!);
  if (verdict.decision !== "approve" || (verdict.trace.steps as string[]).join() !== "conditions") throw new Error(`unexpected verdict ${JSON.stringify(verdict)}`);
  const celAlone = (i: number) => { if (!test(bindingsFor(inputs[i % 1000]!))) throw new Error("condition did not match"); };
  const viaJudge = (i: number) => judge.evaluate(inputs[i % 1000]!);
  await measure(2_000, celAlone);
  await measure(2_000, viaJudge);
  log(`conditions: ${EVALUATIONS} evaluations each, in blocks of 2,000 alternating with the baseline`);
  const [base, full] = [new LatencyRecorder(), new LatencyRecorder()];
  for (let block = 0; block < EVALUATIONS / 2_000; block++) {
    await measure(2_000, celAlone, base);
    await measure(2_000, viaJudge, full);
  }
  const b = { n: EVALUATIONS, ...base.summary() };
  const j = { n: EVALUATIONS, ...full.summary() };
  const addedP99Ms = j.p99Ms - b.p99Ms;
  const met = addedP99Ms < GOAL.conditionsAddedP99Ms;
  return {
    rows: [
      row("judge     conditions-only EvaluationJudge.evaluate", j),
      row("          baseline: the same CEL condition alone", b),
      `          adds ${addedP99Ms.toFixed(3)} ms at p99; goal: conditions-only path adds < ${GOAL.conditionsAddedP99Ms} ms at p99: ${met ? "goal met" : "goal missed"}`,
    ],
    summary: { judge: fig(j), baseline: fig(b), addedP99Ms: +addedP99Ms.toFixed(4), goalMet: met },
  };
}

/** retrieval.ts's pgvector query with its settings, run directly: to EXPLAIN it, or with extra settings. */
async function pgvectorQuery(db: Database, versionId: string, vector: Float32Array, opts: { explain?: boolean; settings?: string[] } = {}) {
  return db.transaction(async (tx) => {
    for (const set of ["hnsw.iterative_scan = relaxed_order", "hnsw.ef_search = 100", ...(opts.settings ?? [])]) await tx.query(`SET LOCAL ${set}`);
    return tx.query<Record<string, string>>(
      `${opts.explain ? "EXPLAIN " : ""}SELECT id, policy_id, policy_version_id, source, heading, text, (embedding::vector(${DIMS})) <=> $1::vector(${DIMS}) AS distance
         FROM policy_chunks WHERE dimensions = ${DIMS} AND is_current AND embedding_model = $2 AND policy_version_id = ANY($3)
        ORDER BY (embedding::vector(${DIMS})) <=> $1::vector(${DIMS}) LIMIT $4`,
      [JSON.stringify(Array.from(vector)), OFFLINE_MODEL, [versionId], TOP_K],
    );
  });
}
const planOf = async (db: Database, versionId: string, vector: Float32Array, settings: string[] = []) =>
  (await pgvectorQuery(db, versionId, vector, { explain: true, settings })).some((r) => r["QUERY PLAN"]!.includes(`policy_chunks_hnsw_${DIMS}`))
    ? "HNSW index"
    : "HNSW index not used: scan + sort";

/** b) PolicyRetriever.retrieve over CHUNKS seeded unit vectors in one policy version. */
async function retrieval(engine: "pglite" | "postgres", db: Database, versionId: string, log: Log) {
  const next = rng(42);
  const vectors = Array.from({ length: CHUNKS }, () => gaussianVector(next));
  const chunks: EmbeddedChunk[] = vectors.map((vector, i) => ({
    policyId: "bench-knowledge", source: "rule", documentId: null, ordinal: i, heading: "", text: `chunk ${i}`,
    textHash: sha256Hex(`chunk ${i}`), model: OFFLINE_MODEL, vector,
  }));
  // Queries near a stored vector (cosine ~0.8), so each has true nearest neighbours to find.
  const queries = new Map<string, Float32Array>(Array.from({ length: QUERIES }, (_, i) => [`query ${i}`, gaussianVector(next, vectors[(i * 7919) % CHUNKS], 0.035)]));
  const texts = [...queries.keys()];
  log(`${engine}: inserting ${CHUNKS} chunks`);
  const [, insertSeconds] = await timed(() => db.transaction((tx) => insertChunks(tx, versionId, chunks)));
  const [indexed, indexSeconds] = await timed(() => ensureVectorIndex(db, DIMS));
  log(`${engine}: inserted in ${insertSeconds.toFixed(1)}s, index ${indexed ? `built in ${indexSeconds.toFixed(1)}s` : "none (exact scan)"}; searching`);
  const retriever = new PolicyRetriever({ model: OFFLINE_MODEL, embed: async (t) => ({ model: OFFLINE_MODEL, vectors: t.map((q) => queries.get(q)!) }) }, TOP_K);
  for (const q of texts) await retriever.embedQuery(q); // cached: the figures are pure search
  const [first, firstS] = await timed(() => retriever.retrieve("t_bench", db, [versionId], texts[0]!)); // the exact scan loads its cache here
  if (first.length !== TOP_K) throw new Error(`retrieval returned ${first.length} chunks, not ${TOP_K}`);
  const search = async (results: string[][]) => {
    await measure(20, (i) => retriever.retrieve("t_bench", db, [versionId], texts[i]!));
    return measure(QUERIES, async (i) => results.push((await retriever.retrieve("t_bench", db, [versionId], texts[i]!)).map((c) => c.text)));
  };
  const results: string[][] = []; // the answers of PolicyRetriever, for the recall check below
  const asLoaded = await search(results);
  const select1 = await measure(QUERIES, () => db.query("SELECT 1"));
  const summary: Record<string, unknown> = { storage: await vectorStorageOf(db), insertSeconds: +insertSeconds.toFixed(2), indexSeconds: indexed ? +indexSeconds.toFixed(2) : null, firstQueryMs: +(firstS * 1000).toFixed(1) };
  const [met, rows]: [Record<string, boolean>, string[]] = [{}, []];
  if (engine === "pglite") {
    const vec = (i: number) => queries.get(texts[i]!)!;
    // retrieval.ts forces the index (enable_sort = off) at this many candidates; the plan shows it took it.
    rows.push(row(`retrieve  PGlite pgvector, top ${TOP_K} of ${CHUNKS}`, asLoaded, `  [${await planOf(db, versionId, vec(0), ["enable_sort = off"])}]`));
    // Baseline: the same SQL left to the planner, which prices a sort of every candidate below the
    // HNSW scan at ef_search 100 (no statistics on PGlite: it has no autovacuum).
    const plannerPlan = await planOf(db, versionId, vec(0));
    await measure(20, (i) => pgvectorQuery(db, versionId, vec(i)));
    const planner = await measure(QUERIES, (i) => pgvectorQuery(db, versionId, vec(i)));
    rows.push(row("          baseline: same SQL, planner's own plan", planner, `  [${plannerPlan}]`));
    Object.assign(summary, { search: fig(asLoaded), plannersOwnPlan: { plan: plannerPlan, ...fig(planner) } });
    met.pglite = asLoaded.p99Ms < GOAL.retrievalP99Ms;
  } else {
    rows.push(row(`retrieve  PostgreSQL exact scan, top ${TOP_K} of ${CHUNKS}`, asLoaded));
    // For scale: a plain dot() loop over the same vectors held as separate arrays.
    const query = queries.get(texts[0]!)!;
    const bare = await measure(50, () => vectors.reduce((best, v) => Math.max(best, dot(query, v)), -1));
    rows.push(row(`          baseline: naive dot() loop over the same ${CHUNKS} vectors`, bare));
    Object.assign(summary, { search: fig(asLoaded), naiveDotScan: fig(bare) });
    met.postgresExact = asLoaded.p99Ms < GOAL.retrievalP99Ms;
  }
  rows.push(row(`          baseline: SELECT 1 round trip (${engine})`, select1), `          setup: insert ${insertSeconds.toFixed(1)}s, ${indexed ? `HNSW build ${indexSeconds.toFixed(1)}s` : "no index"}, first query ${(firstS * 1000).toFixed(0)} ms${engine === "postgres" ? " (loads the version's vectors into the scan cache)" : ""}`);
  return { rows, summary: { ...summary, select1: fig(select1) }, results, met };
}

function policyMarkdown(): string {
  const words = "refund vendor invoice approval limit treasury customer account transfer audit exception manager currency contract renewal escalation".split(" ");
  const next = rng(7);
  const sentence = () => Array.from({ length: 10 + Math.floor(next() * 12) }, () => words[Math.floor(next() * words.length)]).join(" ");
  return Array.from({ length: DOC_SECTIONS }, (_, s) => `## Section ${s + 1}\n\n${Array.from({ length: 3 }, sentence).join(". ")}.\n`).join("\n");
}

/** c) single-request embedding vs the batched rate; d) addPolicyDocument vs raw embedding of the same texts. */
async function embeddingAndIngestion(dbs: [string, Database][], log: Log) {
  const embeddings = new OfflineEmbeddings();
  const [, loadSeconds] = await timed(() => embeddings.embed(["warm-up"]));
  const texts = Array.from({ length: EMBED_REQUESTS + 20 }, (_, i) => requestQuery({ ...inputs[i]!, tool: ["stripe_refund", "send_email", "wire_transfer"][i % 3]!, args: { amount: i * 13, note: `request ${i}` } }));
  await measure(20, (i) => embeddings.embed([texts[EMBED_REQUESTS + i]!]));
  log(`embedding: ${EMBED_REQUESTS} single-text requests`);
  const single = await measure(EMBED_REQUESTS, (i) => embeddings.embed([texts[i]!]));
  const batchedPerText = ((await timed(() => embeddings.embed(texts.slice(0, EMBED_REQUESTS))))[1] * 1000) / EMBED_REQUESTS;

  const doc = { title: "Bench handbook", media_type: "text/markdown" as const, content: policyMarkdown() };
  const docTexts = documentChunks("bench-ingest", "doc_x", doc, doc.content).map(embeddedText);
  const rawPerSecond = docTexts.length / (await timed(() => embeddings.embed(docTexts)))[1];
  const rows = [
    row("embed     one request text per call (offline USE)", single),
    `          baseline: batched 64 per call: ${batchedPerText.toFixed(1)} ms/text; model load ${loadSeconds.toFixed(1)}s`,
    `ingest    raw embedding of the document's ${docTexts.length} chunks ${".".repeat(8)} ${Math.round(rawPerSecond).toString().padStart(5)} chunks/s (baseline)`,
  ];
  const ingest: Record<string, unknown> = {};
  for (const [engine, db] of dbs) {
    log(`ingestion: addPolicyDocument on ${engine}`);
    const [change, seconds] = await timed(() => addPolicyDocument(db, embeddings, "bench-ingest", doc));
    const perSecond = change.chunks / seconds;
    rows.push(`          addPolicyDocument on ${engine.padEnd(8)} ${".".repeat(22)} ${Math.round(perSecond).toString().padStart(5)} chunks/s  (= ${(perSecond / rawPerSecond).toFixed(2)} x raw embedding, ${change.chunks} chunks)`);
    ingest[engine] = { chunks: change.chunks, chunksPerSecond: Math.round(perSecond), ratioToRaw: +(perSecond / rawPerSecond).toFixed(3) };
  }
  return { rows, summary: { embedding: { modelLoadSeconds: +loadSeconds.toFixed(2), single: fig(single), batchedMsPerText: +batchedPerText.toFixed(2) }, ingestion: { rawChunksPerSecond: Math.round(rawPerSecond), ...ingest } } };
}

/** Every judge figure; creates and drops the PostgreSQL database `dbName` on `serverUrl`. */
export async function runJudgeBench(serverUrl: string, dbName: string, log: Log): Promise<{ rows: string[]; summary: Record<string, unknown> }> {
  let [lite, pgDb]: (Database | undefined)[] = [];
  try {
    log("judge: opening PGlite (in memory) and PostgreSQL database " + dbName);
    lite = await PgliteDatabase.open("memory://");
    await createDatabase(serverUrl, dbName);
    pgDb = new PgDatabase(withDatabase(serverUrl, dbName), 4);
    const [liteIds, pgIds] = [await prepare(lite), await prepare(pgDb)];
    const conditions = await conditionsPath(lite, log);
    const hnsw = await retrieval("pglite", lite, liteIds["bench-knowledge"]!, log);
    const exact = await retrieval("postgres", pgDb, pgIds["bench-knowledge"]!, log);
    // HNSW is approximate: its answers (index forced) against the exact scan's, same vectors and queries.
    // On random vectors only each query's planted neighbour stands out; the other four are near-ties.
    const recall = hnsw.results.reduce((a, r, i) => a + r.filter((t) => exact.results[i]!.includes(t)).length, 0) / (QUERIES * TOP_K);
    const top1 = hnsw.results.filter((r, i) => r.includes(exact.results[i]![0]!)).length / QUERIES;
    const retrievalMet = { ...hnsw.met, ...exact.met };
    const missed = Object.entries(retrievalMet).filter(([, m]) => !m).map(([k]) => k);
    const rest = await embeddingAndIngestion([["PGlite", lite], ["Postgres", pgDb]], log);
    return {
      rows: [
        ...conditions.rows, ...hnsw.rows, `          HNSW against the exact scan: recall@${TOP_K} ${recall.toFixed(3)}, nearest chunk found ${(top1 * 100).toFixed(1)}%`, ...exact.rows,
        `          goal: retrieval < ${GOAL.retrievalP99Ms} ms at p99: ${missed.length === 0 ? "goal met" : `goal missed (${missed.join(", ")})`}`,
        ...rest.rows,
      ],
      summary: {
        conditions: conditions.summary,
        retrieval: { chunks: CHUNKS, dimensions: DIMS, topK: TOP_K, pglite: hnsw.summary, postgres: exact.summary, hnswRecall: +recall.toFixed(4), hnswNearestFound: +top1.toFixed(4), goalMet: retrievalMet },
        ...rest.summary,
        goal: { ...GOAL, met: { conditions: conditions.summary.goalMet, retrieval: retrievalMet } },
      },
    };
  } finally {
    await lite?.close().catch(() => {});
    await pgDb?.close().catch(() => {});
    await dropDatabases(serverUrl, dbName).catch((err) => log(`dropping ${dbName} failed: ${String(err)}; drop it by hand`));
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const serverUrl = process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432";
  const dbName = `cs_bench_${randomBytes(4).toString("hex")}_judge`;
  const started = performance.now();
  const log: Log = (msg) => process.stderr.write(`[judge-bench ${((performance.now() - started) / 1000).toFixed(1)}s] ${msg}\n`);
  process.on("SIGINT", () => void dropDatabases(serverUrl, dbName).finally(() => process.exit(130)));
  const result = await runJudgeBench(serverUrl, dbName, log).catch((err) => {
    log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  });
  process.stdout.write(["", "Countersign judge bench (in process)", ...result.rows, ""].join("\n"));
  process.stdout.write(`${JSON.stringify({ bench: "countersign-judge", at: new Date().toISOString(), judge: result.summary, benchSeconds: secs(started) })}\n`);
  process.exit(0);
}

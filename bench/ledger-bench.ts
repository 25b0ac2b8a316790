/**
 * Ledger figures, in process against src/ (tsx) on real PostgreSQL, each next to a same-run baseline:
 * - sequencing a backlog of BENCH_LEDGER_EVENTS (default 1,000,000) events with the configured batch
 *   size, vs the bare minimum any sequencer must do (the same batched leaf-index UPDATE commits);
 * - proof bundle latency at that size, over HTTP and in process, vs GET /healthz and one indexed SELECT;
 * - offline verification of one bundle (verifyProofBundle), vs one Ed25519 signature check.
 * The backlog is written with SQL (hash-linked leaves, not signed); a few hundred real, signed decisions
 * are appended through the HTTP API so the verified bundle is a real one. Run by run.ts, or alone with
 * `npx tsx bench/ledger-bench.ts` or `BENCH_ONLY=ledger npm run bench`.
 */
import { generateKeyPairSync, randomBytes, sign, verify } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import pg from "pg";
import { loadConfig } from "../src/config/config.js";
import { trustedKeysFromJwks, verifyProofBundle } from "../src/ledger/verify/bundle-verifier.js";
import { startVault, type RunningVault } from "../src/main/serve.js";
import { LatencyRecorder } from "./stats.js";
import { dropDatabases, withDatabase } from "./vault.js";

type Log = (msg: string) => void;
interface Figure { n: number; p50Ms: number; p99Ms: number }
const GOAL = { sequencedPerSecond: 10_000, bundleP50Ms: 2, bundleP99Ms: 10 };
const REAL_DECISIONS = 300;
const SAMPLES = 2_000;
const ms = (v: number) => (v < 1 ? v.toFixed(3) : v.toFixed(2)).padStart(7);
const row = (label: string, f: Figure, extra = "") => `${label} ${".".repeat(Math.max(2, 52 - label.length))} p50 ${ms(f.p50Ms)} ms  p99 ${ms(f.p99Ms)} ms  n=${f.n}${extra}`;

async function measure(n: number, op: (i: number) => unknown): Promise<Figure> {
  const rec = new LatencyRecorder();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = op(i);
    if (r instanceof Promise) await r;
    rec.add(performance.now() - t0);
  }
  return { n, ...rec.summary() };
}

async function getOk(url: string, key: string): Promise<string> {
  const res = await fetch(url, { headers: { "x-vault-api-key": key } });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${url} -> ${res.status}: ${text.slice(0, 300)}`);
  return text;
}

/** N hash-linked events in the tenant database: leaf = SHA-256(0x00 || event hash), as the vault writes them. */
async function fillBacklog(tenantUrl: string, n: number, log: Log): Promise<void> {
  const client = new pg.Client({ connectionString: tenantUrl });
  await client.connect();
  try {
    const chunk = 100_000;
    for (let from = 1; from <= n; from += chunk) {
      const to = Math.min(n, from + chunk - 1);
      await client.query(
        `INSERT INTO ledger_events (event_uuid, event_type, request_id, accepted_at, canonical_version, body, event_hash, leaf_hash, receipt_key_id, receipt_signature)
         SELECT 'bench-' || i, 'clearance.approved', 'req_bench_' || i, '2026-11-23T00:00:00.000Z', 2,
                json_build_object('event_uuid', 'bench-' || i, 'request_id', 'req_bench_' || i, 'agent_id', 'bench', 'policy_id', 'bench-policy',
                  'intent_hash', encode(sha256(('i' || i)::bytea), 'hex'), 'tool_name', 'bench_tool', 'tool_args', json_build_object('amount', 42, 'order', 'o-' || i),
                  'reason', 'within limit', 'citations', '[]'::json, 'evidence_chunks', '[]'::json, 'confidence', 0.85, 'approved', true,
                  'accepted_at', '2026-11-23T00:00:00.000Z', 'canonical_version', 2, 'confidence_bucket', 'high', 'decision_status', 'approved')::text,
                encode(sha256(('e' || i)::bytea), 'hex'), encode(sha256('\\x00'::bytea || sha256(('e' || i)::bytea)), 'hex'), 'bench', 'not-signed'
         FROM generate_series($1::bigint, $2::bigint) AS i`,
        [from, to],
      );
      log(`ledger: backlog ${to}/${n}`);
    }
    // The baseline's table: the same seqs, so its UPDATEs touch comparable rows and indexes.
    await client.query("CREATE TABLE bench_sequence (seq bigint PRIMARY KEY, leaf_index bigint)");
    await client.query("CREATE INDEX bench_sequence_unsequenced ON bench_sequence (seq) WHERE leaf_index IS NULL");
    await client.query("INSERT INTO bench_sequence (seq) SELECT seq FROM ledger_events");
    await client.query("VACUUM ANALYZE");
  } finally {
    await client.end();
  }
}

/** The floor for any sequencer: select a batch of unsequenced rows, set their leaf index, commit. */
async function sequencingBaseline(tenantUrl: string, batch: number): Promise<number> {
  const client = new pg.Client({ connectionString: tenantUrl });
  await client.connect();
  try {
    let done = 0;
    const t0 = performance.now();
    for (;;) {
      await client.query("BEGIN");
      const { rows } = await client.query<{ seq: string }>("SELECT seq FROM bench_sequence WHERE leaf_index IS NULL ORDER BY seq LIMIT $1", [batch]);
      if (rows.length > 0) {
        await client.query("UPDATE bench_sequence b SET leaf_index = v.i FROM unnest($1::bigint[], $2::bigint[]) AS v(seq, i) WHERE b.seq = v.seq", [
          rows.map((r) => r.seq),
          rows.map((_, i) => done + i),
        ]);
      }
      await client.query("COMMIT");
      done += rows.length;
      if (rows.length < batch) break;
    }
    return done / ((performance.now() - t0) / 1000);
  } finally {
    await client.end();
  }
}

export async function runLedgerBench(serverUrl: string, dbName: string, log: Log): Promise<{ rows: string[]; summary: Record<string, unknown> }> {
  const events = Number(process.env.BENCH_LEDGER_EVENTS ?? 1_000_000);
  const apiKey = `bench_${randomBytes(16).toString("hex")}`;
  const dataDir = await mkdtemp(path.join(tmpdir(), "cs-ledger-bench-"));
  let vault: RunningVault | undefined;
  try {
    const config = loadConfig({
      DATABASE_URL: withDatabase(serverUrl, dbName),
      VAULT_HOST: "127.0.0.1",
      VAULT_PORT: "0",
      VAULT_DATA_DIR: dataDir,
      VAULT_BOOTSTRAP_API_KEY: apiKey,
      VAULT_PRINT_BOOTSTRAP_KEY: "false",
      VAULT_RATE_LIMIT_RPS: "0",
      // The bench drives the sequencer itself; the loop only anchors what it signs.
      VAULT_LEDGER_ANCHOR_BACKFILL_INTERVAL_SECONDS: "86400",
      LOG_LEVEL: "warn",
    });
    vault = await startVault(config);
    const { ctx, url } = vault;
    const [tenant] = await ctx.control.query<{ id: string; db_name: string }>("SELECT id, db_name FROM tenants WHERE name = 'default'");
    const tenantUrl = withDatabase(serverUrl, tenant!.db_name);
    log(`ledger: writing a backlog of ${events} events`);
    await fillBacklog(tenantUrl, events, log);

    log(`ledger: sequencing the backlog (batch ${config.ledger.batchSize})`);
    const t0 = performance.now();
    const result = await ctx.ledgerLoop.sequenceNow(tenant!.id);
    const sequencedPerSecond = result.sequenced / ((performance.now() - t0) / 1000);
    const baselinePerSecond = await sequencingBaseline(tenantUrl, config.ledger.batchSize);

    log(`ledger: ${REAL_DECISIONS} real decisions through the API, then bundles at tree size ~${events}`);
    const post = (route: string, body: unknown) =>
      fetch(`${url}${route}`, { method: "POST", headers: { "content-type": "application/json", "x-vault-api-key": apiKey }, body: JSON.stringify(body) });
    await post("/register-policy", { policy_id: "bench-policy", tools: ["bench_tool"], conditions: [{ id: "ok", when: "args.amount <= 100", decision: "approve", reason: "within limit" }], default_decision: "deny" });
    const realIds: string[] = [];
    // In two checkpoints, so the verified bundle carries a consistency proof as well.
    for (let i = 0; i < REAL_DECISIONS; i++) {
      realIds.push(((await (await post("/request-clearance", { tool_name: "bench_tool", tool_args: { amount: 42, order_id: `r-${i}` }, agent_id: "bench" })).json()) as { request_id: string }).request_id);
      if (i === REAL_DECISIONS / 2) await ctx.ledgerLoop.drain();
    }
    await ctx.ledgerLoop.drain();

    const pick = (i: number) => (i % 2 === 0 ? realIds[i % realIds.length]! : `req_bench_${1 + ((i * 7919) % events)}`);
    const sql = await ctx.tenantDbs.get(tenant!.id);
    const ledgerOf = { tenantId: tenant!.id, sql };
    await measure(200, (i) => getOk(`${url}/ledger/proof/bundle?request_id=${pick(i)}`, apiKey)); // warm-up
    const http = await measure(SAMPLES, (i) => getOk(`${url}/ledger/proof/bundle?request_id=${pick(i)}`, apiKey));
    const inProcess = await measure(SAMPLES, (i) => ctx.ledgerService.bundle(ledgerOf, pick(i), undefined, "auto"));
    const healthz = await measure(SAMPLES, () => fetch(`${url}/healthz`).then((r) => r.text()));
    const select = await measure(SAMPLES, (i) => sql.query("SELECT seq, leaf_index FROM ledger_events WHERE request_id = $1", [pick(i)]));

    const bundle = JSON.parse(await getOk(`${url}/ledger/proof/bundle?request_id=${realIds[0]}`, apiKey));
    const keys = trustedKeysFromJwks(JSON.parse(await getOk(`${url}/.well-known/jwks.json`, apiKey)));
    const report = verifyProofBundle(bundle, keys);
    if (!report.ok) throw new Error(`a real bundle failed verification: ${JSON.stringify(report.checks.filter((c) => !c.ok))}`);
    const verifyBundle = await measure(1_000, () => verifyProofBundle(bundle, keys));
    const { publicKey, privateKey } = generateKeyPairSync("ed25519");
    const message = Buffer.from("countersign bench");
    const signature = sign(null, message, privateKey);
    const oneSignature = await measure(1_000, () => verify(null, message, publicKey, signature));
    const checks = report.checks.length;

    const met = {
      sequencing: sequencedPerSecond >= GOAL.sequencedPerSecond,
      bundleP50: http.p50Ms <= GOAL.bundleP50Ms,
      bundleP99: http.p99Ms <= GOAL.bundleP99Ms,
    };
    const treeSize = Number(bundle.inclusion.tree_size);
    return {
      rows: [
        `ledger    sequencing a backlog of ${result.sequenced} events .......... ${Math.round(sequencedPerSecond)}/s  (baseline: bare batched UPDATE commits ${Math.round(baselinePerSecond)}/s = ${(sequencedPerSecond / baselinePerSecond).toFixed(2)} x)`,
        `          goal >= ${GOAL.sequencedPerSecond}/s: ${met.sequencing ? "goal met" : "goal missed"}`,
        row(`ledger    proof bundle over HTTP, tree size ${treeSize}`, http),
        row("          the same, in process (LedgerService.bundle)", inProcess),
        row("          baseline: GET /healthz over HTTP", healthz),
        row("          baseline: one indexed SELECT by request_id", select),
        `          goal p50 <= ${GOAL.bundleP50Ms} ms, p99 <= ${GOAL.bundleP99Ms} ms: ${met.bundleP50 && met.bundleP99 ? "goal met" : "goal missed"}`,
        row(`ledger    offline verification of one bundle (${checks} checks)`, verifyBundle),
        row("          baseline: one Ed25519 signature check", oneSignature),
      ],
      summary: {
        events: result.sequenced,
        batchSize: config.ledger.batchSize,
        sequencedPerSecond: Math.round(sequencedPerSecond),
        sequencingBaselinePerSecond: Math.round(baselinePerSecond),
        treeSize,
        bundleHttp: http,
        bundleInProcess: inProcess,
        healthz,
        indexedSelect: select,
        verifyBundle,
        oneSignature,
        goal: { ...GOAL, met },
      },
    };
  } finally {
    await vault?.close().catch((err) => log(`closing the vault failed: ${String(err)}`));
    await dropDatabases(serverUrl, dbName).catch((err) => log(`dropping ${dbName}* failed: ${String(err)}; drop them by hand`));
    await rm(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const serverUrl = process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432";
  const dbName = `cs_bench_${randomBytes(4).toString("hex")}_ledger`;
  const started = performance.now();
  const log: Log = (msg) => process.stderr.write(`[ledger-bench ${((performance.now() - started) / 1000).toFixed(1)}s] ${msg}\n`);
  process.on("SIGINT", () => void dropDatabases(serverUrl, dbName).finally(() => process.exit(130)));
  const result = await runLedgerBench(serverUrl, dbName, log).catch((err) => {
    log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  });
  process.stdout.write(["", "Countersign ledger bench (in process, real PostgreSQL)", ...result.rows, ""].join("\n"));
  process.stdout.write(`${JSON.stringify({ bench: "countersign-ledger", at: new Date().toISOString(), ledger: result.summary })}\n`);
  process.exit(0);
}

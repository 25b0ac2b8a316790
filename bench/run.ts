/**
 * `npm run bench`: vault throughput on real PostgreSQL with the rules-only judge, next to a raw
 * INSERT-commit baseline measured in the same run on the same server. The machine is small and
 * noisy, so absolute numbers mean little on their own; the ratio to the baseline is what travels.
 *
 * BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432) names the server; every database the
 * bench creates is called cs_bench_<hex>[_*] and is dropped at the end, also when a phase fails.
 * Other VAULT_* variables pass through to the vault, e.g. VAULT_CLEARANCE_MODE=queued to measure the
 * queued path; BENCH_VAULT_NODE_ARGS adds node flags for the vault process (see vault.ts).
 * The vault phases also run the pre-ledger vault (prior-build.ts) for the with/without-ledger ratio,
 * and measure checkpoint lag under a fixed offered load. The ledger figures (ledger-bench.ts) and the
 * judge figures (judge-bench.ts), both in process, follow; BENCH_ONLY=ledger or BENCH_ONLY=judge runs
 * only those, BENCH_ONLY=vault only the vault phases. The hostile-CEL phase (hostile-cel.ts: /healthz at rest
 * and under 10 clients sending a costly condition) ends the full run; BENCH_ONLY=hostile-cel runs it alone.
 *
 * Issue 12's decision figures (decisions.ts) are part of the full run: the minimal durable signing
 * service (minimal-service.ts) and the vault, approved decisions and consume, as ratios to it, on
 * PostgreSQL and on PGlite. BENCH_ONLY=decisions runs only those (with the raw INSERT loop),
 * decisions-pg or decisions-pglite one engine. BENCH_PROFILE=1 (or pglite, or both) adds a vault run
 * under `node --cpu-prof` during approved-decision load: the profile goes to bench/out/ and its top
 * self-time functions are printed.
 *
 * Issue 13's production-shape figures (production-shape.ts) end the full run: approved decisions
 * through SQS FIFO (fauxqs) next to the in-memory queue, and with KMS signing (a stand-in answering
 * after 5 ms) next to the local key. BENCH_ONLY=production runs only those.
 *
 * Issue 14's start-up figures (start-time.ts): `countersign serve` on embedded PGlite, cold first start
 * and restart until /healthz and /readyz answer, next to importing PGlite and opening an empty database
 * in the same run. BENCH_ONLY=start-time runs only those (BENCH_START_REPS repetitions, default 5).
 *
 * Issue 15's gateway figures (gateway.ts): the upstream called directly, the vault's /consume-token alone,
 * and the full `countersign gateway` path, in the same run, at one connection and under load.
 * BENCH_ONLY=gateway runs only those.
 * Issue 15's MCP gateway figures (mcp-gateway.ts): tools/call directly to an upstream MCP server, the
 * vault's own clearance + consume + execution report, and tools/call through `countersign mcp-gateway`,
 * in the same run. BENCH_ONLY=mcp-gateway runs only those.
 * Issue 16's protocol figures (protocols.ts): StepAuth submit → signed decision/s next to
 * /request-clearance, and a Sigilum-signed request's cost next to API-key authentication, in the same
 * run. BENCH_ONLY=protocols runs only those.
 * Issue 17's replay figures (replay.ts): recorded requests judged per second by POST /policies/{id}/replay
 * next to /request-clearance with the same conditions-only policy, in the same run on the same vault.
 * BENCH_ONLY=replay runs only those.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { rawInsertBaseline } from "./baseline.js";
import { checkpointLags } from "./checkpoint-lag.js";
import { exportBuild, preparePriorBuild, type PriorBuild } from "./prior-build.js";
import { decisionPhases, decisionRows, decisionSummary, engineFigures, minimalFigures, minimalHalves, profileReport, profileVault, vaultFigures, type DecisionBench, type Engine, type EngineFigures } from "./decisions.js";
import { clearancePhase, type LoadTarget } from "./load.js";
import { startMinimalService } from "./minimal-phase.js";
import type { ServerProcess } from "./server-process.js";
import { failed, figures, merge, row, type PhaseStats } from "./stats.js";
import { productionShapePhases, productionShapeRows, productionShapeSummary, type ProductionShapeBench } from "./production-shape.js";
import { runStartTimeBench, startTimeRows, startTimeSummary } from "./start-time.js";
import { buildVault, createDatabase, dropDatabases, serverVersion, startVault, withDatabase, type VaultProcess } from "./vault.js";

const serverUrl = process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432";
const CONNECTIONS = 50;
const WARMUP_SECONDS = 3;
const MEASURE_SECONDS = 10;
// Baseline halves that differ by more than this mean the machine changed speed during the run.
const NOISY_SPREAD = 0.25;
const GOAL = { decisionsPerSecond: 2_000, p99Ms: 25, baselineRatio: 0.5 };

// The in-process phases import src/ from the working tree, so they load only when they run: the
// decision phases (HTTP only) then work with BENCH_VAULT_REV while the tree is mid-change.
const runLedgerBench: typeof import("./ledger-bench.js").runLedgerBench = async (...a) => (await import("./ledger-bench.js")).runLedgerBench(...a);
const runJudgeBench: typeof import("./judge-bench.js").runJudgeBench = async (...a) => (await import("./judge-bench.js")).runJudgeBench(...a);
const runProductionShape: typeof import("./production-shape.js").runProductionShapeBench = async (...a) => (await import("./production-shape.js")).runProductionShapeBench(...a);
const runHostileCelBench: typeof import("./hostile-cel.js").runHostileCelBench = async (...a) => (await import("./hostile-cel.js")).runHostileCelBench(...a);
const runGatewayBench: typeof import("./gateway.js").runGatewayBench = async (...a) => (await import("./gateway.js")).runGatewayBench(...a);
const runMcpGatewayBench: typeof import("./mcp-gateway.js").runMcpGatewayBench = async (...a) => (await import("./mcp-gateway.js")).runMcpGatewayBench(...a);
const runProtocolsBench: typeof import("./protocols.js").runProtocolsBench = async (...a) => (await import("./protocols.js")).runProtocolsBench(...a);
const runReplayBench: typeof import("./replay.js").runReplayBench = async (...a) => (await import("./replay.js")).runReplayBench(...a);

const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)}s`;
const log = (msg: string) => process.stderr.write(`[bench ${elapsed()}] ${msg}\n`);

const runId = randomBytes(4).toString("hex");
const controlDb = `cs_bench_${runId}`;
const baselineDb = `${controlDb}_baseline`; // the prefix puts it in the same cleanup sweep
const judgeDb = `${controlDb}_judge`;
const ledgerDb = `${controlDb}_ledger`;
const priorDb = `${controlDb}_prior`;
const lagDb = `${controlDb}_lag`;
const minimalDb = `${controlDb}_minimal`;
const profileDb = `${controlDb}_profile`;
// The ledger's goals: the vault keeps >= 80% of its pre-ledger decision rate; 2,000 decisions/s are
// in a signed checkpoint within 1 s at p99 with a sub-second sequencing interval.
const LEDGER_GOAL = { throughputRatio: 0.8, lagRate: 2_000, lagP99Ms: 1_000, lagIntervalSeconds: "0.1" };
const only = process.env.BENCH_ONLY;
const apiKey = `bench_${randomBytes(24).toString("hex")}`;
let dataDir: string | undefined;
let vault: VaultProcess | undefined;
let minimal: ServerProcess | undefined;
let prior: PriorBuild | undefined;
// BENCH_VAULT_REV: the vault of that commit instead of the working tree's (see prepareVault).
let vaultBuild: PriorBuild | undefined;

let cleanedUp: Promise<void> | undefined;
function cleanup(): Promise<void> {
  // Once only: the normal path and a signal handler may both get here.
  cleanedUp ??= (async () => {
    await vault?.stop().catch((err) => log(`stopping the vault failed: ${String(err)}`));
    await minimal?.stop().catch((err) => log(`stopping the minimal service failed: ${String(err)}`));
    await prior?.remove().catch((err) => log(`removing the prior build failed: ${String(err)}`));
    await vaultBuild?.remove().catch((err) => log(`removing the build of BENCH_VAULT_REV failed: ${String(err)}`));
    const dropped = await dropDatabases(serverUrl, controlDb).catch((err) => {
      log(`dropping databases ${controlDb}* failed: ${String(err)}; drop them by hand`);
      return [];
    });
    if (dropped.length > 0) log(`dropped ${dropped.join(", ")}`);
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  })();
  return cleanedUp;
}

// `on`, not `once`: tsx relays Ctrl-C to this process a second time, and with no listener left its
// hidden handler would exit at once, in the middle of dropping the databases.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    log(cleanedUp ? `${signal}: still cleaning up` : `${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

const benchPolicy = {
  policy_id: "bench-policy",
  tools: ["bench_tool"],
  conditions: [{ id: "ok", when: "args.amount <= 100", decision: "approve", reason: "within limit" }],
  default_decision: "deny",
};

/**
 * Starts a vault on a fresh control database (from `root`, default this tree) with the bench policy.
 * `db` is a database name on the bench server, or a directory path for the embedded PGlite engine.
 */
async function benchVault(db: string, extra: { root?: string; env?: Record<string, string>; nodeArgs?: string[] } = {}): Promise<VaultProcess> {
  const databaseUrl = path.isAbsolute(db) ? db : withDatabase(serverUrl, db);
  vault = await startVault({ databaseUrl, apiKey, dataDir: dataDir!, tenantPool: CONNECTIONS, controlPool: 10, root: vaultBuild?.root, ...extra });
  await api("/register-policy", benchPolicy);
  return vault;
}

async function api(route: string, body: unknown): Promise<unknown> {
  const res = await fetch(`${vault!.url}${route}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-vault-api-key": apiKey },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`POST ${route} -> HTTP ${res.status}: ${text}`);
  return JSON.parse(text);
}

/**
 * Builds the vault the phases run: the working tree's dist/, or with BENCH_VAULT_REV=<commit> that
 * commit's, exported apart (prior-build.ts), e.g. the "before" figures while the tree is mid-change.
 */
async function prepareVault(): Promise<void> {
  const rev = process.env.BENCH_VAULT_REV;
  if (!rev) {
    log("building dist/ (tsc -p tsconfig.build.json)");
    return buildVault();
  }
  log(`building the vault at ${rev} (git archive into a temporary directory)`);
  vaultBuild = await exportBuild(rev);
}

/** The decision phases' view of this run: the servers they start are tracked here, for cleanup. */
const decisionBench: DecisionBench = {
  startVault: (database, nodeArgs) => benchVault(database, { nodeArgs }),
  async startMinimal(database, pool) {
    minimal = await startMinimalService(database, pool);
    return minimal;
  },
  get vaultRoot() {
    return vaultBuild?.root ?? fileURLToPath(new URL("..", import.meta.url));
  },
  apiKey,
  connections: CONNECTIONS,
  warmupSeconds: WARMUP_SECONDS,
  measureSeconds: MEASURE_SECONDS,
  log,
};

/** The minimal service, then a vault on a fresh control database `vaultDb`, on the bench server. */
async function postgresFigures(vaultDb: string): Promise<EngineFigures> {
  await createDatabase(serverUrl, minimalDb);
  return engineFigures(decisionBench, "postgres", { vault: vaultDb, minimal: withDatabase(serverUrl, minimalDb) });
}

/** The same on the embedded engine, each in its own PGlite directory under the bench's data dir. */
function pgliteFigures(): Promise<EngineFigures> {
  return engineFigures(decisionBench, "pglite", { vault: path.join(dataDir!, "pglite-vault"), minimal: path.join(dataDir!, "pglite-minimal") });
}

/** BENCH_PROFILE=1 (or postgres), pglite, or both: which vaults to profile under approved-decision load. */
function profileEngines(): Engine[] {
  const v = process.env.BENCH_PROFILE;
  if (!v || v === "0") return [];
  if (v === "both") return ["postgres", "pglite"];
  return v === "pglite" ? ["pglite"] : ["postgres"];
}

async function runProfiles(): Promise<{ rows: string[]; summaries: object[]; phases: Record<string, PhaseStats> }> {
  const rows: string[] = [];
  const summaries: object[] = [];
  const phases: Record<string, PhaseStats> = {};
  for (const engine of profileEngines()) {
    const where = engine === "postgres" ? profileDb : path.join(dataDir!, "pglite-profile");
    const profile = await profileVault(decisionBench, engine, where, runId);
    const report = profileReport(profile);
    rows.push(...report.rows);
    summaries.push(report.summary);
    phases[`${engine} clearance under the profiler`] = profile.clearance;
  }
  return { rows, summaries, phases };
}

/**
 * BENCH_ONLY=decisions (both engines), decisions-pg or decisions-pglite: issue 12's figures alone,
 * the raw INSERT loop (PostgreSQL), the minimal service and the vault, plus BENCH_PROFILE's profiles.
 */
async function decisionsOnly(engines: Engine[]): Promise<number> {
  await prepareVault();
  dataDir = await mkdtemp(path.join(tmpdir(), "cs-bench-"));
  const pgVersion = engines.includes("postgres") ? await serverVersion(serverUrl) : undefined;
  let raw: PhaseStats | undefined;
  const runs: EngineFigures[] = [];
  if (engines.includes("postgres")) {
    await createDatabase(serverUrl, baselineDb);
    log(`raw INSERT commits, pool ${CONNECTIONS}, ${MEASURE_SECONDS}s`);
    raw = await rawInsertBaseline(withDatabase(serverUrl, baselineDb), { connections: CONNECTIONS, warmupMs: 1_500, durationMs: MEASURE_SECONDS * 1000 });
    runs.push(await postgresFigures(controlDb));
  }
  if (engines.includes("pglite")) runs.push(await pgliteFigures());
  const profiles = await runProfiles();

  const phases: Record<string, PhaseStats> = { ...(raw ? { "raw INSERT": raw } : {}), ...Object.assign({}, ...runs.map(decisionPhases)), ...profiles.phases };
  const problems = Object.entries(phases).filter(([, p]) => failed(p)).map(([name, p]) => `${name}: ${describeProblems(p)}`);
  const out = [
    "",
    `Countersign decision bench (${pgVersion ? `real PostgreSQL ${pgVersion}` : "PGlite"}, rules-only judge, ${CONNECTIONS} HTTP connections, ${availableParallelism()} CPUs, vault ${vaultBuild ? `at ${vaultBuild.rev}` : "of the working tree"})`,
    ...(raw ? [row(`pg        raw INSERT commits/s (pool ${CONNECTIONS})`, raw)] : []),
    ...runs.flatMap(decisionRows),
    ...profiles.rows,
    ...problems.map((p) => `ERROR ${p}`),
    "",
  ];
  process.stdout.write(out.join("\n"));
  const summary = {
    bench: "countersign-decisions",
    at: new Date().toISOString(),
    vaultRev: vaultBuild?.rev ?? "working tree",
    postgres: pgVersion,
    cpus: availableParallelism(),
    connections: CONNECTIONS,
    raw: raw ? figures(raw) : undefined,
    ...Object.fromEntries(runs.map((r) => [r.engine === "postgres" ? "onPostgres" : "onPglite", decisionSummary(r)])),
    profiles: profiles.summaries,
    errors: problems,
    benchSeconds: +((performance.now() - started) / 1000).toFixed(1),
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  return problems.length > 0 ? 1 : 0;
}

function describeProblems(s: PhaseStats): string {
  const codes = Object.entries(s.statusCodes).map(([c, n]) => `${c}: ${n}`).join(", ");
  return `${s.ok} ok, ${s.unexpected} unexpected answers, ${s.errors} connection errors/timeouts${codes ? ` [${codes}]` : ""}${s.sample ? `; first: ${s.sample}` : ""}`;
}

/** The judge figures alone: no build, no vault process. */
async function ledgerOnly(): Promise<number> {
  const ledger = await runLedgerBench(serverUrl, ledgerDb, log);
  process.stdout.write(["", `Countersign ledger bench (in process, real PostgreSQL, ${availableParallelism()} CPUs)`, ...ledger.rows, ""].join("\n"));
  process.stdout.write(`${JSON.stringify({ bench: "countersign-ledger", at: new Date().toISOString(), cpus: availableParallelism(), ledger: ledger.summary })}\n`);
  return 0;
}

async function judgeOnly(): Promise<number> {
  const judge = await runJudgeBench(serverUrl, judgeDb, log);
  process.stdout.write(["", `Countersign judge bench (in process, ${availableParallelism()} CPUs)`, ...judge.rows, ""].join("\n"));
  const benchSeconds = +((performance.now() - started) / 1000).toFixed(1);
  process.stdout.write(`${JSON.stringify({ bench: "countersign-judge", at: new Date().toISOString(), cpus: availableParallelism(), judge: judge.summary, benchSeconds })}\n`);
  return 0;
}

/** The hostile-CEL phase alone: /healthz at rest and under a costly-condition attack (hostile-cel.ts). */
async function hostileCelOnly(): Promise<number> {
  log("building dist/ (tsc -p tsconfig.build.json)");
  buildVault();
  dataDir = await mkdtemp(path.join(tmpdir(), "cs-bench-"));
  const hostile = await runHostileCelBench({ serverUrl, controlDb, apiKey, dataDir, log });
  process.stdout.write(["", `Countersign hostile-CEL bench (${availableParallelism()} CPUs)`, ...hostile.rows, ""].join("\n"));
  process.stdout.write(`${JSON.stringify({ bench: "countersign-hostile-cel", at: new Date().toISOString(), cpus: availableParallelism(), hostileCel: hostile.summary })}\n`);
  return 0;
}

/** Issue 13's production-shape figures (SQS vs memory queue, KMS vs local key) on the bench server. */
const productionBench: ProductionShapeBench = {
  startVault: (database, env) => benchVault(database, { env }),
  apiKey,
  connections: CONNECTIONS,
  warmupSeconds: WARMUP_SECONDS,
  measureSeconds: MEASURE_SECONDS,
  log,
};

async function productionOnly(): Promise<number> {
  await prepareVault();
  dataDir = await mkdtemp(path.join(tmpdir(), "cs-bench-"));
  const f = await runProductionShape(productionBench, `${controlDb}_prod`);
  const problems = Object.entries(productionShapePhases(f)).filter(([, s]) => failed(s)).map(([name, s]) => `${name}: ${describeProblems(s)}`);
  process.stdout.write(
    ["", `Countersign production-shape bench (real PostgreSQL ${await serverVersion(serverUrl)}, ${CONNECTIONS} connections, ${availableParallelism()} CPUs)`, ...productionShapeRows(f), ...problems.map((p) => `ERROR ${p}`), ""].join("\n"),
  );
  process.stdout.write(`${JSON.stringify({ bench: "countersign-production-shape", at: new Date().toISOString(), cpus: availableParallelism(), productionShape: productionShapeSummary(f), errors: problems })}\n`);
  return problems.length > 0 ? 1 : 0;
}

/** Issue 14: start-up time of the built vault on embedded PGlite, next to PGlite's own (start-time.ts). */
async function startTimeOnly(): Promise<number> {
  await prepareVault();
  const root = vaultBuild?.root ?? fileURLToPath(new URL("..", import.meta.url));
  const reps = Number(process.env.BENCH_START_REPS ?? 5);
  const f = await runStartTimeBench({ root, reps, log });
  const summary = startTimeSummary(f);
  process.stdout.write(["", `Countersign start-time bench (embedded PGlite, ${availableParallelism()} CPUs, vault ${vaultBuild ? `at ${vaultBuild.rev}` : "of the working tree"})`, ...startTimeRows(f), ""].join("\n"));
  process.stdout.write(`${JSON.stringify({ bench: "countersign-start-time", at: new Date().toISOString(), cpus: availableParallelism(), startTime: summary })}\n`);
  const met = [summary.coldHealthz, summary.coldReadyz, summary.restartHealthz, summary.restartReadyz].every((x) => x.met) && summary.modelLoadedAtStart === 0;
  return met ? 0 : 1;
}

/** Issue 15: the token gateway's added latency and throughput, next to the upstream and the vault's consume (gateway.ts). */
async function gatewayOnly(): Promise<number> {
  await prepareVault();
  dataDir = await mkdtemp(path.join(tmpdir(), "cs-bench-"));
  const gateway = await runGatewayBench({ serverUrl, controlDb, apiKey, dataDir, log });
  process.stdout.write(["", `Countersign gateway bench (real PostgreSQL ${await serverVersion(serverUrl)}, ${availableParallelism()} CPUs)`, ...gateway.rows, ""].join("\n"));
  process.stdout.write(`${JSON.stringify({ bench: "countersign-gateway", at: new Date().toISOString(), cpus: availableParallelism(), gateway: gateway.summary })}\n`);
  return 0;
}

/** Issue 15: the MCP gateway's added latency and calls/s, next to the upstream and the vault's own calls (mcp-gateway.ts). */
async function mcpGatewayOnly(): Promise<number> {
  await prepareVault();
  dataDir = await mkdtemp(path.join(tmpdir(), "cs-bench-"));
  const mcp = await runMcpGatewayBench({ serverUrl, controlDb, apiKey, dataDir, log });
  const problems = Object.entries(mcp.phases).filter(([, s]) => failed(s)).map(([name, s]) => `${name}: ${describeProblems(s)}`);
  process.stdout.write(["", `Countersign MCP gateway bench (real PostgreSQL ${await serverVersion(serverUrl)}, ${availableParallelism()} CPUs)`, ...mcp.rows, ...problems.map((p) => `ERROR ${p}`), ""].join("\n"));
  process.stdout.write(`${JSON.stringify({ bench: "countersign-mcp-gateway", at: new Date().toISOString(), cpus: availableParallelism(), mcpGateway: mcp.summary, errors: problems })}\n`);
  return problems.length > 0 ? 1 : 0;
}

/** Issue 16: StepAuth and signed agent requests next to /request-clearance with an API key (protocols.ts). */
async function protocolsOnly(): Promise<number> {
  await prepareVault();
  dataDir = await mkdtemp(path.join(tmpdir(), "cs-bench-"));
  const result = await runProtocolsBench({ serverUrl, controlDb, apiKey, dataDir, log });
  const problems = Object.entries(result.phases).filter(([, s]) => failed(s)).map(([name, s]) => `${name}: ${describeProblems(s)}`);
  process.stdout.write(["", `Countersign protocols bench (real PostgreSQL ${await serverVersion(serverUrl)}, ${availableParallelism()} CPUs)`, ...result.rows, ...problems.map((p) => `ERROR ${p}`), ""].join("\n"));
  process.stdout.write(`${JSON.stringify({ bench: "countersign-protocols", at: new Date().toISOString(), cpus: availableParallelism(), protocols: result.summary, errors: problems })}\n`);
  return problems.length > 0 ? 1 : 0;
}

/** Issue 17: replay throughput next to the live conditions path (replay.ts). */
async function replayOnly(): Promise<number> {
  await prepareVault();
  dataDir = await mkdtemp(path.join(tmpdir(), "cs-bench-"));
  const result = await runReplayBench({ serverUrl, controlDb, apiKey, dataDir, log });
  const problems = Object.entries(result.phases).filter(([, s]) => failed(s)).map(([name, s]) => `${name}: ${describeProblems(s)}`);
  process.stdout.write(["", `Countersign replay bench (real PostgreSQL ${await serverVersion(serverUrl)}, ${availableParallelism()} CPUs)`, ...result.rows, ...problems.map((p) => `ERROR ${p}`), ""].join("\n"));
  process.stdout.write(`${JSON.stringify({ bench: "countersign-replay", at: new Date().toISOString(), cpus: availableParallelism(), replay: result.summary, errors: problems })}\n`);
  return problems.length > 0 ? 1 : 0;
}

async function main(): Promise<number> {
  if (only === "replay") return replayOnly();
  if (only === "protocols") return protocolsOnly();
  if (only === "gateway") return gatewayOnly();
  if (only === "mcp-gateway") return mcpGatewayOnly();
  if (only === "production") return productionOnly();
  if (only === "start-time") return startTimeOnly();
  if (only === "decisions") return decisionsOnly(["postgres", "pglite"]);
  if (only === "decisions-pg") return decisionsOnly(["postgres"]);
  if (only === "decisions-pglite") return decisionsOnly(["pglite"]);
  if (only === "hostile-cel") return hostileCelOnly();
  if (only === "judge") return judgeOnly();
  if (only === "ledger") return ledgerOnly();
  await prepareVault();
  dataDir = await mkdtemp(path.join(tmpdir(), "cs-bench-"));
  const pgVersion = await serverVersion(serverUrl);

  // The baseline runs in two halves, before and after the vault phases, so drift in machine speed
  // during the run shows up as a spread instead of silently skewing the ratio. It never overlaps
  // the vault: both pools together would exceed PostgreSQL's default max_connections of 100.
  const half = { connections: CONNECTIONS, warmupMs: 1_500, durationMs: (MEASURE_SECONDS * 1000) / 2 };
  await createDatabase(serverUrl, baselineDb);
  log(`baseline, first half: raw INSERT commits, pool ${CONNECTIONS}, ${half.durationMs / 1000}s`);
  const baselineBefore = await rawInsertBaseline(withDatabase(serverUrl, baselineDb), half);

  // Issue 12's floor: the minimal durable signing service, before the vault's own figures.
  await createDatabase(serverUrl, minimalDb);
  const minimalBefore = await minimalFigures(decisionBench, withDatabase(serverUrl, minimalDb), CONNECTIONS);

  log(`starting vault on database ${controlDb}`);
  vault = await benchVault(controlDb);
  const target = (): LoadTarget => ({ url: vault!.url, apiKey, connections: CONNECTIONS });
  const vaultRun = await vaultFigures(decisionBench, target());
  const { clearanceWarmup, clearance, consumeWarmup, consume } = vaultRun;

  // Stopping the vault closes its pools, which frees the connections the next phases need.
  await vault.stop();

  prior = await preparePriorBuild();
  log(`clearance without the ledger: the vault at ${prior.rev}, ${WARMUP_SECONDS}s warm-up, then ${MEASURE_SECONDS}s measured`);
  vault = await benchVault(priorDb, { root: prior.root });
  await clearancePhase(target(), WARMUP_SECONDS, []);
  const withoutLedger = await clearancePhase(target(), MEASURE_SECONDS, []);
  await vault.stop();

  const lagPhase = async (db: string, rate: number) => {
    log(`checkpoint lag: ${rate} decisions/s offered, ${WARMUP_SECONDS}s warm-up, then ${MEASURE_SECONDS}s measured, sequencing every ${LEDGER_GOAL.lagIntervalSeconds}s`);
    vault = await benchVault(db, { env: { VAULT_LEDGER_ANCHOR_BACKFILL_INTERVAL_SECONDS: LEDGER_GOAL.lagIntervalSeconds } });
    // Warmed up like the other phases; only events accepted after the warm-up are measured.
    await clearancePhase(target(), WARMUP_SECONDS, [], rate);
    const since = new Date();
    const load = await clearancePhase(target(), MEASURE_SECONDS, [], rate);
    const lags = await checkpointLags(serverUrl, db, LEDGER_GOAL.lagIntervalSeconds, since);
    await vault.stop();
    return { load, lags, offered: rate };
  };
  const lagAtGoal = await lagPhase(lagDb, LEDGER_GOAL.lagRate);
  const { load: lagLoad, lags: lag } = lagAtGoal;
  // On a machine that cannot decide the goal rate, the first figure is queueing in a saturated vault.
  // The same measurement at 70% of the throughput measured above shows the lag at a load it sustains.
  const lagSustained = await lagPhase(`${lagDb}_sustained`, Math.min(LEDGER_GOAL.lagRate, Math.floor(clearance.perSecond * 0.7)));
  log(`baseline, second half: ${half.durationMs / 1000}s`);
  const baselineAfter = await rawInsertBaseline(withDatabase(serverUrl, baselineDb), half);
  const baseline = merge([baselineBefore, baselineAfter]);
  const minimalAfter = await minimalFigures(decisionBench, withDatabase(serverUrl, minimalDb), CONNECTIONS);
  const onPostgres: EngineFigures = { engine: "postgres", ...vaultRun, ...minimalHalves(CONNECTIONS, minimalBefore, minimalAfter) };
  const onPglite = await pgliteFigures();
  const profiles = await runProfiles();
  // After the vault has stopped, so the two never compete for the two cores.
  const ledger = only === "vault" ? undefined : await runLedgerBench(serverUrl, ledgerDb, log);
  const judge = only === "vault" ? undefined : await runJudgeBench(serverUrl, judgeDb, log);
  const hostile = only === "vault" ? undefined : await runHostileCelBench({ serverUrl, controlDb, apiKey, dataDir, log });
  const gateway = only === "vault" ? undefined : await runGatewayBench({ serverUrl, controlDb, apiKey, dataDir, log });
  const mcpGateway = only === "vault" ? undefined : await runMcpGatewayBench({ serverUrl, controlDb, apiKey, dataDir, log });
  const protocols = only === "vault" ? undefined : await runProtocolsBench({ serverUrl, controlDb, apiKey, dataDir, log });
  const replay = only === "vault" ? undefined : await runReplayBench({ serverUrl, controlDb, apiKey, dataDir, log });
  const production = await runProductionShape(productionBench, `${controlDb}_prod`);
  const benchSeconds = (performance.now() - started) / 1000;

  const problems: string[] = [];
  const phases = {
    "baseline (before)": baselineBefore,
    "baseline (after)": baselineAfter,
    "clearance warm-up": clearanceWarmup,
    clearance,
    "consume warm-up": consumeWarmup,
    consume,
    "clearance without the ledger": withoutLedger,
    "checkpoint-lag load": lagLoad,
    "checkpoint-lag load (sustained)": lagSustained.load,
    "postgres minimal warm-up": onPostgres.minimalWarmup,
    "postgres minimal": onPostgres.minimal,
    ...decisionPhases(onPglite),
    ...profiles.phases,
    ...productionShapePhases(production),
    ...(replay?.phases ?? {}),
  };
  for (const [name, s] of Object.entries(phases)) if (failed(s)) problems.push(`${name}: ${describeProblems(s)}`);

  const spread = Math.abs(baselineBefore.perSecond - baselineAfter.perSecond) / Math.min(baselineBefore.perSecond, baselineAfter.perSecond);
  const clearanceRatio = clearance.perSecond / baseline.perSecond;
  const consumeRatio = consume.perSecond / baseline.perSecond;
  const goals = {
    decisionsPerSecond: clearance.perSecond >= GOAL.decisionsPerSecond,
    p99: clearance.p99Ms <= GOAL.p99Ms,
    baselineRatio: clearanceRatio >= GOAL.baselineRatio,
  };
  const missed = Object.entries(goals).filter(([, met]) => !met).map(([name]) => name);
  const ledgerRatio = clearance.perSecond / withoutLedger.perSecond;
  const ledgerGoals = { throughputRatio: ledgerRatio >= LEDGER_GOAL.throughputRatio, lagP99: lag.p99Ms <= LEDGER_GOAL.lagP99Ms };

  const out = [
    "",
    `Countersign bench (real PostgreSQL ${pgVersion}, rules-only judge, ${CONNECTIONS} connections, ${availableParallelism()} CPUs)`,
    row(`baseline  raw INSERT commits/s (pool ${CONNECTIONS})`, baseline),
    `          before ${Math.round(baselineBefore.perSecond)}/s, after ${Math.round(baselineAfter.perSecond)}/s` +
      (spread > NOISY_SPREAD ? `  NOISY: the halves differ by ${Math.round(spread * 100)}%, so the ratios below are rough` : ""),
    row("clearance approved decisions/s (with token)", clearance, `  (= ${clearanceRatio.toFixed(2)} x baseline)`),
    `          goal >= ${GOAL.decisionsPerSecond}/s, p99 <= ${GOAL.p99Ms} ms, >= ${GOAL.baselineRatio} x baseline: ` +
      (missed.length === 0 ? "goal met" : `goal missed (${missed.join(", ")})`),
    row("consume   consume-token/s", consume, `  (= ${consumeRatio.toFixed(2)} x baseline)`),
    ...decisionRows(onPostgres),
    ...decisionRows(onPglite),
    ...profiles.rows,
    row(`clearance without the ledger (the vault at ${prior.rev})`, withoutLedger, `  (with the ledger: ${ledgerRatio.toFixed(2)} x)`),
    `          goal: with the ledger >= ${LEDGER_GOAL.throughputRatio} x without: ${ledgerGoals.throughputRatio ? "goal met" : "goal missed"}`,
    lagRow(lagAtGoal),
    `          baseline: the sequencing interval itself, ${Number(LEDGER_GOAL.lagIntervalSeconds) * 1000} ms; goal p99 <= ${LEDGER_GOAL.lagP99Ms} ms: ${ledgerGoals.lagP99 ? "goal met" : "goal missed"}` +
      (lagLoad.perSecond < LEDGER_GOAL.lagRate * 0.95 ? ` (this machine decided only ${Math.round(lagLoad.perSecond)}/s of the ${LEDGER_GOAL.lagRate}/s offered: saturated)` : ""),
    lagRow(lagSustained),
    `          the same at 70% of the clearance throughput measured above (capped at ${LEDGER_GOAL.lagRate}/s): a load this machine sustains`,
    ...(ledger?.rows ?? []),
    ...(judge?.rows ?? []),
    ...(hostile?.rows ?? []),
    ...(gateway?.rows ?? []),
    ...(mcpGateway?.rows ?? []),
    ...(protocols?.rows ?? []),
    ...(replay?.rows ?? []),
    ...productionShapeRows(production),
    ...problems.map((p) => `ERROR ${p}`),
    "",
  ];
  process.stdout.write(out.join("\n"));
  const summary = {
    bench: "countersign",
    at: new Date().toISOString(),
    postgres: pgVersion,
    cpus: availableParallelism(),
    connections: CONNECTIONS,
    baseline: { ...figures(baseline), before: figures(baselineBefore), after: figures(baselineAfter), spread: +spread.toFixed(3) },
    clearance: { ...figures(clearance), ratioToBaseline: +clearanceRatio.toFixed(3) },
    consume: { ...figures(consume), ratioToBaseline: +consumeRatio.toFixed(3) },
    decisions: { onPostgres: decisionSummary(onPostgres), onPglite: decisionSummary(onPglite), profiles: profiles.summaries },
    goal: { ...GOAL, met: goals, allMet: missed.length === 0 },
    withoutLedger: { ...figures(withoutLedger), rev: prior.rev, ledgerRatio: +ledgerRatio.toFixed(3) },
    checkpointLag: { ...lag, offered: LEDGER_GOAL.lagRate, achieved: Math.round(lagLoad.perSecond), interval: LEDGER_GOAL.lagIntervalSeconds },
    checkpointLagSustained: { ...lagSustained.lags, offered: lagSustained.offered, achieved: Math.round(lagSustained.load.perSecond), interval: LEDGER_GOAL.lagIntervalSeconds },
    ledgerGoal: { ...LEDGER_GOAL, met: ledgerGoals },
    ledger: ledger?.summary,
    judge: judge?.summary,
    hostileCel: hostile?.summary,
    gateway: gateway?.summary,
    mcpGateway: mcpGateway?.summary,
    protocols: protocols?.summary,
    replay: replay?.summary,
    productionShape: productionShapeSummary(production),
    errors: problems,
    benchSeconds: +benchSeconds.toFixed(1),
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  // A missed goal is a result; errors make the figures untrustworthy, so they fail the run.
  return problems.length > 0 ? 1 : 0;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
} finally {
  await cleanup();
  log(`done in ${elapsed()}`);
}
process.exit(code);

/** One checkpoint-lag line: the rate the vault decided, and the lag percentiles. */
function lagRow(phase: { load: { perSecond: number }; lags: Awaited<ReturnType<typeof checkpointLags>>; offered: number }): string {
  const { lags } = phase;
  return (
    `ledger    checkpoint lag at ${Math.round(phase.load.perSecond)} decisions/s (${phase.offered}/s offered, interval ${LEDGER_GOAL.lagIntervalSeconds}s) ... ` +
    `p50 ${lags.p50Ms.toFixed(0)} ms  p99 ${lags.p99Ms.toFixed(0)} ms  max ${lags.maxMs.toFixed(0)} ms  n=${lags.n}` +
    (lags.unsequenced ? `  (${lags.unsequenced} not yet sequenced)` : "")
  );
}

/**
 * Issue 17's replay figure: how many recorded requests per second POST /policies/{id}/replay judges
 * with a candidate policy, next to the live conditions path measured in the same run on the same vault
 * and policy: POST /request-clearance decided by a conditions-only policy (the inline rules-only judge).
 *  1. live: REPLAY_BENCH_SECONDS (default 10) of /request-clearance at REPLAY_BENCH_CONNECTIONS (default
 *     16) after a 3 s warm-up, amounts 0..999 so the policy approves, denies and reviews; every request
 *     is recorded, and that is the history replayed;
 *     (on a loaded 2-CPU machine that is a few thousand requests, so the history is then copied in SQL,
 *     new ids and slightly older times, until it holds at least REPLAY_BENCH_HISTORY (default 20,000));
 *  2. replay: the whole history (warm-up included) with a candidate that moves both thresholds,
 *     REPLAY_BENCH_RUNS (default 3) times; the figure is recorded requests evaluated per second of
 *     wall-clock time as the client sees it (the HTTP answer included), the median run.
 * One vault process on real PostgreSQL; the replays run after the load, never beside it.
 */
import { performance } from "node:perf_hooks";
import autocannon from "autocannon";
import pg from "pg";
import { LatencyRecorder, row, type PhaseStats } from "./stats.js";
import { createDatabase, startVault, withDatabase } from "./vault.js";

const SECONDS = Number(process.env.REPLAY_BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.REPLAY_BENCH_CONNECTIONS ?? 16);
const RUNS = Number(process.env.REPLAY_BENCH_RUNS ?? 3);
const WARMUP_SECONDS = 3;
const HISTORY = Number(process.env.REPLAY_BENCH_HISTORY ?? 20_000);

export interface ReplayBenchOptions {
  serverUrl: string;
  controlDb: string;
  apiKey: string;
  dataDir: string;
  log: (msg: string) => void;
}

const policy = {
  policy_id: "replay-bench",
  tools: ["bench_tool"],
  conditions: [
    { id: "over-900", when: "args.amount > 900", decision: "deny", reason: "over 900" },
    { id: "up-to-500", when: "args.amount <= 500", decision: "approve", reason: "up to 500" },
  ],
  default_decision: "review",
};
const candidate = {
  ...policy,
  conditions: [
    { id: "over-700", when: "args.amount > 700", decision: "deny", reason: "over 700" },
    { id: "up-to-300", when: "args.amount <= 300", decision: "approve", reason: "up to 300" },
  ],
};

interface ReplayReport {
  requests: number;
  evaluated: number;
  skipped: number;
  stopped: string | null;
  changed_total: number;
  transitions: Record<string, number>;
  duration_ms: number;
}

export async function runReplayBench(opts: ReplayBenchOptions) {
  const db = `${opts.controlDb}_replay`;
  await createDatabase(opts.serverUrl, db);
  opts.log(`replay: starting the vault on ${db}`);
  const vault = await startVault({ databaseUrl: withDatabase(opts.serverUrl, db), apiKey: opts.apiKey, dataDir: opts.dataDir, tenantPool: 20, controlPool: 5 });
  try {
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${vault.url}${path}`, { method: "POST", headers: { "content-type": "application/json", "x-vault-api-key": opts.apiKey }, body: JSON.stringify(body) });
      const text = await res.text();
      if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${text.slice(0, 300)}`);
      return JSON.parse(text) as unknown;
    };
    await post("/register-policy", policy);
    opts.log(`replay: live /request-clearance, ${CONNECTIONS} connections, ${WARMUP_SECONDS}s warm-up then ${SECONDS}s measured`);
    await livePhase(vault.url, opts.apiKey, WARMUP_SECONDS);
    const live = await livePhase(vault.url, opts.apiKey, SECONDS);
    const history = await growHistory(opts.serverUrl, db, HISTORY);
    opts.log(`replay: ${history.recorded} requests recorded live, ${history.total} in the history replayed`);

    const runs: { seconds: number; report: ReplayReport }[] = [];
    for (let i = 0; i < RUNS; i++) {
      opts.log(`replay: run ${i + 1} of ${RUNS} over the recorded history`);
      const t0 = performance.now();
      const report = (await post("/policies/replay-bench/replay", { candidate, since: "1h", limit: 100_000 })) as ReplayReport;
      runs.push({ seconds: (performance.now() - t0) / 1000, report });
    }
    const rates = runs.map((r) => r.report.evaluated / r.seconds).sort((a, b) => a - b);
    const median = runs.find((r) => r.report.evaluated / r.seconds === rates[Math.floor(rates.length / 2)])!;
    const durations = new LatencyRecorder();
    for (const r of runs) durations.add(r.seconds * 1000);
    const replay: PhaseStats = {
      ok: median.report.evaluated,
      seconds: median.seconds,
      perSecond: median.report.evaluated / median.seconds,
      ...durations.summary(),
      errors: 0,
      unexpected: runs.filter((r) => r.report.stopped !== null || r.report.skipped > 0).length,
      statusCodes: {},
      sample: runs.find((r) => r.report.stopped !== null)?.report.stopped ?? undefined,
      latencies: durations,
    };
    const ratio = replay.perSecond / live.perSecond;
    const rows = [
      `Replay vs the live conditions path (same vault, same conditions-only policy, real PostgreSQL; ${history.recorded} requests recorded live, copied to ${history.total})`,
      row(`  live /request-clearance decisions/s (${CONNECTIONS} conn.)`, live),
      `  replay    recorded requests judged/s (median of ${RUNS}) ... ${Math.round(replay.perSecond).toString().padStart(6)}/s  ` +
        `(= ${ratio.toFixed(2)} x live)  ${median.report.evaluated} requests in ${median.seconds.toFixed(2)} s (server ${median.report.duration_ms} ms), ` +
        `runs ${rates.map((r) => Math.round(r)).join(", ")}/s, ${median.report.changed_total} would change`,
    ];
    const summary = {
      live: { perSecond: Math.round(live.perSecond), p50Ms: +live.p50Ms.toFixed(2), p99Ms: +live.p99Ms.toFixed(2), n: live.ok, connections: CONNECTIONS },
      replay: {
        perSecond: Math.round(replay.perSecond),
        ratioToLive: +ratio.toFixed(3),
        requests: median.report.requests,
        evaluated: median.report.evaluated,
        seconds: +median.seconds.toFixed(3),
        serverMs: median.report.duration_ms,
        runsPerSecond: rates.map((r) => Math.round(r)),
        transitions: median.report.transitions,
      },
    };
    return { rows, summary, phases: { "replay live clearance": live, replay } };
  } finally {
    await vault.stop();
  }
}

/**
 * Copies the recorded clearance requests (new ids, a few ms older each copy, no Idempotency-Key) until
 * there are at least `atLeast`, in the tenant's database, which the vault named `<control db>_t_<tenant>`.
 */
async function growHistory(serverUrl: string, controlDb: string, atLeast: number): Promise<{ recorded: number; total: number }> {
  const admin = new pg.Client({ connectionString: withDatabase(serverUrl, "postgres") });
  await admin.connect();
  const { rows } = await admin.query<{ datname: string }>("SELECT datname FROM pg_database WHERE starts_with(datname, $1)", [`${controlDb}_t_`]).finally(() => admin.end());
  if (rows.length !== 1) throw new Error(`expected one tenant database for ${controlDb}, found ${rows.length}`);
  const tenant = new pg.Client({ connectionString: withDatabase(serverUrl, rows[0]!.datname) });
  await tenant.connect();
  try {
    const count = async () => Number((await tenant.query<{ n: string }>("SELECT count(*) AS n FROM clearance_requests WHERE kind = 'clearance'")).rows[0]!.n);
    const recorded = await count();
    const copies = Math.max(0, Math.ceil(atLeast / Math.max(1, recorded)) - 1);
    if (copies > 0) {
      const columns = (await tenant.query<{ c: string }>("SELECT column_name AS c FROM information_schema.columns WHERE table_name = 'clearance_requests' ORDER BY ordinal_position")).rows.map((r) => r.c);
      const pick = columns.map((c) => (c === "id" ? "r.id || '-copy' || g" : c === "idempotency_key" ? "NULL" : c === "created_at" ? "r.created_at - g * interval '1 millisecond'" : `r.${c}`));
      await tenant.query(
        `INSERT INTO clearance_requests (${columns.join(", ")}) SELECT ${pick.join(", ")} FROM clearance_requests r, generate_series(1, $1) g WHERE r.kind = 'clearance'`,
        [copies],
      );
    }
    return { recorded, total: await count() };
  } finally {
    await tenant.end();
  }
}

/** /request-clearance as fast as the connections go; every 200 (approved, denied or sent to review) counts. */
async function livePhase(url: string, apiKey: string, seconds: number): Promise<PhaseStats> {
  let ok = 0;
  let unexpected = 0;
  let sample: string | undefined;
  let n = 0;
  let lastResponse = 0;
  const latencies = new LatencyRecorder();
  const start = performance.now();
  const instance = autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        method: "POST",
        path: "/request-clearance",
        headers: { "content-type": "application/json", "x-vault-api-key": apiKey },
        setupRequest: (req) => ({ ...req, body: JSON.stringify({ tool_name: "bench_tool", tool_args: { amount: n++ % 1000, order: `r-${n}` }, agent_id: "bench" }) }),
        onResponse: (status, body) => {
          if (status === 200) return void ok++;
          unexpected++;
          sample ??= `HTTP ${status}: ${body.slice(0, 300)}`;
        },
      },
    ],
  });
  instance.on("response", (_client, _status, _bytes, responseTime) => {
    latencies.add(responseTime);
    lastResponse = performance.now();
  });
  const result = await instance;
  const elapsed = ((lastResponse || performance.now()) - start) / 1000;
  return { ok, seconds: elapsed, perSecond: ok / elapsed, ...latencies.summary(), errors: result.errors, unexpected, statusCodes: {}, sample, latencies };
}

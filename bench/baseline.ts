import { performance } from "node:perf_hooks";
import pg from "pg";
import { LatencyRecorder, type PhaseStats } from "./stats.js";

// Roughly the size of a clearance row's JSON, so the baseline writes comparable WAL per commit.
// Ids continue across calls: the run measures the baseline before and after the vault phases.
let nextId = 0;

const payload = JSON.stringify({ tool: "bench_tool", args: { amount: 42, order: "x".repeat(64) }, note: "y".repeat(200) });

/**
 * The ceiling the vault is judged against: how many single-row autocommit INSERTs this server
 * commits per second with the same pool size and concurrency the vault gets. Each vault decision
 * needs at least one such commit, so the ratio shows how much the vault adds on top of Postgres.
 */
export async function rawInsertBaseline(dbUrl: string, opts: { connections: number; warmupMs: number; durationMs: number }): Promise<PhaseStats> {
  const pool = new pg.Pool({ connectionString: dbUrl, max: opts.connections });
  let poolError: unknown;
  pool.on("error", (err) => (poolError ??= err));
  try {
    await pool.query("CREATE TABLE IF NOT EXISTS bench_baseline (id bigint PRIMARY KEY, payload text NOT NULL)");
    let errors = 0;
    let sample: string | undefined;
    const latencies = new LatencyRecorder();

    // One loop per connection, like one HTTP connection per autocannon client.
    const loop = async (until: number, record: boolean) => {
      let ok = 0;
      while (performance.now() < until) {
        const t0 = performance.now();
        try {
          await pool.query("INSERT INTO bench_baseline (id, payload) VALUES ($1, $2)", [nextId++, payload]);
        } catch (err) {
          errors++;
          sample ??= err instanceof Error ? err.message : String(err);
          continue;
        }
        if (record) {
          latencies.add(performance.now() - t0);
          ok++;
        }
      }
      return ok;
    };
    const runAll = async (ms: number, record: boolean) => {
      const start = performance.now();
      const counts = await Promise.all(Array.from({ length: opts.connections }, () => loop(start + ms, record)));
      return { ok: counts.reduce((a, b) => a + b, 0), seconds: (performance.now() - start) / 1000 };
    };

    // The warm-up opens all connections, so connect time is not counted as commit latency.
    await runAll(opts.warmupMs, false);
    errors = 0;
    sample = undefined;
    const { ok, seconds } = await runAll(opts.durationMs, true);
    if (poolError) throw poolError;
    return { ok, seconds, perSecond: ok / seconds, ...latencies.summary(), errors, unexpected: 0, statusCodes: {}, sample, latencies };
  } finally {
    await pool.end();
  }
}

/**
 * Issue 14's start-up figures: how long `countersign serve` (the built dist/, embedded PGlite) takes to
 * answer, next to a baseline measured in the same run: a `node` process that imports PGlite, opens a
 * new empty database in a fresh directory (PGlite's initdb) and exits. The machine is small and
 * noisy, so each repetition runs the three in turn (baseline, cold first start, restart) and the
 * medians are compared; the ratio to the baseline is what travels.
 *
 *  - cold first start: a fresh data directory; from spawn until GET /healthz (then /readyz) answers
 *    200. This creates the control database, tenant "default" and its database, and the signing key.
 *  - restart: the same data directory, started again after a clean stop.
 *
 * Goals: cold ≤ 3× the baseline, restart ≤ 1.5×. Each start must also leave the offline embedding
 * model unloaded (GET /metrics: countersign_embedding_model_loaded 0): it is loaded on first use.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "./server-process.js";

export const START_GOAL = { coldRatio: 3, restartRatio: 1.5 };
const POLL_MS = 25;
const START_TIMEOUT_MS = 180_000;

export interface StartTimeFigures {
  reps: number;
  baselineMs: number[];
  cold: { healthzMs: number[]; readyzMs: number[] };
  restart: { healthzMs: number[]; readyzMs: number[] };
  /** Starts after which the offline model was loaded (must be 0). */
  modelLoadedAtStart: number;
}

// ESM import, as the vault does; no extensions, so the baseline is PGlite alone.
const BASELINE_SCRIPT = `const { PGlite } = await import("@electric-sql/pglite");
const db = await PGlite.create(process.argv[1]);
await db.query("SELECT 1");
await db.close();`;

/** A clean environment: no DATABASE_URL, NODE_ENV or other VAULT_* of the caller's reaches the vault. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const keep = ["PATH", "HOME", "TMPDIR", "LANG"];
  return { ...Object.fromEntries(keep.flatMap((k) => (process.env[k] === undefined ? [] : [[k, process.env[k]!]]))), ...extra };
}

async function baselineOnce(root: string): Promise<number> {
  const dir = await mkdtemp(path.join(tmpdir(), "cs-start-baseline-"));
  try {
    const t0 = performance.now();
    const child = spawn(process.execPath, ["--input-type=module", "-e", BASELINE_SCRIPT, path.join(dir, "db")], { cwd: root, stdio: ["ignore", "ignore", "pipe"], env: cleanEnv({}) });
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => void (stderr += b.toString()));
    const [code] = (await once(child, "exit")) as [number | null];
    const ms = performance.now() - t0;
    if (code !== 0) throw new Error(`the baseline process exited with code ${code}:\n${stderr}`);
    return ms;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function answers(url: string): Promise<boolean> {
  return fetch(url).then(
    (r) => r.status === 200,
    () => false,
  );
}

/** `countersign serve` on `dataDir`: ms from spawn until /healthz, then /readyz, answer 200; then a clean stop. */
async function startOnce(root: string, dataDir: string): Promise<{ healthzMs: number; readyzMs: number; modelLoaded: boolean }> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const t0 = performance.now();
  const child = spawn(process.execPath, ["dist/main/cli.js", "serve"], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env: cleanEnv({ VAULT_DATA_DIR: dataDir, VAULT_HOST: "127.0.0.1", VAULT_PORT: String(port), LOG_LEVEL: "warn" }),
  });
  // Kept for a failure message only, with the once-shown admin key masked: never printed otherwise.
  let output = "";
  const keep = (b: Buffer) => void (output = (output + b.toString().replace(/csk_[A-Za-z0-9_-]+/g, "csk_…")).slice(-4000));
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  let exited: number | null | undefined;
  const exit = new Promise<void>((resolve) => child.once("exit", (code) => ((exited = code), resolve())));
  const waitFor = async (pathname: string) => {
    while (!(await answers(base + pathname))) {
      if (exited !== undefined) throw new Error(`the vault exited with code ${exited} before ${pathname} answered 200:\n${output}`);
      if (performance.now() - t0 > START_TIMEOUT_MS) throw new Error(`${pathname} did not answer 200 within ${START_TIMEOUT_MS / 1000} s:\n${output}`);
      await sleep(POLL_MS);
    }
    return performance.now() - t0;
  };
  try {
    const healthzMs = await waitFor("/healthz");
    const readyzMs = await waitFor("/readyz");
    const metrics = await fetch(`${base}/metrics`).then((r) => r.text());
    const modelLoaded = /^countersign_embedding_model_loaded 1$/m.test(metrics);
    return { healthzMs, readyzMs, modelLoaded };
  } finally {
    if (exited === undefined) child.kill("SIGTERM");
    const stopped = await Promise.race([exit.then(() => true), sleep(15_000).then(() => false)]);
    if (!stopped) {
      child.kill("SIGKILL");
      await exit;
    }
  }
}

export async function runStartTimeBench(opts: { root: string; reps: number; log: (msg: string) => void }): Promise<StartTimeFigures> {
  const f: StartTimeFigures = { reps: opts.reps, baselineMs: [], cold: { healthzMs: [], readyzMs: [] }, restart: { healthzMs: [], readyzMs: [] }, modelLoadedAtStart: 0 };
  // One unmeasured run of each first: the OS file cache then holds node, PGlite's WASM and dist/ for all.
  opts.log("start-time: warm-up (baseline, cold start, restart; not measured)");
  const warm = await mkdtemp(path.join(tmpdir(), "cs-start-"));
  try {
    await baselineOnce(opts.root);
    await startOnce(opts.root, warm);
    await startOnce(opts.root, warm);
  } finally {
    await rm(warm, { recursive: true, force: true });
  }
  for (let i = 0; i < opts.reps; i++) {
    const dataDir = await mkdtemp(path.join(tmpdir(), "cs-start-"));
    try {
      f.baselineMs.push(await baselineOnce(opts.root));
      const cold = await startOnce(opts.root, dataDir);
      const restart = await startOnce(opts.root, dataDir);
      f.cold.healthzMs.push(cold.healthzMs);
      f.cold.readyzMs.push(cold.readyzMs);
      f.restart.healthzMs.push(restart.healthzMs);
      f.restart.readyzMs.push(restart.readyzMs);
      f.modelLoadedAtStart += Number(cold.modelLoaded) + Number(restart.modelLoaded);
      opts.log(
        `start-time ${i + 1}/${opts.reps}: baseline ${s(f.baselineMs.at(-1)!)}, cold ${s(cold.healthzMs)} (/readyz ${s(cold.readyzMs)}), restart ${s(restart.healthzMs)} (/readyz ${s(restart.readyzMs)})`,
      );
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }
  return f;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

export function startTimeSummary(f: StartTimeFigures) {
  const baseline = median(f.baselineMs);
  const figure = (ms: number[], goal: number) => ({ medianMs: Math.round(median(ms)), ratio: +(median(ms) / baseline).toFixed(2), goal, met: median(ms) / baseline <= goal });
  return {
    reps: f.reps,
    baselineMs: Math.round(baseline),
    coldHealthz: figure(f.cold.healthzMs, START_GOAL.coldRatio),
    coldReadyz: figure(f.cold.readyzMs, START_GOAL.coldRatio),
    restartHealthz: figure(f.restart.healthzMs, START_GOAL.restartRatio),
    restartReadyz: figure(f.restart.readyzMs, START_GOAL.restartRatio),
    modelLoadedAtStart: f.modelLoadedAtStart,
  };
}

export function startTimeRows(f: StartTimeFigures): string[] {
  const sum = startTimeSummary(f);
  const range = (ms: number[]) => `${s(Math.min(...ms))}–${s(Math.max(...ms))}`;
  const line = (label: string, ms: number[], fig: ReturnType<typeof startTimeSummary>["coldHealthz"]) =>
    `${label.padEnd(40)} ${s(fig.medianMs).padStart(8)}  ${`${fig.ratio.toFixed(2)}× baseline`.padEnd(16)} goal ≤ ${fig.goal}× ${fig.met ? "met" : "MISSED"}   (${range(ms)})`;
  return [
    `median of ${f.reps} runs each, interleaved (baseline, cold, restart)`,
    `${"baseline: import PGlite + new empty db".padEnd(40)} ${s(sum.baselineMs).padStart(8)}  ${"".padEnd(16)}               (${range(f.baselineMs)})`,
    line("cold first start → /healthz 200", f.cold.healthzMs, sum.coldHealthz),
    line("cold first start → /readyz 200", f.cold.readyzMs, sum.coldReadyz),
    line("restart → /healthz 200", f.restart.healthzMs, sum.restartHealthz),
    line("restart → /readyz 200", f.restart.readyzMs, sum.restartReadyz),
    `embedding model loaded by a start: ${f.modelLoadedAtStart === 0 ? "never (loaded on first use)" : `${f.modelLoadedAtStart} of ${2 * f.reps} starts — a regression`}`,
  ];
}

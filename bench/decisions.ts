/**
 * Issue 12's decision-path figures: the vault's approved decisions and consumes next to the minimal
 * durable signing service (minimal-service.ts), per engine, all under the same load generator and
 * concurrency. The minimal service is the floor a one-commit-per-request design reaches on this
 * machine, so the vault is judged by its ratio to it. The vault is driven over HTTP only, so these
 * phases keep working however its decision path is built inside.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { profileRows, summariseProfile, type ProfileSummary } from "./cpu-profile.js";
import { clearancePhase, consumePhase, signPhase, type LoadTarget } from "./load.js";
import type { ServerProcess } from "./server-process.js";
import { figures, merge, row, type PhaseStats } from "./stats.js";

export type Engine = "postgres" | "pglite";

export const DECISION_GOAL = { approvedRatio: 1.0, consumeRatio: 1.5 };
// Tokens burned before the measured consume run, so its first second is not JIT and pool warm-up.
const CONSUME_WARMUP_TOKENS = 2_000;
const profileDir = fileURLToPath(new URL("./out/", import.meta.url));

/** How run.ts starts servers (it tracks them for cleanup) and the shared load settings. */
export interface DecisionBench {
  /** Starts the vault on `database` (a database name on the bench server, or a PGlite directory) with the bench policy registered. */
  startVault(database: string, nodeArgs?: string[]): Promise<ServerProcess>;
  /** Starts minimal-service.ts on `database`: a postgres:// URL, or a PGlite directory. */
  startMinimal(database: string, pool: number): Promise<ServerProcess>;
  /** The tree the vault runs from (the working tree, or BENCH_VAULT_REV's export): profile paths are relative to it. */
  vaultRoot: string;
  apiKey: string;
  connections: number;
  warmupSeconds: number;
  measureSeconds: number;
  log(msg: string): void;
}

export interface VaultFigures {
  clearanceWarmup: PhaseStats;
  clearance: PhaseStats;
  consumeWarmup: PhaseStats;
  consume: PhaseStats;
}

export interface EngineFigures extends VaultFigures {
  engine: Engine;
  /** The minimal service's pool: the vault's tenant pool size on PostgreSQL, 1 on PGlite. */
  minimalPool: number;
  minimalWarmup: PhaseStats;
  /** The two halves merged: total work over total time, percentiles over all samples. */
  minimal: PhaseStats;
  minimalBefore: PhaseStats;
  minimalAfter: PhaseStats;
}

// Minimal-service halves that differ by more than this mean the machine changed speed during the run.
const NOISY_SPREAD = 0.25;

export interface VaultProfile {
  engine: Engine;
  file: string;
  clearance: PhaseStats;
  summary: ProfileSummary;
}

/** Approved decisions (each with a token, kept), then consume of those tokens, on a running vault. */
export async function vaultFigures(bench: DecisionBench, target: LoadTarget): Promise<VaultFigures> {
  const tokens: string[] = [];
  bench.log(`clearance: ${bench.warmupSeconds}s warm-up, then ${bench.measureSeconds}s measured`);
  const clearanceWarmup = await clearancePhase(target, bench.warmupSeconds, tokens);
  const clearance = await clearancePhase(target, bench.measureSeconds, tokens);
  const warmupTokens = Math.min(CONSUME_WARMUP_TOKENS, tokens.length - bench.connections);
  bench.log(`consume: ${warmupTokens} tokens warm-up, then the remaining ${tokens.length - warmupTokens}`);
  if (warmupTokens < bench.connections) throw new Error(`only ${tokens.length} tokens were issued; too few for a consume run`);
  const consumeWarmup = await consumePhase(target, tokens, warmupTokens);
  const consume = await consumePhase(target, tokens, tokens.length);
  return { clearanceWarmup, clearance, consumeWarmup, consume };
}

/**
 * One half of the minimal service's figure on `database`: a warm-up, then half the measured time;
 * the service is stopped before returning. Two halves, before and after the vault, so a change in
 * machine speed during the run shows as a spread instead of silently skewing the ratios.
 */
export async function minimalFigures(bench: DecisionBench, database: string, pool: number): Promise<{ warmup: PhaseStats; measured: PhaseStats }> {
  const seconds = bench.measureSeconds / 2;
  bench.log(`minimal signing service (pool ${pool}): ${bench.warmupSeconds}s warm-up, then ${seconds}s measured`);
  const server = await bench.startMinimal(database, pool);
  try {
    const target = { url: server.url, apiKey: bench.apiKey, connections: bench.connections };
    const warmup = await signPhase(target, bench.warmupSeconds);
    const measured = await signPhase(target, seconds);
    return { warmup, measured };
  } finally {
    await server.stop();
  }
}

/**
 * One engine: the minimal service's first half, the vault, the minimal service's second half, one
 * after the other (never two at once: they would share the two cores, and on PostgreSQL two pools
 * of 50 would pass max_connections).
 */
export async function engineFigures(bench: DecisionBench, engine: Engine, where: { vault: string; minimal: string }): Promise<EngineFigures> {
  const minimalPool = engine === "postgres" ? bench.connections : 1;
  const before = await minimalFigures(bench, where.minimal, minimalPool);
  bench.log(`vault on ${engine}`);
  const vault = await bench.startVault(where.vault);
  let v: VaultFigures;
  try {
    v = await vaultFigures(bench, { url: vault.url, apiKey: bench.apiKey, connections: bench.connections });
  } finally {
    // Stopping the vault closes its pools, which frees the connections the next phases need.
    await vault.stop();
  }
  const after = await minimalFigures(bench, where.minimal, minimalPool);
  return { engine, ...v, ...minimalHalves(minimalPool, before, after) };
}

/** The minimal service's figure from its two halves. */
export function minimalHalves(pool: number, before: { warmup: PhaseStats; measured: PhaseStats }, after: { warmup: PhaseStats; measured: PhaseStats }) {
  return {
    minimalPool: pool,
    minimalWarmup: merge([before.warmup, after.warmup]),
    minimal: merge([before.measured, after.measured]),
    minimalBefore: before.measured,
    minimalAfter: after.measured,
  };
}

function spread(f: EngineFigures): number {
  return Math.abs(f.minimalBefore.perSecond - f.minimalAfter.perSecond) / Math.min(f.minimalBefore.perSecond, f.minimalAfter.perSecond);
}

/**
 * The vault under `node --cpu-prof` during approved-decision load, in a run of its own so the
 * profiler's overhead never touches the figures above. Only samples from the measured seconds count.
 */
export async function profileVault(bench: DecisionBench, engine: Engine, database: string, runId: string): Promise<VaultProfile> {
  mkdirSync(profileDir, { recursive: true });
  const name = `vault-${engine}-${runId}.cpuprofile`;
  bench.log(`profiling the vault on ${engine}: ${bench.warmupSeconds}s warm-up, then ${bench.measureSeconds}s under --cpu-prof`);
  const vault = await bench.startVault(database, ["--cpu-prof", `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}`]);
  let clearance: PhaseStats;
  let windowUs: { from: number; to: number };
  try {
    const target = { url: vault.url, apiKey: bench.apiKey, connections: bench.connections };
    await clearancePhase(target, bench.warmupSeconds, []);
    const from = Number(process.hrtime.bigint() / 1000n);
    clearance = await clearancePhase(target, bench.measureSeconds, []);
    windowUs = { from, to: Number(process.hrtime.bigint() / 1000n) };
  } finally {
    // The profile is written when the vault exits.
    await vault.stop();
  }
  const file = path.join(profileDir, name);
  return { engine, file, clearance, summary: summariseProfile(file, bench.vaultRoot, windowUs) };
}

function ratio(a: PhaseStats, b: PhaseStats): number {
  return a.perSecond / b.perSecond;
}

function verdict(met: boolean, detail: string): string {
  return `${met ? "goal met" : "goal missed"} (${detail})`;
}

/** Report lines for one engine: the minimal service, and the vault's figures as ratios to it against the goals. */
export function decisionRows(f: EngineFigures): string[] {
  const tag = f.engine === "postgres" ? "pg" : "pglite";
  const approved = ratio(f.clearance, f.minimal);
  const consume = ratio(f.consume, f.minimal);
  const p99Met = f.clearance.p99Ms <= f.minimal.p99Ms;
  return [
    row(`${tag.padEnd(9)} minimal service: sign + INSERT/s (pool ${f.minimalPool})`, f.minimal),
    `          before the vault ${Math.round(f.minimalBefore.perSecond)}/s, after ${Math.round(f.minimalAfter.perSecond)}/s` +
      (spread(f) > NOISY_SPREAD ? `  NOISY: the halves differ by ${Math.round(spread(f) * 100)}%, so the ratios below are rough` : ""),
    row(`${tag.padEnd(9)} vault approved decisions/s (with token)`, f.clearance, `  (= ${approved.toFixed(2)} x minimal)`),
    `          goal >= ${DECISION_GOAL.approvedRatio.toFixed(1)} x minimal with p99 <= minimal's ${f.minimal.p99Ms.toFixed(1)} ms: ` +
      verdict(approved >= DECISION_GOAL.approvedRatio && p99Met, `${approved.toFixed(2)} x, p99 ${f.clearance.p99Ms.toFixed(1)} ms`),
    row(`${tag.padEnd(9)} vault consume-token/s`, f.consume, `  (= ${consume.toFixed(2)} x minimal)`),
    `          goal >= ${DECISION_GOAL.consumeRatio.toFixed(1)} x minimal: ` + verdict(consume >= DECISION_GOAL.consumeRatio, `${consume.toFixed(2)} x`),
  ];
}

/** The JSON form of one engine's figures. */
export function decisionSummary(f: EngineFigures) {
  const approvedRatio = ratio(f.clearance, f.minimal);
  const consumeRatio = ratio(f.consume, f.minimal);
  return {
    minimal: { ...figures(f.minimal), pool: f.minimalPool, before: figures(f.minimalBefore), after: figures(f.minimalAfter), spread: +spread(f).toFixed(3) },
    approved: { ...figures(f.clearance), ratioToMinimal: +approvedRatio.toFixed(3) },
    consume: { ...figures(f.consume), ratioToMinimal: +consumeRatio.toFixed(3) },
    goal: {
      ...DECISION_GOAL,
      met: {
        approved: approvedRatio >= DECISION_GOAL.approvedRatio,
        approvedP99: f.clearance.p99Ms <= f.minimal.p99Ms,
        consume: consumeRatio >= DECISION_GOAL.consumeRatio,
      },
    },
  };
}

export function profileReport(p: VaultProfile): { rows: string[]; summary: object } {
  return {
    rows: [row(`${p.engine === "postgres" ? "pg" : "pglite"}        vault approved decisions/s under --cpu-prof`, p.clearance), ...profileRows(`the vault on ${p.engine}`, p.file, p.summary)],
    summary: { engine: p.engine, file: p.file, clearance: figures(p.clearance), ...p.summary },
  };
}

/** The phases of one engine run, for the errors check. */
export function decisionPhases(f: EngineFigures): Record<string, PhaseStats> {
  const e = f.engine;
  return {
    [`${e} minimal warm-up`]: f.minimalWarmup,
    [`${e} minimal`]: f.minimal,
    [`${e} clearance warm-up`]: f.clearanceWarmup,
    [`${e} clearance`]: f.clearance,
    [`${e} consume warm-up`]: f.consumeWarmup,
    [`${e} consume`]: f.consume,
  };
}

/**
 * The hostile-CEL phase (issue 11 item 5): /healthz latency of a vault at rest and while 10 concurrent
 * clients send a condition-busting request over and over, side by side in one run. Before conditions
 * moved to worker threads, ten requests of `args.to.exists(r, !r.matches("@example[.]com$"))` over
 * 45,000 addresses held /healthz for 17.6 s. Goal: p99 under attack below 50 ms.
 *
 * The attacker is another process (hostile-client.mjs) and /healthz is sampled from this one, one
 * request at a time, so neither's event loop is in the other's figures. Scenarios:
 *  - the attack as filed, with the default size budget: refused with 413 args_too_large;
 *  - the longest list the default budget admits (1,000 addresses): it reaches the condition pool;
 *  - the attack as filed with the size budget raised so that it reaches the pool: the pool's time
 *    budget alone (condition_timeout) is what keeps /healthz answering. Meanwhile a second tenant
 *    sends ordinary requests one at a time: their latency and outcomes show whether the pool is
 *    shared fairly (a request that waits too long for a worker is reviewed, not approved).
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { loadConfig } from "../src/config/config.js";
import { openAdminContext } from "../src/main/context.js";
import { createTenant } from "../src/tenancy/tenants.js";
import { percentile } from "./stats.js";
import { startVault, withDatabase, type VaultProcess } from "./vault.js";

const CONCURRENCY = 10;
const IDLE_SECONDS = 5;
const ATTACK_SECONDS = 8;
const SAMPLE_GAP_MS = 5;
const GOAL_P99_MS = 50;
const clientScript = fileURLToPath(new URL("./hostile-client.mjs", import.meta.url));

export const hostilePolicy = {
  policy_id: "hostile-cel",
  tools: ["send_email"],
  // The expression from the report. default approve: a condition that does not finish must still not approve.
  conditions: [{ id: "external-recipient", when: 'args.to.exists(r, !r.matches("@example[.]com$"))', decision: "review", reason: "A recipient outside example.com" }],
  default_decision: "approve",
};

/**
 * Another tenant's ordinary policy, on the same vault: a condition over a one-address list approves.
 * Its clearance latency under the attack shows whether the condition pool is shared fairly (a request
 * that waits too long for a worker goes to review as condition_timeout instead of being approved).
 */
export const otherTenantPolicy = {
  policy_id: "ordinary",
  tools: ["send_email"],
  conditions: [{ id: "few-recipients", when: "size(args.to) <= 3", decision: "approve", reason: "Three recipients or fewer" }],
  default_decision: "review",
};

interface Latencies {
  n: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  failed: number;
}

interface AttackResult {
  sent: number;
  byStatus: Record<string, number>;
  byReason: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  bodyBytes: number;
}

/** Sequential GET /healthz until `until` resolves; a failed probe counts, with its time. */
async function sampleHealthz(url: string, until: Promise<unknown>): Promise<Latencies> {
  let done = false;
  void until.finally(() => (done = true));
  const samples: number[] = [];
  let failed = 0;
  while (!done) {
    const t0 = performance.now();
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(30_000) });
      await res.arrayBuffer();
      if (res.status !== 200) failed++;
    } catch {
      failed++;
    }
    samples.push(performance.now() - t0);
    await sleep(SAMPLE_GAP_MS);
  }
  const sorted = Float64Array.from(samples).sort();
  return { n: sorted.length, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), maxMs: sorted[sorted.length - 1] ?? NaN, failed };
}

interface OtherTenant {
  apiKey: string;
}

interface OtherLatencies extends Latencies {
  p90Ms: number;
  byOutcome: Record<string, number>;
  /** The five slowest requests, with their place in the sequence (the first ones meet the attack's first bodies). */
  slowest: { at: number; ms: number }[];
}

/** Sequential ordinary clearance requests of the other tenant until `until` resolves, by outcome. */
async function sampleOtherTenant(url: string, other: OtherTenant, until: Promise<unknown>): Promise<OtherLatencies> {
  let done = false;
  void until.finally(() => (done = true));
  const samples: number[] = [];
  const byOutcome: Record<string, number> = {};
  let failed = 0;
  while (!done) {
    const t0 = performance.now();
    let outcome = "error";
    try {
      const res = await fetch(`${url}/request-clearance`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-vault-api-key": other.apiKey },
        body: JSON.stringify({ tool_name: "send_email", tool_args: { to: ["a@example.com"] }, context: { policy_id: otherTenantPolicy.policy_id } }),
        signal: AbortSignal.timeout(30_000),
      });
      const body = (await res.json()) as { status?: string; reason_code?: string };
      outcome = `${body.status ?? res.status}/${body.reason_code ?? "none"}`;
      if (body.status !== "approved") failed++;
    } catch {
      failed++;
    }
    samples.push(performance.now() - t0);
    byOutcome[outcome] = (byOutcome[outcome] ?? 0) + 1;
    await sleep(SAMPLE_GAP_MS);
  }
  const sorted = Float64Array.from(samples).sort();
  const slowest = samples.map((ms, at) => ({ at, ms: Math.round(ms) })).sort((a, b) => b.ms - a.ms).slice(0, 5);
  return { n: sorted.length, p50Ms: percentile(sorted, 50), p90Ms: percentile(sorted, 90), p99Ms: percentile(sorted, 99), maxMs: sorted[sorted.length - 1] ?? NaN, failed, byOutcome, slowest };
}

/** A second tenant on the vault's database, with its admin key and the ordinary policy. */
async function createOtherTenant(vault: VaultProcess, databaseUrl: string, dataDir: string): Promise<OtherTenant> {
  const admin = await openAdminContext(loadConfig({ ...process.env, DATABASE_URL: databaseUrl, VAULT_DATA_DIR: dataDir, LOG_LEVEL: "warn" }));
  let apiKey: string;
  try {
    apiKey = (await createTenant(admin.control, admin.tenantDbs, { name: "bench-other" })).adminKey.apiKey;
  } finally {
    await admin.close();
  }
  const res = await fetch(`${vault.url}/register-policy`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-vault-api-key": apiKey },
    body: JSON.stringify(otherTenantPolicy),
  });
  if (res.status !== 200) throw new Error(`register the other tenant's policy: HTTP ${res.status}: ${await res.text()}`);
  return { apiKey };
}

/** Runs the attacker process for ATTACK_SECONDS and samples /healthz while it runs. */
async function underAttack(
  vault: VaultProcess,
  apiKey: string,
  listLength: number,
  other?: OtherTenant,
): Promise<{ healthz: Latencies; attack: AttackResult; other?: OtherLatencies }> {
  const child = spawn(process.execPath, [clientScript, vault.url, apiKey, String(CONCURRENCY), String(listLength), String(ATTACK_SECONDS)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout! });
  let last = "";
  const startedLine = new Promise<void>((resolve) => lines.on("line", (line) => (line === "started" ? resolve() : (last = line))));
  const exited = once(child, "exit");
  await Promise.race([startedLine, exited]);
  const [healthz, otherLatencies] = await Promise.all([sampleHealthz(vault.url, exited), other ? sampleOtherTenant(vault.url, other, exited) : undefined]);
  const [code] = (await exited) as [number | null];
  if (code !== 0 || !last) throw new Error(`hostile client exited with code ${code}`);
  return { healthz, attack: JSON.parse(last) as AttackResult, other: otherLatencies };
}

async function registerPolicy(vault: VaultProcess, apiKey: string): Promise<void> {
  const res = await fetch(`${vault.url}/register-policy`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-vault-api-key": apiKey },
    body: JSON.stringify(hostilePolicy),
  });
  if (res.status !== 200) throw new Error(`register hostile policy: HTTP ${res.status}: ${await res.text()}`);
}

async function warm(vault: VaultProcess, apiKey: string): Promise<void> {
  await fetch(`${vault.url}/request-clearance`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-vault-api-key": apiKey },
    body: JSON.stringify({ tool_name: "send_email", tool_args: { to: ["a@example.com"] }, context: { policy_id: hostilePolicy.policy_id } }),
  }).then((r) => r.arrayBuffer());
  await sleep(1_000);
}

export interface HostileCelResult {
  rows: string[];
  summary: Record<string, unknown>;
}

/** Starts two vaults in turn (default size budget, then one raised to admit the filed attack). */
export async function runHostileCelBench(opts: {
  serverUrl: string;
  controlDb: string;
  apiKey: string;
  dataDir: string;
  log: (msg: string) => void;
}): Promise<HostileCelResult> {
  const start = async (db: string, env: Record<string, string>) => {
    const vault = await startVault({ databaseUrl: withDatabase(opts.serverUrl, db), apiKey: opts.apiKey, dataDir: opts.dataDir, tenantPool: 10, controlPool: 5, env });
    await registerPolicy(vault, opts.apiKey);
    return vault;
  };
  const scenarios: { label: string; healthz: Latencies; attack?: AttackResult; other?: OtherLatencies }[] = [];
  let vault: VaultProcess | undefined;
  try {
    opts.log("hostile-cel: vault with the default size budget");
    vault = await start(`${opts.controlDb}_hostile`, {});
    // Workers start on first use; one ordinary request starts them before anything is measured.
    await warm(vault, opts.apiKey);
    opts.log(`hostile-cel: /healthz at rest, ${IDLE_SECONDS}s`);
    scenarios.push({ label: "at rest", healthz: await sampleHealthz(vault.url, sleep(IDLE_SECONDS * 1000)) });
    for (const length of [45_000, 1_000]) {
      opts.log(`hostile-cel: ${CONCURRENCY} clients, ${length}-address lists, default budget, ${ATTACK_SECONDS}s`);
      const { healthz, attack } = await underAttack(vault, opts.apiKey, length);
      scenarios.push({ label: `${CONCURRENCY} x ${length.toLocaleString("en")} addresses, default budget`, healthz, attack });
    }
    await vault.stop();
    vault = undefined;

    opts.log("hostile-cel: vault with the size budget raised to admit the filed attack");
    const raisedDb = withDatabase(opts.serverUrl, `${opts.controlDb}_hostile_raised`);
    vault = await start(`${opts.controlDb}_hostile_raised`, { VAULT_MAX_ARRAY_LENGTH: "100000", VAULT_MAX_ARGS_NODES: "200000" });
    const other = await createOtherTenant(vault, raisedDb, opts.dataDir);
    await warm(vault, opts.apiKey);
    scenarios.push({ label: "at rest (budget raised)", healthz: await sampleHealthz(vault.url, sleep(IDLE_SECONDS * 1000)) });
    opts.log(`hostile-cel: ${CONCURRENCY} clients, 45,000-address lists reaching the pool, ${ATTACK_SECONDS}s`);
    const raised = await underAttack(vault, opts.apiKey, 45_000, other);
    scenarios.push({ label: `${CONCURRENCY} x 45,000 addresses, budget raised`, ...raised });
  } finally {
    await vault?.stop();
  }

  const ms = (v: number) => `${v.toFixed(1).padStart(6)} ms`;
  // The goal is judged on the shipped defaults, where the filed attack meets the size budget; the
  // raised-budget row (the filed 45,000-item lists reaching the condition pool) is reported beside it.
  const worst = (raised: boolean) =>
    Math.max(...scenarios.filter((s) => s.attack && s.label.includes("budget raised") === raised).map((s) => s.healthz.p99Ms));
  const worstP99 = worst(false);
  const worstRaisedP99 = worst(true);
  const verdict = (p99: number) => (p99 < GOAL_P99_MS ? `goal met (worst p99 ${p99.toFixed(1)} ms)` : `goal missed (worst p99 ${p99.toFixed(1)} ms)`);
  const rows = [
    `hostile-cel  /healthz while ${CONCURRENCY} clients send a costly CEL condition (${hostilePolicy.conditions[0]!.when})`,
    ...scenarios.map((s) => {
      const h = s.healthz;
      const attack = s.attack ? `  | attacker: ${s.attack.sent} sent, ${Object.entries(s.attack.byReason).map(([k, n]) => `${k} ${n}`).join(", ")}` : "";
      const row = `  ${s.label.padEnd(44, ".")} p50 ${ms(h.p50Ms)}  p99 ${ms(h.p99Ms)}  max ${ms(h.maxMs)}  n=${h.n}${h.failed ? ` failed=${h.failed}` : ""}${attack}`;
      if (!s.other) return row;
      const o = s.other;
      const outcomes = Object.entries(o.byOutcome).map(([k, n]) => `${k} ${n}`).join(", ");
      return `${row}\n  ${"  other tenant's clearance under attack".padEnd(44, ".")} p50 ${ms(o.p50Ms)}  p90 ${ms(o.p90Ms)}  p99 ${ms(o.p99Ms)}  max ${ms(o.maxMs)}  n=${o.n}  | ${outcomes}`;
    }),
    `  goal: /healthz p99 under attack < ${GOAL_P99_MS} ms (was 17.6 s), default configuration: ${verdict(worstP99)}`,
    `        with the size budget raised so the 45,000-item lists reach the pool: ${verdict(worstRaisedP99)}`,
  ];
  const summary = {
    goalP99Ms: GOAL_P99_MS,
    goalMet: worstP99 < GOAL_P99_MS,
    goalMetWithBudgetRaised: worstRaisedP99 < GOAL_P99_MS,
    scenarios: scenarios.map((s) => ({
      label: s.label,
      healthz: { ...s.healthz, p50Ms: +s.healthz.p50Ms.toFixed(2), p99Ms: +s.healthz.p99Ms.toFixed(2), maxMs: +s.healthz.maxMs.toFixed(2) },
      attack: s.attack,
      otherTenantClearance: s.other && { ...s.other, p50Ms: +s.other.p50Ms.toFixed(2), p90Ms: +s.other.p90Ms.toFixed(2), p99Ms: +s.other.p99Ms.toFixed(2), maxMs: +s.other.maxMs.toFixed(2) },
    })),
  };
  return { rows, summary };
}

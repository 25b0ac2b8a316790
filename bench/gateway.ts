/**
 * Issue 15's gateway figures: what `countersign gateway` adds in front of an upstream. Three paths in
 * the same run, against the same vault (real PostgreSQL) and the same upstream, each a process of its
 * own so the load generator shares no event loop with them:
 *  (a) the upstream called directly;
 *  (b) the vault's own POST /consume-token alone (with the tool and arguments, as the gateway sends it);
 *  (c) the full gateway path: offline verification, binding check, burn, forward, and the execution
 *      report after the answer.
 * Each request of (b) and (c) needs a fresh approved token, so tokens are minted before the timed part.
 * Two shapes: one connection (latency without queueing: the added latency is read here) and
 * GATEWAY_BENCH_CONNECTIONS, default 16 (requests/s). GATEWAY_BENCH_LATENCY_N (400) and
 * GATEWAY_BENCH_THROUGHPUT_N (1000) set the requests per path. Goal: the gateway adds <= 2 ms p50 over
 * the vault's consume.
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import autocannon from "autocannon";
import { freePort, spawnServer, type ServerProcess } from "./server-process.js";
import { LatencyRecorder, failed, figures, row, type PhaseStats } from "./stats.js";
import { createDatabase, startVault, withDatabase } from "./vault.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const GOAL_ADDED_P50_MS = 2;
const LATENCY_N = Number(process.env.GATEWAY_BENCH_LATENCY_N ?? 400);
const THROUGHPUT_N = Number(process.env.GATEWAY_BENCH_THROUGHPUT_N ?? 1000);
const THROUGHPUT_CONNECTIONS = Number(process.env.GATEWAY_BENCH_CONNECTIONS ?? 16);
const WARMUP_N = 100;

const policy = { policy_id: "gateway-bench", tools: ["bench_order"], default_decision: "approve" };

// The upstream: a plain node:http server answering every request with a small JSON body once the
// request body has arrived, as a cheap real service would.
const UPSTREAM_SCRIPT = `
const http = require("node:http");
http.createServer((req, res) => {
  req.resume();
  req.on("end", () => { res.writeHead(200, { "content-type": "application/json" }); res.end('{"ok":true,"order":"accepted"}'); });
}).listen(Number(process.env.PORT), "127.0.0.1");
`;

interface Minted {
  token: string;
  body: string;
}

export interface GatewayBenchOptions {
  serverUrl: string;
  controlDb: string;
  apiKey: string;
  dataDir: string;
  log: (msg: string) => void;
}

export interface GatewayBenchResult {
  rows: string[];
  summary: object;
  phases: Record<string, PhaseStats>;
}

export async function runGatewayBench(opts: GatewayBenchOptions): Promise<GatewayBenchResult> {
  const servers: ServerProcess[] = [];
  try {
    const db = `${opts.controlDb}_gateway`;
    await createDatabase(opts.serverUrl, db);
    opts.log(`gateway: starting the vault on ${db}, the upstream and the gateway`);
    // Tokens live an hour: minting them all first takes minutes on a busy machine, and none may expire before its turn.
    const vault = await startVault({ databaseUrl: withDatabase(opts.serverUrl, db), apiKey: opts.apiKey, dataDir: opts.dataDir, tenantPool: 20, controlPool: 5, env: { VAULT_JWT_TTL: "3600" } });
    servers.push(vault);
    await post(vault.url, "/register-policy", opts.apiKey, policy);
    const upstreamPort = await freePort();
    const upstream = await spawnServer({ label: "upstream", args: ["-e", UPSTREAM_SCRIPT], cwd: repoRoot, env: { ...process.env, PORT: String(upstreamPort) }, port: upstreamPort, readyPath: "/" });
    servers.push(upstream);
    const gatewayPort = await freePort();
    const routesFile = path.join(opts.dataDir, "gateway-bench.json");
    await writeFile(
      routesFile,
      JSON.stringify({
        vault: { url: vault.url, api_key_env: "BENCH_GATEWAY_API_KEY" },
        upstreams: { orders: { url: upstream.url, allow_private: true } },
        routes: [{ method: "POST", path: "/orders", upstream: "orders", tool: "bench_order", args: { body: true } }],
      }),
    );
    const gateway = await spawnServer({
      label: "gateway",
      // GATEWAY_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the gateway process.
      args: [...(process.env.GATEWAY_BENCH_NODE_ARGS ?? "").split(/\s+/).filter(Boolean), path.join(repoRoot, "dist/main/cli.js"), "gateway", "--config", routesFile, "--port", String(gatewayPort)],
      cwd: repoRoot,
      env: { ...process.env, BENCH_GATEWAY_API_KEY: opts.apiKey, LOG_LEVEL: "warn" },
      port: gatewayPort,
      readyPath: "/readyz",
    });
    servers.push(gateway);

    const total = 2 * (2 * WARMUP_N + LATENCY_N + THROUGHPUT_N);
    opts.log(`gateway: minting ${total} approved tokens before the timed part`);
    const tokens = await mint(vault.url, opts.apiKey, total);
    const take = (n: number) => tokens.splice(0, n);

    const direct = (connections: number, n: number) => load(upstream.url, "/orders", connections, n, (i) => ({ headers: {}, body: orderBody(i) }), (s) => s === 200);
    const consume = (connections: number, batch: Minted[]) =>
      load(vault.url, "/consume-token", connections, batch.length, (i) => {
        // autocannon may prepare a request it never sends at the very end: never index past the batch.
        const { token, body } = batch[Math.min(i, batch.length - 1)]!;
        return { headers: { "x-vault-api-key": opts.apiKey }, body: JSON.stringify({ token, tool_name: "bench_order", tool_args: JSON.parse(body) }) };
      }, (s) => s === 200);
    const through = (connections: number, batch: Minted[]) =>
      load(gateway.url, "/orders", connections, batch.length, (i) => {
        const { token, body } = batch[Math.min(i, batch.length - 1)]!;
        return { headers: { authorization: `Bearer ${token}` }, body };
      }, (s) => s === 200);

    opts.log(`gateway: warm-up (${WARMUP_N} requests per path)`);
    await direct(4, WARMUP_N);
    await consume(4, take(WARMUP_N));
    await through(4, take(WARMUP_N));

    // The gateway's own view of each timed run: mean admission (verify, binding, burn) and upstream time.
    const split = async <T>(run: () => Promise<T>): Promise<{ stats: T; admissionMs: number; upstreamMs: number }> => {
      const before = await gatewayTimes(gateway.url);
      const stats = await run();
      const after = await gatewayTimes(gateway.url);
      const mean = (k: "admission" | "upstream") => ((after[k].sum - before[k].sum) / Math.max(1, after[k].count - before[k].count)) * 1000;
      return { stats, admissionMs: mean("admission"), upstreamMs: mean("upstream") };
    };

    opts.log(`gateway: latency, 1 connection, ${LATENCY_N} requests per path`);
    const latencyGateway = await split(() => through(1, take(LATENCY_N)));
    const latency = { direct: await direct(1, LATENCY_N), consume: await consume(1, take(LATENCY_N)), gateway: latencyGateway.stats };
    opts.log(`gateway: throughput, ${THROUGHPUT_CONNECTIONS} connections, ${THROUGHPUT_N} requests per path`);
    const throughputGateway = await split(() => through(THROUGHPUT_CONNECTIONS, take(THROUGHPUT_N)));
    const throughput = {
      direct: await direct(THROUGHPUT_CONNECTIONS, THROUGHPUT_N),
      consume: await consume(THROUGHPUT_CONNECTIONS, take(THROUGHPUT_N)),
      gateway: throughputGateway.stats,
    };

    const added = (s: { direct: PhaseStats; gateway: PhaseStats }) => ({ p50Ms: s.gateway.p50Ms - s.direct.p50Ms, p99Ms: s.gateway.p99Ms - s.direct.p99Ms });
    const addedLatency = added(latency);
    const addedThroughput = added(throughput);
    const overConsume = addedLatency.p50Ms - latency.consume.p50Ms;
    const met = overConsume <= GOAL_ADDED_P50_MS;
    const ms = (v: number) => `${v.toFixed(2)} ms`;
    const rows = [
      row("gateway   (a) upstream direct, 1 connection", latency.direct),
      row("gateway   (b) vault /consume-token alone, 1 connection", latency.consume),
      row("gateway   (c) through the gateway, 1 connection", latency.gateway),
      `          added by the gateway (c - a): p50 ${ms(addedLatency.p50Ms)}  p99 ${ms(addedLatency.p99Ms)}; the consume alone (b): p50 ${ms(latency.consume.p50Ms)}`,
      `          gateway's own share over the consume, p50 (c - a - b): ${ms(overConsume)}; goal <= ${GOAL_ADDED_P50_MS} ms: ${met ? "goal met" : "goal missed"}`,
      `          inside the gateway (its metrics, means): admission (verify, binding, burn) ${ms(latencyGateway.admissionMs)}, upstream ${ms(latencyGateway.upstreamMs)}`,
      row(`gateway   (a) upstream direct, ${THROUGHPUT_CONNECTIONS} connections`, throughput.direct),
      row(`gateway   (b) vault /consume-token alone, ${THROUGHPUT_CONNECTIONS} connections`, throughput.consume),
      row(`gateway   (c) through the gateway, ${THROUGHPUT_CONNECTIONS} connections`, throughput.gateway, `  (= ${(throughput.gateway.perSecond / throughput.consume.perSecond).toFixed(2)} x the consume rate)`),
      `          added by the gateway at ${THROUGHPUT_CONNECTIONS} connections (c - a): p50 ${ms(addedThroughput.p50Ms)}  p99 ${ms(addedThroughput.p99Ms)}`,
      `          inside the gateway (its metrics, means): admission ${ms(throughputGateway.admissionMs)}, upstream ${ms(throughputGateway.upstreamMs)}`,
    ];
    const summary = {
      latency: { direct: figures(latency.direct), consume: figures(latency.consume), gateway: figures(latency.gateway), addedP50Ms: +addedLatency.p50Ms.toFixed(2), addedP99Ms: +addedLatency.p99Ms.toFixed(2) },
      throughput: { connections: THROUGHPUT_CONNECTIONS, direct: figures(throughput.direct), consume: figures(throughput.consume), gateway: figures(throughput.gateway), addedP50Ms: +addedThroughput.p50Ms.toFixed(2), addedP99Ms: +addedThroughput.p99Ms.toFixed(2) },
      inside: { latency: { admissionMs: +latencyGateway.admissionMs.toFixed(2), upstreamMs: +latencyGateway.upstreamMs.toFixed(2) }, throughput: { admissionMs: +throughputGateway.admissionMs.toFixed(2), upstreamMs: +throughputGateway.upstreamMs.toFixed(2) } },
      goal: { addedOverConsumeP50Ms: GOAL_ADDED_P50_MS, measuredOverConsumeP50Ms: +overConsume.toFixed(2), met },
    };
    const phases = {
      "gateway direct (1)": latency.direct,
      "gateway consume (1)": latency.consume,
      "gateway through (1)": latency.gateway,
      [`gateway direct (${THROUGHPUT_CONNECTIONS})`]: throughput.direct,
      [`gateway consume (${THROUGHPUT_CONNECTIONS})`]: throughput.consume,
      [`gateway through (${THROUGHPUT_CONNECTIONS})`]: throughput.gateway,
    };
    return { rows, summary, phases };
  } finally {
    for (const server of servers.reverse()) await server.stop().catch((err) => opts.log(`stopping a gateway-bench server failed: ${String(err)}`));
  }
}

/** Sum and count of the gateway's admission and upstream histograms, from its /metrics. */
async function gatewayTimes(url: string): Promise<Record<"admission" | "upstream", { sum: number; count: number }>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const total = (name: string) => text.split("\n").filter((l) => l.startsWith(name)).reduce((a, l) => a + Number(l.split(" ").at(-1)), 0);
  return {
    admission: { sum: total("countersign_gateway_admission_seconds_sum"), count: total("countersign_gateway_admission_seconds_count") },
    upstream: { sum: total("countersign_gateway_upstream_seconds_sum"), count: total("countersign_gateway_upstream_seconds_count") },
  };
}

const orderBody = (i: number) => JSON.stringify({ amount: 42, order: `o-${i}` });

/** Approved tokens, each with the body it is bound to, minted by 8 concurrent clients (more only queue up at the judge). */
async function mint(vaultUrl: string, apiKey: string, count: number): Promise<Minted[]> {
  const out: Minted[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const body = orderBody(1_000_000 + i);
      const answer = (await post(vaultUrl, "/request-clearance", apiKey, { tool_name: "bench_order", tool_args: JSON.parse(body), agent_id: "gateway-bench" })) as { status?: string; token?: string };
      if (answer.status !== "approved" || typeof answer.token !== "string") throw new Error(`minting: not approved: ${JSON.stringify(answer).slice(0, 300)}`);
      out.push({ token: answer.token, body });
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return out;
}

async function post(base: string, route: string, apiKey: string, body: unknown): Promise<unknown> {
  const res = await fetch(`${base}${route}`, { method: "POST", headers: { "content-type": "application/json", "x-vault-api-key": apiKey }, body: JSON.stringify(body) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`POST ${route} -> HTTP ${res.status}: ${text}`);
  return JSON.parse(text);
}

/**
 * A fixed number of POSTs with per-request headers and body (request i gets `next(i)`), timed here
 * as in load.ts: autocannon's own histogram has 1 ms resolution, too coarse for added latency.
 */
async function load(url: string, route: string, connections: number, amount: number, next: (i: number) => { headers: Record<string, string>; body: string }, check: (status: number) => boolean): Promise<PhaseStats> {
  let ok = 0;
  let unexpected = 0;
  let sample: string | undefined;
  let issued = 0;
  let lastResponse = 0;
  const latencies = new LatencyRecorder();
  const start = performance.now();
  const instance = autocannon({
    url,
    connections,
    amount,
    requests: [
      {
        method: "POST",
        path: route,
        setupRequest: (req) => {
          const { headers, body } = next(issued++);
          return { ...req, headers: { "content-type": "application/json", ...headers }, body };
        },
        onResponse: (status, body) => {
          if (check(status)) return void ok++;
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
  const seconds = ((lastResponse || performance.now()) - start) / 1000;
  const statusCodes = Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, s]) => [code, s.count]));
  const stats: PhaseStats = { ok, seconds, perSecond: ok / seconds, ...latencies.summary(), errors: result.errors, unexpected, statusCodes, sample, latencies };
  if (failed(stats)) throw new Error(`${url}${route}: ${ok} ok, ${unexpected} unexpected, ${result.errors} errors; first: ${sample ?? "none"}`);
  return stats;
}

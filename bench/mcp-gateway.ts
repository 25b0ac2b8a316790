/**
 * Issue 15's MCP gateway figures: what `countersign mcp-gateway` adds to an MCP tools/call. Three paths
 * in the same run, against the same vault (real PostgreSQL) and the same upstream MCP server, each a
 * process of its own (the MCP clients run here and share no event loop with them):
 *  (a) tools/call directly to the upstream MCP server (streamable HTTP);
 *  (b) the vault's own share, as the gateway uses it: POST /request-clearance (approved by a policy
 *      condition, no review; with an Idempotency-Key, as the SDK sends it), then POST /consume-token,
 *      by plain fetch; also with POST /tokens/{jti}/execution after them (the vault's whole work);
 *  (c) tools/call through the gateway: clearance, burn, forward; the execution report goes out as the
 *      agent gets its result, so the agent waits for the clearance and the burn only.
 * Two shapes: one client (latency without queueing: the added latency is read here) and
 * MCP_BENCH_CLIENTS clients, each with its own MCP session (calls/s). Goal (issue 15): the gateway adds
 * <= 2 ms p50 over the vault's own latency, here (c - a - b) with b = clearance + consume.
 */
import { randomUUID } from "node:crypto";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { freePort, spawnServer, type ServerProcess } from "./server-process.js";
import { LatencyRecorder, figures, row, type PhaseStats } from "./stats.js";
import { createDatabase, startVault, withDatabase } from "./vault.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const GOAL_ADDED_P50_MS = 2;
const LATENCY_N = Number(process.env.MCP_BENCH_LATENCY_N ?? 500);
const THROUGHPUT_N = Number(process.env.MCP_BENCH_THROUGHPUT_N ?? 1500);
const CLIENTS = Number(process.env.MCP_BENCH_CLIENTS ?? 8);
const WARMUP_N = 100;

const policy = {
  policy_id: "mcp-gateway-bench",
  tools: ["bench.transfer"],
  conditions: [{ id: "small", when: "args.amount <= 100", decision: "approve", reason: "small transfer" }],
  default_decision: "deny",
};

// The upstream: the official SDK's McpServer with one tool, over streamable HTTP (JSON answers), one
// MCP session per client. Run with `node --input-type=module -e` from the repository root.
const UPSTREAM_SCRIPT = `
import http from "node:http";
import { randomUUID } from "node:crypto";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
const sessions = new Map();
http.createServer(async (req, res) => {
  if (req.url === "/healthz") { res.writeHead(200).end("ok"); return; }
  let body;
  if (req.method === "POST") { const chunks = []; for await (const c of req) chunks.push(c); body = JSON.parse(Buffer.concat(chunks).toString()); }
  const sid = req.headers["mcp-session-id"];
  let t = typeof sid === "string" ? sessions.get(sid) : undefined;
  if (!t && isInitializeRequest(body)) {
    const created = new StreamableHTTPServerTransport({ sessionIdGenerator: randomUUID, enableJsonResponse: true, onsessioninitialized: (id) => sessions.set(id, created) });
    const server = new McpServer({ name: "bench-upstream", version: "1.0.0" });
    server.registerTool("transfer", { inputSchema: { amount: z.number(), toAccount: z.string() } }, async (a) => ({ content: [{ type: "text", text: "transferred " + a.amount + " to " + a.toAccount }] }));
    await server.connect(created);
    t = created;
  }
  if (!t) { res.writeHead(400).end(); return; }
  await t.handleRequest(req, res, body);
}).listen(Number(process.env.PORT), "127.0.0.1");
`;

export interface McpGatewayBenchOptions {
  serverUrl: string;
  controlDb: string;
  apiKey: string;
  dataDir: string;
  log: (msg: string) => void;
}

export async function runMcpGatewayBench(opts: McpGatewayBenchOptions): Promise<{ rows: string[]; summary: object; phases: Record<string, PhaseStats> }> {
  const servers: ServerProcess[] = [];
  try {
    const db = `${opts.controlDb}_mcp`;
    await createDatabase(opts.serverUrl, db);
    opts.log(`mcp-gateway: starting the vault on ${db}, the upstream MCP server and the gateway`);
    const vault = await startVault({ databaseUrl: withDatabase(opts.serverUrl, db), apiKey: opts.apiKey, dataDir: opts.dataDir, tenantPool: 20, controlPool: 5 });
    servers.push(vault);
    await post(vault.url, "/register-policy", opts.apiKey, policy);
    const upstreamPort = await freePort();
    const upstream = await spawnServer({ label: "mcp-upstream", args: ["--input-type=module", "-e", UPSTREAM_SCRIPT], cwd: repoRoot, env: { ...process.env, PORT: String(upstreamPort) }, port: upstreamPort, readyPath: "/healthz" });
    servers.push(upstream);
    const configFile = path.join(opts.dataDir, "mcp-gateway-bench.json");
    await writeFile(
      configFile,
      JSON.stringify({
        vault: { url: vault.url, api_key_env: "BENCH_MCP_GATEWAY_API_KEY" },
        agent_id: "mcp-bench",
        log_level: "warn",
        // A call the vault sends to review (its conditions fail closed under overload) must not hold a client for 55 s.
        pending: { mode: "return" },
        upstreams: [{ name: "bench", transport: "http", url: `${upstream.url}/mcp`, prefix: "bench." }],
        tools: { "bench.transfer": { gated: true } },
      }),
    );
    const gatewayPort = await freePort();
    const gateway = await spawnServer({
      label: "mcp-gateway",
      args: [path.join(repoRoot, "dist/main/cli.js"), "mcp-gateway", "--config", configFile, "--port", String(gatewayPort)],
      cwd: repoRoot,
      env: { ...process.env, BENCH_MCP_GATEWAY_API_KEY: opts.apiKey },
      port: gatewayPort,
      readyPath: "/readyz",
    });
    servers.push(gateway);

    const direct = (clients: number, n: number) => mcpCalls(`${upstream.url}/mcp`, "transfer", clients, n);
    const through = (clients: number, n: number) => mcpCalls(`${gateway.url}/mcp`, "bench.transfer", clients, n);
    const vaultOnly = (clients: number, n: number, report: boolean) => vaultCalls(vault.url, opts.apiKey, clients, n, report);

    opts.log(`mcp-gateway: warm-up (${WARMUP_N} calls per path)`);
    await direct(2, WARMUP_N);
    await vaultOnly(2, WARMUP_N, true);
    await through(2, WARMUP_N);

    opts.log(`mcp-gateway: latency, 1 client, ${LATENCY_N} calls per path`);
    const direct1 = await direct(1, LATENCY_N);
    const vaultNoReport1 = await vaultOnly(1, LATENCY_N, false);
    const vault1 = await vaultOnly(1, LATENCY_N, true);
    const before = await stepTotals(gateway.url);
    const gateway1 = await through(1, LATENCY_N);
    const steps = stepMeans(before, await stepTotals(gateway.url));
    const latency = { direct: direct1, vaultNoReport: vaultNoReport1, vault: vault1, gateway: gateway1 };
    opts.log(`mcp-gateway: throughput, ${CLIENTS} clients, ${THROUGHPUT_N} calls per path`);
    const throughput = { direct: await direct(CLIENTS, THROUGHPUT_N), vault: await vaultOnly(CLIENTS, THROUGHPUT_N, true), gateway: await through(CLIENTS, THROUGHPUT_N) };

    const added = { p50Ms: latency.gateway.p50Ms - latency.direct.p50Ms, p99Ms: latency.gateway.p99Ms - latency.direct.p99Ms };
    const overVault = added.p50Ms - latency.vaultNoReport.p50Ms;
    const met = overVault <= GOAL_ADDED_P50_MS;
    const ms = (v: number) => `${v.toFixed(2)} ms`;
    const rows = [
      row("mcp-gateway (a) tools/call upstream direct, 1 client", latency.direct),
      row("mcp-gateway (b) vault clearance + consume, 1 client", latency.vaultNoReport),
      row("mcp-gateway (b) vault clearance + consume + report, 1 client", latency.vault),
      row("mcp-gateway (c) tools/call through the gateway, 1 client", latency.gateway),
      `            added by the gateway (c - a): p50 ${ms(added.p50Ms)}  p99 ${ms(added.p99Ms)}; the vault's own (b, clearance + consume): p50 ${ms(latency.vaultNoReport.p50Ms)}`,
      `            gateway's own share over the vault, p50 (c - a - b): ${ms(overVault)}; goal <= ${GOAL_ADDED_P50_MS} ms: ${met ? "goal met" : "goal missed"}`,
      `            inside the gateway, mean per call (its /metrics): ${Object.entries(steps).map(([k, v]) => `${k} ${ms(v)}`).join(", ")}`,
      row(`mcp-gateway (a) tools/call upstream direct, ${CLIENTS} clients`, throughput.direct),
      row(`mcp-gateway (b) vault clearance + consume + report, ${CLIENTS} clients`, throughput.vault),
      row(`mcp-gateway (c) tools/call through the gateway, ${CLIENTS} clients`, throughput.gateway, `  (= ${(throughput.gateway.perSecond / throughput.vault.perSecond).toFixed(2)} x the vault's rate)`),
    ];
    const summary = {
      latency: {
        direct: figures(latency.direct),
        vaultClearanceConsume: figures(latency.vaultNoReport),
        vaultClearanceConsumeReport: figures(latency.vault),
        gateway: figures(latency.gateway),
        addedP50Ms: +added.p50Ms.toFixed(2),
        addedP99Ms: +added.p99Ms.toFixed(2),
      },
      throughput: { clients: CLIENTS, direct: figures(throughput.direct), vault: figures(throughput.vault), gateway: figures(throughput.gateway) },
      gatewayStepMeansMs: Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, +v.toFixed(2)])),
      goal: { addedOverVaultP50Ms: GOAL_ADDED_P50_MS, measuredOverVaultP50Ms: +overVault.toFixed(2), met },
    };
    const phases = {
      "mcp direct (1)": latency.direct,
      "mcp vault (1)": latency.vault,
      "mcp gateway (1)": latency.gateway,
      [`mcp direct (${CLIENTS})`]: throughput.direct,
      [`mcp vault (${CLIENTS})`]: throughput.vault,
      [`mcp gateway (${CLIENTS})`]: throughput.gateway,
    };
    return { rows, summary, phases };
  } finally {
    for (const server of servers.reverse()) await server.stop().catch((err) => opts.log(`stopping an mcp-gateway-bench server failed: ${String(err)}`));
  }
}

/** `n` operations shared by `workers` concurrent loops, each timed; `op` says whether the answer was the expected one. */
async function timed(workers: number, n: number, setup: () => Promise<(i: number) => Promise<string | null>>, teardown: () => Promise<void> = async () => undefined): Promise<PhaseStats> {
  const ops = await Promise.all(Array.from({ length: workers }, setup));
  const latencies = new LatencyRecorder();
  let next = 0;
  let ok = 0;
  let unexpected = 0;
  let errors = 0;
  let sample: string | undefined;
  const start = performance.now();
  await Promise.all(
    ops.map(async (op) => {
      while (next < n) {
        const i = next++;
        const t0 = performance.now();
        try {
          const problem = await op(i);
          latencies.add(performance.now() - t0);
          if (problem === null) ok++;
          else {
            unexpected++;
            sample ??= problem;
          }
        } catch (err) {
          errors++;
          sample ??= String(err);
        }
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  await teardown();
  return { ok, seconds, perSecond: ok / seconds, ...latencies.summary(), errors, unexpected, statusCodes: {}, sample, latencies };
}

/** tools/call by `clients` MCP clients (one session each); arguments differ per call, as real calls do. */
async function mcpCalls(url: string, tool: string, clients: number, n: number): Promise<PhaseStats> {
  const opened: Client[] = [];
  return timed(
    clients,
    n,
    async () => {
      const client = new Client({ name: "mcp-bench", version: "1.0.0" });
      await client.connect(new StreamableHTTPClientTransport(new URL(url)));
      opened.push(client);
      return async (i) => {
        const result = await client.callTool({ name: tool, arguments: { amount: 1 + (i % 100), toAccount: `acct-${i}` } });
        return result.isError ? JSON.stringify(result).slice(0, 300) : null;
      };
    },
    async () => {
      await Promise.all(opened.map((c) => c.close().catch(() => undefined)));
    },
  );
}

/** The vault calls the gateway makes per approved tools/call, by plain fetch. */
async function vaultCalls(vaultUrl: string, apiKey: string, clients: number, n: number, report: boolean): Promise<PhaseStats> {
  return timed(clients, n, async () => async (i) => {
    const args = { amount: 1 + (i % 100), toAccount: `acct-${i}` };
    const clearance = { tool_name: "bench.transfer", tool_args: args, agent_id: "mcp-bench", session_id: "bench" };
    const cleared = (await post(vaultUrl, "/request-clearance", apiKey, clearance, { "idempotency-key": randomUUID() })) as { status: string; token?: string };
    if (cleared.status !== "approved" || !cleared.token) return `not approved: ${JSON.stringify(cleared).slice(0, 300)}`;
    const burned = (await post(vaultUrl, "/consume-token", apiKey, { token: cleared.token, tool_name: "bench.transfer", tool_args: args })) as { jti: string };
    if (report) await post(vaultUrl, `/tokens/${encodeURIComponent(burned.jti)}/execution`, apiKey, { status: null, outcome: "succeeded", duration_ms: 1 });
    return null;
  });
}

/** countersign_mcp_gateway_step_seconds sums and counts by step, from the gateway's /metrics. */
async function stepTotals(gatewayUrl: string): Promise<Map<string, { sum: number; count: number }>> {
  const text = await (await fetch(`${gatewayUrl}/metrics`)).text();
  const totals = new Map<string, { sum: number; count: number }>();
  for (const m of text.matchAll(/^countersign_mcp_gateway_step_seconds_(sum|count)\{step="(\w+)"\} ([0-9.e+-]+)$/gm)) {
    const entry = totals.get(m[2]!) ?? { sum: 0, count: 0 };
    entry[m[1] as "sum" | "count"] = Number(m[3]);
    totals.set(m[2]!, entry);
  }
  return totals;
}

/** Mean milliseconds per step between two snapshots. */
function stepMeans(before: Map<string, { sum: number; count: number }>, after: Map<string, { sum: number; count: number }>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [step, a] of after) {
    const b = before.get(step) ?? { sum: 0, count: 0 };
    if (a.count > b.count) out[step] = ((a.sum - b.sum) / (a.count - b.count)) * 1000;
  }
  return out;
}

async function post(base: string, route: string, apiKey: string, body: unknown, headers: Record<string, string> = {}): Promise<unknown> {
  const res = await fetch(`${base}${route}`, { method: "POST", headers: { "content-type": "application/json", "x-vault-api-key": apiKey, ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`POST ${route} -> HTTP ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

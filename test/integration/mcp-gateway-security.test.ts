import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/config-error.js";
import { parseMcpGatewayConfig } from "../../src/config/mcp-gateway-config.js";
import { startMcpGateway, type RunningMcpGateway } from "../../src/gateway/mcp/gateway.js";
import pino from "pino";
import { connectAgent, mcpPolicies, startTestGateway, textOf, type TestAgent } from "../helpers/mcp-gateway.js";
import { startHttpUpstream, type RunningUpstream } from "../helpers/mcp-upstream.js";
import { call, freePort, newDatabase, newKey, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

/**
 * The gateway attacked from the agent's side: who may reach /mcp (bearer token, Host), what an
 * upstream may claim in its result, and one approval picked up by several calls at once.
 */
const TOKEN = "agent-token-0123456789abcdef";
const config = (vaultUrl: string, upstreamUrl: string, http = "") => `
vault: { url: ${vaultUrl}, api_key_env: AGENT_KEY, timeout_seconds: 5 }
pending: { mode: return }
upstreams:
  - { name: payments, transport: http, url: ${upstreamUrl}, prefix: "pay." }
tools:
  pay.ping: { gated: false }
  pay.echo: { gated: false }
${http}
`;

const init = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "probe", version: "1" } } };

/** A raw POST of an initialize with chosen headers (node:http, so that Host can be set). */
function rawInitialize(gatewayUrl: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const url = new URL(`${gatewayUrl}/mcp`);
  const body = JSON.stringify(init);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, path: url.pathname, method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

describe("MCP gateway: agent access and upstream claims", () => {
  let upstream: RunningUpstream;
  let deadVault: string;
  const closers: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    upstream = await startHttpUpstream();
    deadVault = `http://127.0.0.1:${await freePort()}`;
  });
  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await upstream?.close();
  });
  const gateway = async (http = "", env: Record<string, string> = {}) => {
    const gw = await startTestGateway(config(deadVault, upstream.url, http), { AGENT_KEY: "csk_not_used", ...env });
    closers.push(() => gw.close());
    return gw;
  };

  it("with http.agent_token_env, /mcp refuses a missing or wrong bearer token (401) and serves the right one", async () => {
    const gw = await gateway("http: { agent_token_env: MCP_AGENT_TOKEN }", { MCP_AGENT_TOKEN: TOKEN });
    const none = await rawInitialize(gw.url!, {});
    expect(none.status).toBe(401);
    expect(JSON.parse(none.body).code).toBe("unauthorized");
    expect(none.body).not.toContain(TOKEN);
    expect((await rawInitialize(gw.url!, { authorization: `Bearer ${TOKEN}x` })).status).toBe(401);
    expect((await rawInitialize(gw.url!, { authorization: `Bearer ${TOKEN.slice(0, -1)}` })).status).toBe(401);
    expect((await rawInitialize(gw.url!, { authorization: TOKEN })).status).toBe(401);
    // A client without the token cannot even list tools.
    const anonymous = new Client({ name: "anon", version: "1" });
    await expect(anonymous.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`)))).rejects.toThrow();
    const client = new Client({ name: "agent", version: "1" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } }));
    closers.push(() => client.close());
    expect((await client.callTool({ name: "pay.ping", arguments: {} })).content).toEqual([{ type: "text", text: "pong" }]);
    // Probes stay open for orchestrators.
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
  });

  it("refuses an agent token variable that is unset, short, or the vault key itself", () => {
    const text = config(deadVault, "http://127.0.0.1:1/mcp", "http: { agent_token_env: MCP_AGENT_TOKEN }");
    expect(() => parseMcpGatewayConfig(text, { AGENT_KEY: "csk_x" })).toThrow(ConfigError);
    expect(() => parseMcpGatewayConfig(text, { AGENT_KEY: "csk_x", MCP_AGENT_TOKEN: "short" })).toThrow(/16 characters/);
    expect(() => parseMcpGatewayConfig(text, { AGENT_KEY: TOKEN, MCP_AGENT_TOKEN: TOKEN })).toThrow(/must not hold the vault API key/);
    expect(parseMcpGatewayConfig(text, { AGENT_KEY: "csk_x", MCP_AGENT_TOKEN: TOKEN }).agentToken).toBe(TOKEN);
  });

  it("on a loopback listener, refuses a Host that is not a loopback name (DNS rebinding), even without Origin", async () => {
    const gw = await gateway();
    const port = new URL(gw.url!).port;
    const rebound = await rawInitialize(gw.url!, { host: `evil.example:${port}` });
    expect(rebound.status).toBe(403);
    expect(JSON.parse(rebound.body).code).toBe("host_not_allowed");
    expect((await rawInitialize(gw.url!, { host: `localhost:${port}` })).status).toBe(200);
    expect((await rawInitialize(gw.url!, { host: `127.0.0.1:${port}` })).status).toBe(200);
    // An Origin is not echoed back in the refusal.
    const page = await rawInitialize(gw.url!, { origin: "http://evil.example/<script>" });
    expect(page.status).toBe(403);
    expect(page.body).not.toContain("<script>");
    // http.allowed_hosts replaces the loopback names.
    const named = await gateway("http: { allowed_hosts: [mcp.internal] }");
    const namedPort = new URL(named.url!).port;
    expect((await rawInitialize(named.url!, { host: `MCP.internal:${namedPort}` })).status).toBe(200);
    expect((await rawInitialize(named.url!, { host: `localhost:${namedPort}` })).status).toBe(403);
  });

  it("names that only look like a tool (case, prefix twice, lookalikes, invisible characters, not listed) reach nothing", async () => {
    const gw = await gateway();
    const agent = await connectAgent(gw.url!);
    closers.push(() => agent.close());
    const before = { ping: upstream.calls.ping ?? 0, transfer: upstream.calls.transfer ?? 0 };
    const tricks = ["PAY.ping", "pay.PING", "pay.pay.ping", "pay.p\u0456ng", "pay.ping ", "pay.\u200bping", "pay.ping\u0000", "pay.", "pay.Transfer", "pay.tr\u0430nsfer", "pay.not-listed"];
    for (const name of tricks) {
      await expect(agent.client.callTool({ name, arguments: {} }), name).rejects.toMatchObject({ code: -32602 });
    }
    expect({ ping: upstream.calls.ping ?? 0, transfer: upstream.calls.transfer ?? 0 }).toEqual(before);
  });

  it("deeply nested arguments get an error answer, not a crash or an internal message; the session keeps working", async () => {
    const gw = await gateway();
    const agent = await connectAgent(gw.url!);
    closers.push(() => agent.close());
    const deep = `${"[".repeat(200_000)}${"]".repeat(200_000)}`;
    for (const name of ["pay.transfer", "pay.ping"]) {
      const res = await fetch(`${gw.url}/mcp`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-session-id": agent.transport.sessionId!, "mcp-protocol-version": "2025-11-25" },
        body: `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"${name}","arguments":{"a":${deep}}}}`,
      });
      const text = await res.text();
      expect(res.status, text.slice(0, 300)).toBeLessThan(500);
      expect(text).not.toMatch(/call stack|RangeError|at .*\.js:\d+/);
      expect(text).toContain('"code":-32602');
      expect(text).toContain("the arguments nest deeper than 63 levels");
    }
    expect(textOf(await agent.client.callTool({ name: "pay.ping", arguments: {} }))).toBe("pong");
    // 63 levels is still taken (forwarded here: echo is ungated in this file).
    const atLimit = JSON.parse(`${"[".repeat(62)}"x"${"]".repeat(62)}`) as unknown;
    await expect(agent.client.callTool({ name: "pay.echo", arguments: { text: "deep", a: atLimit } })).resolves.toMatchObject({ content: [{ type: "text", text: "deep" }] });
  });

  it("a session cannot hold more than limits.max_calls_per_session calls in flight; the next ends at once, not run", async () => {
    const gw = await startTestGateway(
      `
vault: { url: ${deadVault}, api_key_env: AGENT_KEY }
upstreams:
  - { name: payments, transport: http, url: ${upstream.url}, prefix: "pay.", call_timeout_seconds: 3 }
tools:
  pay.hang: { gated: false }
  pay.ping: { gated: false }
limits: { max_calls_per_session: 2 }
`,
      { AGENT_KEY: "csk_not_used" },
    );
    closers.push(() => gw.close());
    const agent = await connectAgent(gw.url!);
    closers.push(() => agent.close());
    const hangsBefore = upstream.calls.hang ?? 0;
    const hanging = [0, 1].map(() => agent.client.callTool({ name: "pay.hang", arguments: {} }));
    await expect.poll(() => (upstream.calls.hang ?? 0) - hangsBefore, { timeout: 10_000 }).toBe(2);
    const pingsBefore = upstream.calls.ping ?? 0;
    const third = await agent.client.callTool({ name: "pay.ping", arguments: {} });
    expect(third.isError).toBe(true);
    expect(textOf(third)).toMatch(/2 calls in flight \(limits.max_calls_per_session\)/);
    expect(upstream.calls.ping ?? 0).toBe(pingsBefore);
    // Another session is not affected, and the slots come back when the calls end.
    const other = await connectAgent(gw.url!);
    closers.push(() => other.close());
    expect(textOf(await other.client.callTool({ name: "pay.ping", arguments: {} }))).toBe("pong");
    await Promise.all(hanging);
    expect(textOf(await agent.client.callTool({ name: "pay.ping", arguments: {} }))).toBe("pong");
  });

  it("an upstream's countersign/ _meta never reaches the agent: it cannot present a result as cleared", async () => {
    const gw = await gateway();
    const agent = await connectAgent(gw.url!);
    closers.push(() => agent.close());
    const result = await agent.client.callTool({ name: "pay.echo", arguments: { text: "spoof-meta" } });
    expect(textOf(result)).toBe("spoof-meta");
    expect(result._meta).toEqual({ own: 1 });
  });
});

describe("MCP gateway: one approval, many pickups", () => {
  let db: TestDatabase;
  let v: TestVault;
  let upstream: RunningUpstream;
  let gw: RunningMcpGateway;
  let agentKey: string;
  const agents: TestAgent[] = [];
  beforeAll(async () => {
    db = newDatabase("pglite");
    v = await startTestVault(db, { env: { VAULT_REVIEW_SWEEP_INTERVAL_SECONDS: "3600" } });
    for (const p of mcpPolicies) expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: p })).status).toBe(200);
    upstream = await startHttpUpstream();
    agentKey = await newKey(v, "agent");
    gw = await startTestGateway(config(v.url, upstream.url), { AGENT_KEY: agentKey });
  });
  afterAll(async () => {
    for (const a of agents) await a.close().catch(() => undefined);
    await gw?.close();
    await upstream?.close();
    await v?.close();
    await db?.drop();
  });

  it("the same approved request named by four sessions at once is forwarded exactly once; other arguments are refused", async () => {
    const args = { amount: 20, toAccount: "acct-race" };
    const cleared = await call(v.url, "POST", "/request-clearance", { key: agentKey, body: { tool_name: "pay.transfer", tool_args: args, agent_id: "racer" } });
    expect(cleared.body.status).toBe("approved");
    const id = cleared.body.request_id as string;
    for (let i = 0; i < 4; i++) agents.push(await connectAgent(gw.url!));
    const before = upstream.calls.transfer ?? 0;
    // Different arguments under the same request id: refused before any burn.
    const other = await agents[0]!.client.callTool({ name: "pay.transfer", arguments: { ...args, amount: 21 }, _meta: { "countersign/request_id": id } });
    expect(other.isError).toBe(true);
    expect(textOf(other)).toMatch(/made for another tool or other arguments/);
    const results = await Promise.all(agents.map((a) => a.client.callTool({ name: "pay.transfer", arguments: args, _meta: { "countersign/request_id": id } })));
    const forwarded = results.filter((r) => !r.isError);
    expect(forwarded, JSON.stringify(results.map(textOf))).toHaveLength(1);
    expect(textOf(forwarded[0])).toBe("transferred 20 to acct-race");
    expect(results.filter((r) => r.isError).map((r) => (r._meta as Record<string, unknown>)["countersign/status"])).toEqual(["replay_refused", "replay_refused", "replay_refused"]);
    expect((upstream.calls.transfer ?? 0) - before).toBe(1);
  });
});

describe("MCP gateway: a vault that does not hold the long poll", () => {
  it("is asked at most about once per progress interval while a call waits, not in a tight loop", async () => {
    const upstream = await startHttpUpstream();
    const hits: string[] = [];
    // Answers every status poll at once with "still pending", as a proxy that drops ?wait= would.
    const vault = createServer((req, res) => {
      hits.push(`${req.method} ${req.url}`);
      res.writeHead(200, { "content-type": "application/json" }).end(
        JSON.stringify({ request_id: "req_slow", status: "pending_review", decision_status: "pending_review", token: null, reason: "needs review", reason_code: null, tool_name: "pay.transfer" }),
      );
    });
    await new Promise<void>((resolve) => vault.listen(0, "127.0.0.1", resolve));
    const vaultUrl = `http://127.0.0.1:${(vault.address() as AddressInfo).port}`;
    const gw = await startTestGateway(
      `
vault: { url: ${vaultUrl}, api_key_env: AGENT_KEY, timeout_seconds: 2 }
pending: { mode: wait, wait_seconds: 3, progress_interval_seconds: 1 }
upstreams:
  - { name: payments, transport: http, url: ${upstream.url}, prefix: "pay." }
`,
      { AGENT_KEY: "csk_not_used" },
    );
    const agent = await connectAgent(gw.url!);
    try {
      const result = await agent.client.callTool({ name: "pay.transfer", arguments: { amount: 500, toAccount: "acct-1" } });
      expect(textOf(result)).toMatch(/waits for approval/);
      const polls = hits.filter((h) => h.startsWith("GET /clearance-status/req_slow"));
      // 3 s in rounds of 1 s: a handful of polls (a tight loop makes hundreds).
      expect(polls.length).toBeGreaterThanOrEqual(2);
      expect(polls.length).toBeLessThanOrEqual(6);
      expect(upstream.calls.transfer ?? 0).toBe(0);
    } finally {
      await agent.close();
      await gw.close();
      vault.closeAllConnections();
      await new Promise((resolve) => vault.close(resolve));
      await upstream.close();
    }
  });
});

describe("MCP gateway: the execution report fails, and what the log holds", () => {
  it("the agent still gets the tool's result once; the failure is counted; no token or key is ever logged", async () => {
    const upstream = await startHttpUpstream();
    const TOKEN_TEXT = "eyJhbGciOiJFZERTQSJ9.secret-token-payload.signature";
    const API_KEY = "csk_live_secret_key_never_logged";
    const hits: string[] = [];
    const vault = createServer((req, res) => {
      hits.push(`${req.method} ${req.url}`);
      const send = (status: number, body: unknown) => res.writeHead(status, { "content-type": status >= 400 ? "application/problem+json" : "application/json" }).end(JSON.stringify(body));
      if (req.url === "/request-clearance") send(200, { request_id: "req_rep", status: "approved", decision_status: "approved", token: TOKEN_TEXT, reason: "ok", reason_code: null, tool_name: "pay.transfer" });
      else if (req.url === "/consume-token") send(200, { consumed: true, jti: "jti_rep", request_id: "req_rep", tool: "pay.transfer", tool_args_hash: "h", agent_id: "a", tenant_id: "t", consumed_at: new Date().toISOString() });
      else send(500, { code: "internal_error", title: "Internal error", status: 500 });
    });
    await new Promise<void>((resolve) => vault.listen(0, "127.0.0.1", resolve));
    const vaultUrl = `http://127.0.0.1:${(vault.address() as AddressInfo).port}`;
    const lines: string[] = [];
    const log = pino({ level: "trace" }, { write: (line: string) => void lines.push(line) });
    const cfg = parseMcpGatewayConfig(
      `
vault: { url: ${vaultUrl}, api_key_env: AGENT_KEY, timeout_seconds: 2 }
upstreams:
  - { name: payments, transport: http, url: ${upstream.url}, prefix: "pay." }
http: { agent_token_env: MCP_AGENT_TOKEN }
`,
      { AGENT_KEY: API_KEY, MCP_AGENT_TOKEN: TOKEN },
    );
    const gw = await startMcpGateway(cfg, { transport: "http", host: "127.0.0.1", port: 0 }, log);
    const client = new Client({ name: "agent", version: "1" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } }));
    try {
      const result = await client.callTool({ name: "pay.transfer", arguments: { amount: 5, toAccount: "acct-r" } });
      expect(textOf(result)).toBe("transferred 5 to acct-r");
      expect(upstream.calls.transfer).toBe(1);
      await expect.poll(() => hits.includes("POST /tokens/jti_rep/execution"), { timeout: 10_000 }).toBe(true);
      await gw.deps.reports.drain();
      expect(await (await fetch(`${gw.url}/metrics`)).text()).toMatch(/countersign_mcp_gateway_execution_report_failures_total 1/);
      // A bad bearer token is logged neither.
      await rawInitialize(gw.url!, { authorization: "Bearer wrong-token-also-secret" });
      const logged = lines.join("\n");
      expect(logged).toContain("execution report to the vault failed");
      for (const secret of [TOKEN_TEXT, "secret-token-payload", API_KEY, TOKEN, "wrong-token-also-secret"]) expect(logged).not.toContain(secret);
    } finally {
      await client.close();
      await gw.close();
      vault.closeAllConnections();
      await new Promise((resolve) => vault.close(resolve));
      await upstream.close();
    }
  });
});

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningMcpGateway } from "../../src/gateway/mcp/gateway.js";
import { connectAgent, startTestGateway, textOf, type TestAgent } from "../helpers/mcp-gateway.js";
import { startHttpUpstream, type RunningUpstream } from "../helpers/mcp-upstream.js";
import { freePort } from "../helpers/vault.js";

/**
 * The gateway when the vault cannot be trusted to answer: down, erroring, hanging, or approving but
 * then failing the burn. Each time the call ends with a tool error and the upstream tool never runs.
 * The broken vaults are small HTTP servers of this test (the real vault is in mcp-gateway.test.ts).
 */
const config = (vaultUrl: string, upstreamUrl: string) => `
vault: { url: ${vaultUrl}, api_key_env: AGENT_KEY, timeout_seconds: 1 }
pending: { mode: return }
upstreams:
  - { name: payments, transport: http, url: ${upstreamUrl}, prefix: "pay." }
tools:
  pay.ping: { gated: false }
`;

async function brokenVault(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; hits: string[]; close(): Promise<void> }> {
  const hits: string[] = [];
  const server: Server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    handler!(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const json = (res: import("node:http").ServerResponse, status: number, body: unknown) =>
  res.writeHead(status, { "content-type": status >= 400 ? "application/problem+json" : "application/json" }).end(JSON.stringify(body));

describe("MCP gateway fails closed", () => {
  let upstream: RunningUpstream;
  const closers: (() => Promise<void>)[] = [];
  const gatewayFor = async (vaultUrl: string): Promise<{ gw: RunningMcpGateway; agent: TestAgent }> => {
    const gw = await startTestGateway(config(vaultUrl, upstream.url), { AGENT_KEY: "csk_test_not_used_by_broken_vaults" });
    const agent = await connectAgent(gw.url!);
    closers.push(() => agent.close(), () => gw.close());
    return { gw, agent };
  };
  const transfer = (agent: TestAgent) => agent.client.callTool({ name: "pay.transfer", arguments: { amount: 10, toAccount: "acct-1" } });

  beforeAll(async () => {
    upstream = await startHttpUpstream();
  });
  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await upstream?.close();
  });

  it("vault down: a tool error, nothing forwarded; tools/list and ungated tools still work; /readyz says why", async () => {
    const { gw, agent } = await gatewayFor(`http://127.0.0.1:${await freePort()}`);
    const result = await transfer(agent);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/^Countersign could not clear this call, so it was not run: the vault is unavailable/);
    expect(result._meta).toMatchObject({ "countersign/status": "not_cleared" });
    expect(upstream.calls.transfer ?? 0).toBe(0);
    expect((await agent.client.listTools()).tools.map((t) => t.name)).toContain("pay.transfer");
    expect(textOf(await agent.client.callTool({ name: "pay.ping", arguments: {} }))).toBe("pong");
    const ready = await fetch(`${gw.url}/readyz`);
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { code: string; upstreams: Record<string, string>; vault: string };
    expect(body).toMatchObject({ code: "not_ready", upstreams: { payments: "connected" } });
    expect(body.vault).toMatch(/^unreachable/);
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/countersign_mcp_gateway_calls_total\{outcome="not_cleared"\} 1/);
  });

  it("vault erroring (500) or answering what is not a clearance: a tool error, nothing forwarded", async () => {
    const failing = await brokenVault((_req, res) => json(res, 500, { code: "internal_error", title: "Internal error", status: 500 }));
    closers.push(() => failing.close());
    const { agent } = await gatewayFor(failing.url);
    expect(textOf(await transfer(agent))).toContain("could not clear this call");
    const odd = await brokenVault((_req, res) => json(res, 200, { approved: true }));
    closers.push(() => odd.close());
    const second = await gatewayFor(odd.url);
    const result = await transfer(second.agent);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/could not clear this call.*no request_id or status/);
    // A status the gateway does not know is no decision either, whatever else the answer says.
    const unknown = await brokenVault((_req, res) => json(res, 200, { request_id: "req_x", status: "allowed", token: "x.y.z", tool_name: "pay.transfer" }));
    closers.push(() => unknown.close());
    const third = await gatewayFor(unknown.url);
    expect(textOf(await transfer(third.agent))).toMatch(/could not clear this call.*unknown (clearance )?status "allowed"/);
    expect(unknown.hits).toEqual(["POST /request-clearance"]);
    expect(upstream.calls.transfer ?? 0).toBe(0);
  });

  it("vault hanging: the call ends after vault.timeout_seconds, nothing forwarded", async () => {
    const hanging = await brokenVault(() => undefined);
    closers.push(() => hanging.close());
    const { agent } = await gatewayFor(hanging.url);
    const result = await transfer(agent);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain("could not clear this call");
    expect(upstream.calls.transfer ?? 0).toBe(0);
  });

  it("approved, but the burn fails: nothing forwarded", async () => {
    const approving = await brokenVault((req, res) => {
      if (req.url === "/request-clearance") {
        json(res, 200, { request_id: "req_fake", status: "approved", decision_status: "approved", token: "x.y.z", reason: "ok", reason_code: null, tool_name: "pay.transfer" });
      } else json(res, 503, { code: "signer_unavailable", title: "The signing key service is unavailable", status: 503 });
    });
    closers.push(() => approving.close());
    const { agent } = await gatewayFor(approving.url);
    const result = await transfer(agent);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain("could not clear this call");
    expect(approving.hits).toContain("POST /consume-token");
    expect(upstream.calls.transfer ?? 0).toBe(0);
  });

  it("an upstream that is down: its tools are left out of tools/list, its calls end with a tool error, /readyz says so", async () => {
    const gw = await startTestGateway(config(`http://127.0.0.1:${await freePort()}`, `http://127.0.0.1:${await freePort()}/mcp`), { AGENT_KEY: "k" });
    const agent = await connectAgent(gw.url!);
    closers.push(() => agent.close(), () => gw.close());
    expect((await agent.client.listTools()).tools).toEqual([]);
    const result = await transfer(agent);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/^The tool did not answer: payments is unreachable/);
    const ready = (await (await fetch(`${gw.url}/readyz`)).json()) as { upstreams: Record<string, string> };
    expect(ready.upstreams.payments).toMatch(/^unreachable/);
  });

  it("refuses a browser Origin it was not told to allow, and an unknown session", async () => {
    const { gw } = await gatewayFor(`http://127.0.0.1:${await freePort()}`);
    const init = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "page", version: "1" } } };
    const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };
    const fromPage = await fetch(`${gw.url}/mcp`, { method: "POST", headers: { ...headers, origin: "http://evil.example" }, body: JSON.stringify(init) });
    expect(fromPage.status).toBe(403);
    expect(((await fromPage.json()) as { code: string }).code).toBe("origin_not_allowed");
    const stale = await fetch(`${gw.url}/mcp`, { method: "POST", headers: { ...headers, "mcp-session-id": "no-such-session" }, body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }) });
    expect(stale.status).toBe(404);
  });
});

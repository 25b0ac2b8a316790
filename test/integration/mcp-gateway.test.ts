import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CallToolResultSchema, ErrorCode, McpError, type Progress } from "@modelcontextprotocol/sdk/types.js";
import type { RunningMcpGateway } from "../../src/gateway/mcp/gateway.js";
import { trustedKeysFromJwks, verifyProofBundle } from "../../src/ledger/verify/bundle-verifier.js";
import { toolArgsHash } from "../../src/tokens/canonical-json.js";
import { connectAgent, exampleConfig, mcpPolicies, startTestGateway, textOf, type TestAgent } from "../helpers/mcp-gateway.js";
import { startHttpUpstream, type RunningUpstream } from "../helpers/mcp-upstream.js";
import { call, newDatabase, newKey, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

const customConfig = (vaultUrl: string, upstreamUrl: string, mode: "wait" | "return") => `
vault: { url: ${vaultUrl}, api_key_env: AGENT_KEY, timeout_seconds: 5 }
pending: { mode: ${mode}, wait_seconds: 60, progress_interval_seconds: 1 }
upstreams:
  - { name: payments, transport: http, url: ${upstreamUrl}, prefix: "pay.", call_timeout_seconds: 2 }
`;

for (const engine of ["pglite", "postgres"] as Engine[]) {
  describe(`MCP gateway on ${engine}`, () => {
    let db: TestDatabase;
    let v: TestVault;
    let upstream: RunningUpstream;
    let gwDoc: RunningMcpGateway;
    let gwWait: RunningMcpGateway;
    let gwReturn: RunningMcpGateway;
    const agents: TestAgent[] = [];
    const agentOn = async (gw: RunningMcpGateway, opts: Parameters<typeof connectAgent>[1] = {}) => {
      const a = await connectAgent(gw.url!, opts);
      agents.push(a);
      return a;
    };
    const runs = (tool: string) => upstream.calls[tool] ?? 0;
    const tenantSql = () => v.vault.ctx.tenantDbs.get(v.tenantId);
    const requestRow = async (id: string) =>
      (await (await tenantSql()).query<{ session_id: string; agent_id: string; tool_args: unknown; tool_name: string }>("SELECT session_id, agent_id, tool_args, tool_name FROM clearance_requests WHERE id = $1", [id]))[0];
    const ledgerEvents = async (id: string) =>
      (await (await tenantSql()).query<{ event_type: string }>("SELECT event_type FROM ledger_events WHERE request_id = $1 ORDER BY seq", [id])).map((r) => r.event_type);
    const executionOf = async (id: string) =>
      (
        await (await tenantSql()).query<{ execution_outcome: string | null; execution_status: number | null; execution_response_sha256: string | null; execution_detail: string | null }>(
          "SELECT execution_outcome, execution_status, execution_response_sha256, execution_detail FROM issued_tokens WHERE request_id = $1",
          [id],
        )
      )[0];
    /** The execution report, once the gateway has sent it (it does so as the agent gets its result). */
    const reported = async (id: string) => {
      await expect.poll(async () => (await executionOf(id))?.execution_outcome ?? null, { timeout: 10_000 }).not.toBeNull();
      return (await executionOf(id))!;
    };
    /** The pending request of an MCP session, once the gateway has asked for it. */
    const pendingOf = async (sessionId: string): Promise<string> => {
      for (let i = 0; i < 200; i++) {
        const rows = await (await tenantSql()).query<{ id: string }>("SELECT id FROM clearance_requests WHERE session_id = $1 AND status = 'pending_review' ORDER BY created_at DESC", [sessionId]);
        if (rows[0]) return rows[0].id;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`no pending request for session ${sessionId}`);
    };
    const decide = (id: string, approved: boolean, reason = "") => call(v.url, "POST", `/reviews/${id}/decision`, { key: v.adminKey, body: { approved, review_reason: reason } });
    const metaOf = (result: unknown) => (result as { _meta?: Record<string, unknown> })._meta ?? {};

    beforeAll(async () => {
      db = newDatabase(engine);
      v = await startTestVault(db, { env: { VAULT_REVIEW_SWEEP_INTERVAL_SECONDS: "3600" } });
      for (const p of mcpPolicies) expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: p })).status).toBe(200);
      const agentKey = await newKey(v, "agent");
      upstream = await startHttpUpstream();
      gwDoc = await startTestGateway(exampleConfig(v.url, upstream.url), { COUNTERSIGN_AGENT_KEY: agentKey });
      gwWait = await startTestGateway(customConfig(v.url, upstream.url, "wait"), { AGENT_KEY: agentKey });
      gwReturn = await startTestGateway(customConfig(v.url, upstream.url, "return"), { AGENT_KEY: agentKey });
    });
    afterAll(async () => {
      for (const a of agents) await a.close().catch(() => undefined);
      await gwDoc?.close();
      await gwWait?.close();
      await gwReturn?.close();
      await upstream?.close();
      await v?.close();
      await db?.drop();
    });

    it("tools/list passes the upstream's tools through, prefixed, with the gated ones marked", async () => {
      const agent = await agentOn(gwDoc);
      const { tools } = await agent.client.listTools();
      const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
      expect(Object.keys(byName).sort()).toEqual(["pay.echo", "pay.hang", "pay.ping", "pay.transfer"]);
      expect(byName["pay.transfer"]!.description).toMatch(/^\[Countersign: each call needs approval; the call waits .*\] Move money between accounts$/);
      expect(byName["pay.transfer"]!._meta).toMatchObject({ "countersign/gated": true, "countersign/pending": "wait" });
      expect(byName["pay.hang"]!._meta).toMatchObject({ "countersign/gated": true, "countersign/pending": "return" });
      // Not under `tools`: default_tool applies, so it is gated too.
      expect(byName["pay.echo"]!._meta).toMatchObject({ "countersign/gated": true });
      expect(byName["pay.ping"]!.description).toBe("Answers pong");
      expect(byName["pay.ping"]!._meta).toMatchObject({ "countersign/gated": false });
      expect(byName["pay.transfer"]!.inputSchema.properties).toHaveProperty("toAccount");
    });

    it("approved: the call is cleared with the exact arguments and the MCP session, burned, forwarded once and reported", async () => {
      const agent = await agentOn(gwDoc, { name: "billing-bot" });
      const before = runs("transfer");
      const args = { amount: 40, toAccount: "acct-7" };
      const result = await agent.client.callTool({ name: "pay.transfer", arguments: args });
      expect(result.isError).toBeFalsy();
      expect(textOf(result)).toBe("transferred 40 to acct-7");
      expect(runs("transfer")).toBe(before + 1);
      expect(upstream.received.at(-1)).toEqual({ tool: "transfer", args });
      const id = metaOf(result)["countersign/request_id"] as string;
      expect(id).toMatch(/^req_/);
      const row = await requestRow(id);
      // tool_args kept as sent (camelCase key), the MCP session id, agent_id from the file over the client's name.
      expect(row).toMatchObject({ tool_name: "pay.transfer", tool_args: args, session_id: agent.transport.sessionId, agent_id: "support-agent" });
      const status = await call(v.url, "GET", `/clearance-status/${id}`, { key: v.adminKey });
      expect(status.body.status).toBe("approved");
      const token = status.body.token as string;
      // The gateway burned it: a second consume is refused.
      const again = await call(v.url, "POST", "/consume-token", { key: v.adminKey, body: { token, tool_name: "pay.transfer", tool_args: args } });
      expect(again.body.code).toBe("token_already_consumed");
      // The report: no HTTP status for MCP, the hash of the result the upstream gave (before the gateway's _meta).
      const upstreamResult = { content: [{ type: "text", text: "transferred 40 to acct-7" }] };
      expect(await reported(id)).toEqual({
        execution_outcome: "succeeded",
        execution_status: null,
        execution_response_sha256: toolArgsHash(upstreamResult),
        execution_detail: null,
      });
      // One bundle proves it offline: approved, burned once, executed (verified with the vault's JWKS, not the bundle's keys).
      await v.vault.ctx.ledgerLoop.drain();
      const bundle = await call(v.url, "GET", `/ledger/proof/bundle?request_id=${id}`, { key: v.adminKey });
      expect(bundle.status, JSON.stringify(bundle.body)).toBe(200);
      const jwks = (await call(v.url, "GET", "/.well-known/jwks.json")).body;
      const report = verifyProofBundle({ ...bundle.body, keys: [] }, trustedKeysFromJwks(jwks));
      expect(report.checks.filter((c) => !c.ok)).toEqual([]);
      expect(report.events?.map((e) => e.event_type)).toEqual(["clearance.approved", "token.consumed", "token.executed"]);
    });

    it("denied: a tool error with the reason and the request id; the upstream never runs", async () => {
      const agent = await agentOn(gwDoc);
      const before = runs("transfer");
      const result = await agent.client.callTool({ name: "pay.transfer", arguments: { amount: 5000, toAccount: "acct-7" } });
      expect(result.isError).toBe(true);
      const id = metaOf(result)["countersign/request_id"] as string;
      expect(textOf(result)).toContain("Transfers over 1000 are never made by agents");
      expect(textOf(result)).toContain(id);
      expect(metaOf(result)).toMatchObject({ "countersign/status": "denied", "countersign/reason": "Transfers over 1000 are never made by agents" });
      expect(runs("transfer")).toBe(before);
    });

    it("an ungated tool is forwarded without a clearance; an unknown tool gets default_tool (gated: the vault's review)", async () => {
      const agent = await agentOn(gwDoc);
      const pong = await agent.client.callTool({ name: "pay.ping", arguments: {} });
      expect(textOf(pong)).toBe("pong");
      expect(metaOf(pong)["countersign/request_id"]).toBeUndefined();
      const before = runs("echo");
      // pay.echo has no vault policy either: the vault sends it to review; the example waits, so ask with a short call.
      const echo = agent.client.callTool({ name: "pay.echo", arguments: { text: "hi" } });
      const id = await pendingOf(agent.transport.sessionId!);
      expect((await requestRow(id))!.tool_name).toBe("pay.echo");
      expect((await decide(id, false, "not today")).status).toBe(200);
      const result = await echo;
      expect(result.isError).toBe(true);
      expect(textOf(result)).toContain("not today");
      expect(runs("echo")).toBe(before);
    });

    it("review, mode wait: progress notifications and a URL elicitation while waiting, then approved and forwarded", async () => {
      const agent = await agentOn(gwWait, { urlElicitation: true });
      const progress: Progress[] = [];
      const before = runs("transfer");
      const pending = agent.client.callTool({ name: "pay.transfer", arguments: { amount: 500, toAccount: "acct-9" } }, CallToolResultSchema, {
        onprogress: (p) => progress.push(p),
        resetTimeoutOnProgress: true,
      });
      const id = await pendingOf(agent.transport.sessionId!);
      await expect.poll(() => progress.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
      expect(runs("transfer")).toBe(before);
      expect((await decide(id, true, "checked")).body.status).toBe("approved");
      const result = await pending;
      expect(result.isError).toBeFalsy();
      expect(textOf(result)).toBe("transferred 500 to acct-9");
      expect(runs("transfer")).toBe(before + 1);
      expect(progress[0]).toMatchObject({ total: 60 });
      expect(progress[0]!.message).toContain(id);
      expect(agent.elicitations).toEqual([{ mode: "url", message: expect.stringContaining(id), url: `${v.url}/console#/reviews/${id}`, elicitationId: id }]);
      expect(agent.completions).toEqual([id]);
    });

    it("review, mode return: the call ends naming the request; the same call again picks the approval up; a replay is refused", async () => {
      const agent = await agentOn(gwReturn, { urlElicitation: true });
      const args = { amount: 250, toAccount: "acct-3" };
      const before = runs("transfer");
      const first = await agent.client.callTool({ name: "pay.transfer", arguments: args });
      expect(first.isError).toBe(true);
      const id = metaOf(first)["countersign/request_id"] as string;
      expect(textOf(first)).toContain(`waits for approval by a reviewer (request ${id}, ${v.url}/console#/reviews/${id})`);
      expect(metaOf(first)).toMatchObject({ "countersign/status": "pending_review", "countersign/console_url": `${v.url}/console#/reviews/${id}` });
      expect(agent.elicitations.map((e) => e.elicitationId)).toEqual([id]);
      // Still pending: the same call names the same request again, without a new one.
      const still = await agent.client.callTool({ name: "pay.transfer", arguments: args });
      expect(metaOf(still)["countersign/request_id"]).toBe(id);
      expect(runs("transfer")).toBe(before);
      expect((await decide(id, true)).body.status).toBe("approved");
      const picked = await agent.client.callTool({ name: "pay.transfer", arguments: args });
      expect(picked.isError).toBeFalsy();
      expect(textOf(picked)).toBe("transferred 250 to acct-3");
      expect(metaOf(picked)["countersign/request_id"]).toBe(id);
      expect(runs("transfer")).toBe(before + 1);
      // The same approval named again (another session, even): the token is burned.
      const other = await agentOn(gwReturn);
      const replay = await other.client.callTool({ name: "pay.transfer", arguments: args, _meta: { "countersign/request_id": id } });
      expect(replay.isError).toBe(true);
      expect(textOf(replay)).toContain(`Replay refused: the approval of request ${id} was already used`);
      expect(runs("transfer")).toBe(before + 1);
      // Named for other arguments: refused before any burn.
      const mismatch = await other.client.callTool({ name: "pay.transfer", arguments: { ...args, amount: 251 }, _meta: { "countersign/request_id": id } });
      expect(textOf(mismatch)).toContain("was made for another tool or other arguments");
      // Decided requests are forgotten: the same call again is a new action, a new request.
      const fresh = await agent.client.callTool({ name: "pay.transfer", arguments: args });
      expect(metaOf(fresh)["countersign/request_id"]).not.toBe(id);
      expect(metaOf(fresh)["countersign/status"]).toBe("pending_review");
    });

    it("an upstream that hangs: the call ends at call_timeout_seconds with a tool error, and the execution is reported as error", async () => {
      const agent = await agentOn(gwWait);
      const before = runs("hang");
      const result = await agent.client.callTool({ name: "pay.hang", arguments: {} });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/^The tool did not answer: payments: .*timed out/i);
      expect(runs("hang")).toBe(before + 1);
      const id = metaOf(result)["countersign/request_id"] as string;
      expect(await reported(id)).toMatchObject({ execution_outcome: "error", execution_status: null, execution_response_sha256: null });
      expect((await executionOf(id))!.execution_detail).toMatch(/^payments: .*timed out/i);
      expect(await ledgerEvents(id)).toEqual(["clearance.approved", "token.consumed", "token.executed"]);
    });

    it("bad input: malformed arguments, an unknown tool, arguments over the gateway's and the vault's limits", async () => {
      const agent = await agentOn(gwDoc);
      const before = runs("transfer");
      for (const bad of ["not an object", [1, 2], 42]) {
        const err = await agent.client
          .request({ method: "tools/call", params: { name: "pay.transfer", arguments: bad as never } }, CallToolResultSchema)
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(McpError);
        expect((err as McpError).code).toBe(ErrorCode.InvalidParams);
      }
      const unknown = await agent.client.callTool({ name: "pay.nope", arguments: {} }).catch((e: unknown) => e);
      expect((unknown as McpError).code).toBe(ErrorCode.InvalidParams);
      expect((unknown as McpError).message).toContain("Unknown tool: pay.nope");
      const big = await agent.client.callTool({ name: "pay.transfer", arguments: { amount: 1, toAccount: "x".repeat(300_000) } });
      expect(big.isError).toBe(true);
      expect(textOf(big)).toContain("limits.max_args_bytes");
      // Under the gateway's limit but over the vault's argument budget (VAULT_MAX_ARRAY_LENGTH 1,000).
      const wide = await agent.client.callTool({ name: "pay.transfer", arguments: { amount: 1, toAccount: "a", memo: Array.from({ length: 1500 }, (_, i) => i) } });
      expect(wide.isError).toBe(true);
      expect(textOf(wide)).toContain("args_too_large");
      // Over the HTTP body limit: refused before any MCP handling.
      await expect(agent.client.callTool({ name: "pay.transfer", arguments: { amount: 1, toAccount: "x".repeat(5 * 1024 * 1024) } })).rejects.toThrow(/413/);
      expect(runs("transfer")).toBe(before);
    });
  });
}

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport, getDefaultEnvironment } from "@modelcontextprotocol/sdk/client/stdio.js";
import { parseMcpGatewayConfig } from "../../src/config/mcp-gateway-config.js";
import { docExample, mcpPolicies, textOf } from "../helpers/mcp-gateway.js";
import { call, newDatabase, newKey, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/**
 * stdio on both sides, through the CLI: the agent starts `countersign mcp-gateway --stdio` as its child
 * (as a desktop MCP client does), and the gateway starts the upstream MCP server as its own child
 * (test/helpers/mcp-stdio-upstream.ts), which logs each tool run to a file so runs can be counted here.
 */
describe("MCP gateway over stdio (CLI), with a stdio upstream", () => {
  let db: TestDatabase;
  let v: TestVault;
  let dir: string;
  let runsFile: string;
  let client: Client;
  let agentKey: string;

  const runs = (tool: string) =>
    existsSync(runsFile)
      ? readFileSync(runsFile, "utf8")
          .split("\n")
          .filter(Boolean)
          .filter((l) => (JSON.parse(l) as { tool: string }).tool === tool).length
      : 0;

  beforeAll(async () => {
    db = newDatabase("pglite");
    v = await startTestVault(db);
    for (const p of mcpPolicies) expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: p })).status).toBe(200);
    dir = mkdtempSync(path.join(os.tmpdir(), "cs-mcp-stdio-"));
    runsFile = path.join(dir, "runs.jsonl");
    const configFile = path.join(dir, "mcp-gateway.json");
    writeFileSync(
      configFile,
      JSON.stringify({
        vault: { url: v.url, api_key_env: "STDIO_TEST_AGENT_KEY" },
        agent_id: "stdio-agent",
        log_level: "warn",
        pending: { mode: "return" },
        upstreams: [
          {
            name: "local",
            transport: "stdio",
            command: process.execPath,
            args: ["--import", "tsx", path.join(ROOT, "test/helpers/mcp-stdio-upstream.ts")],
            cwd: ROOT,
            env: { MCP_UPSTREAM_RUNS: runsFile, MCP_UPSTREAM_ENV_FILE: path.join(dir, "child-env.json") },
            prefix: "pay.",
          },
        ],
      }),
    );
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: ["--import", "tsx", path.join(ROOT, "src/main/cli.ts"), "mcp-gateway", "--config", configFile, "--stdio"],
      cwd: ROOT,
      env: { ...getDefaultEnvironment(), STDIO_TEST_AGENT_KEY: (agentKey = await newKey(v, "agent")) },
      stderr: "inherit",
    });
    client = new Client({ name: "stdio-test-agent", version: "1.0.0" });
    await client.connect(transport, { timeout: 60_000 });
  }, 90_000);
  afterAll(async () => {
    await client?.close();
    await v?.close();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("lists the child's tools, forwards an approved call once, refuses a denied one", async () => {
    const { tools } = await client.listTools(undefined, { timeout: 30_000 });
    expect(tools.map((t) => t.name).sort()).toEqual(["pay.echo", "pay.hang", "pay.ping", "pay.transfer"]);
    const approved = await client.callTool({ name: "pay.transfer", arguments: { amount: 30, toAccount: "acct-2" } });
    expect(textOf(approved)).toBe("transferred 30 to acct-2");
    expect(runs("transfer")).toBe(1);
    const id = approved._meta?.["countersign/request_id"] as string;
    const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
    const [row] = await sql.query<{ session_id: string; agent_id: string }>("SELECT session_id, agent_id FROM clearance_requests WHERE id = $1", [id]);
    // stdio has no Mcp-Session-Id: the connection's own id stands in for it.
    expect(row).toMatchObject({ agent_id: "stdio-agent", session_id: expect.stringMatching(/^stdio-[0-9a-f-]{36}$/) });
    const denied = await client.callTool({ name: "pay.transfer", arguments: { amount: 5000, toAccount: "acct-2" } });
    expect(denied.isError).toBe(true);
    expect(textOf(denied)).toContain("Transfers over 1000 are never made by agents");
    expect(runs("transfer")).toBe(1);
  });

  it("the upstream child does not inherit the gateway's environment: its vault key never reaches the tool", () => {
    const childEnv = JSON.parse(readFileSync(path.join(dir, "child-env.json"), "utf8")) as Record<string, string>;
    expect(childEnv.MCP_UPSTREAM_RUNS).toBe(runsFile);
    expect(Object.keys(childEnv)).not.toContain("STDIO_TEST_AGENT_KEY");
    expect(Object.values(childEnv).some((value) => value.includes(agentKey))).toBe(false);
  });

  it("the documentation's stdio upstream example is a valid configuration", () => {
    const base = docExample("mcp-gateway-example").replace(/^upstreams:[\s\S]*?(?=^tools:)/m, docExample("mcp-gateway-stdio-upstream"));
    const config = parseMcpGatewayConfig(base, { COUNTERSIGN_AGENT_KEY: "k" });
    expect(config.upstreams).toEqual([
      { name: "files", transport: "stdio", command: "npx", args: ["-y", "@modelcontextprotocol/server-filesystem", "/srv/shared"], env: { LOG_LEVEL: "warn" }, prefix: "fs.", call_timeout_seconds: 60 },
    ]);
  });
});

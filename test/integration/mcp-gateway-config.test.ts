import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/config-error.js";
import { loadMcpGatewayConfig, parseMcpGatewayConfig } from "../../src/config/mcp-gateway-config.js";
import { docExample } from "../helpers/mcp-gateway.js";

const env = { COUNTERSIGN_AGENT_KEY: "csk_example" };
const example = () => docExample("mcp-gateway-example");

describe("MCP gateway configuration", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "cs-mcp-config-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads the documentation's example as the doc describes it", () => {
    const config = parseMcpGatewayConfig(example(), env);
    expect(config.vault).toEqual({ url: "http://127.0.0.1:8000", apiKey: "csk_example", consoleUrl: "http://127.0.0.1:8000", timeoutMs: 10_000, decisionTimeoutMs: 30_000 });
    expect(config.agentId).toBe("support-agent");
    expect(config.pending).toEqual({ mode: "wait", waitMs: 55_000, progressIntervalMs: 5_000 });
    expect(config.policyOf("pay.transfer")).toEqual({ gated: true, pending: "wait", waitMs: 55_000 });
    expect(config.policyOf("pay.hang")).toEqual({ gated: true, pending: "return", waitMs: 55_000 });
    expect(config.policyOf("pay.ping")).toEqual({ gated: false, pending: "wait", waitMs: 55_000 });
    // Not listed: default_tool, gated.
    expect(config.policyOf("pay.echo")).toEqual({ gated: true, pending: "wait", waitMs: 55_000 });
    expect(config.policyOf("constructor")).toEqual({ gated: true, pending: "wait", waitMs: 55_000 });
    expect(config.limits).toEqual({ maxArgsBytes: 256 * 1024, maxRequestBytes: 4 * 1024 * 1024, maxCallsPerSession: 32 });
  });

  it("reads JSON as well, from a file", () => {
    const file = path.join(dir, "gateway.json");
    writeFileSync(file, JSON.stringify({ vault: { url: "https://vault.example.com/", api_key_env: "K" }, upstreams: [{ name: "a", transport: "stdio", command: "node", args: ["srv.js"] }] }));
    const config = loadMcpGatewayConfig(file, { K: "key" });
    expect(config.vault.url).toBe("https://vault.example.com");
    expect(config.upstreams[0]).toMatchObject({ name: "a", prefix: "", env: {}, call_timeout_seconds: 60 });
    expect(config.policyOf("anything")).toEqual({ gated: true, pending: "wait", waitMs: 55_000 });
  });

  it.each([
    ["an unknown key", (t: string) => t.replace("agent_id:", "agentid:"), /\(top level\): Unrecognized key: "agentid"/i],
    ["a misspelled tool policy key", (t: string) => t.replace("pay.ping: { gated: false }", "pay.ping: { gate: false }"), /tools\.pay\.ping: Unrecognized key: "gate"/i],
    ["an unknown pending mode", (t: string) => t.replace("mode: wait ", "mode: later "), /pending\.mode/],
    ["a vault URL that is not http(s)", (t: string) => t.replace("url: http://127.0.0.1:8000", "url: file:///etc/passwd"), /vault\.url/],
    ["an upstream without a transport", (t: string) => t.replace("    transport: http\n", ""), /upstreams\.0\.transport/],
    ["the API key itself instead of a variable name", (t: string) => t.replace("api_key_env: COUNTERSIGN_AGENT_KEY", "api_key_env: csk-live-123"), /vault\.api_key_env/],
    ["text that is not YAML", () => "vault: [unclosed", /not YAML or JSON/],
  ])("refuses %s, naming where", (_name, edit, message) => {
    expect(() => parseMcpGatewayConfig(edit(example()), env)).toThrow(message);
    expect(() => parseMcpGatewayConfig(edit(example()), env)).toThrow(ConfigError);
  });

  it("refuses a missing key variable, duplicate upstream names and prefixes, and an unreadable file", () => {
    expect(() => parseMcpGatewayConfig(example(), {})).toThrow(/the variable COUNTERSIGN_AGENT_KEY \(vault.api_key_env\) is not set/);
    const twice = example().replace(/^tools:/m, '  - { name: payments, transport: http, url: "http://127.0.0.1:9001/mcp", prefix: "other." }\ntools:');
    expect(() => parseMcpGatewayConfig(twice, env)).toThrow(/upstream name "payments" is used twice/);
    const samePrefix = example().replace(/^tools:/m, '  - { name: other, transport: http, url: "http://127.0.0.1:9001/mcp", prefix: "pay." }\ntools:');
    expect(() => parseMcpGatewayConfig(samePrefix, env)).toThrow(/upstream prefix "pay." is used twice/);
    // A prefix that starts another: "pay.t" + "ransfer" would take over "pay.transfer" from the payments upstream.
    const overlapping = example().replace(/^tools:/m, '  - { name: other, transport: http, url: "http://127.0.0.1:9001/mcp", prefix: "pay.t" }\ntools:');
    expect(() => parseMcpGatewayConfig(overlapping, env)).toThrow(/the prefix "pay." of upstream payments starts the prefix "pay.t" of upstream other/);
    const empty = example().replace(/^tools:/m, '  - { name: other, transport: http, url: "http://127.0.0.1:9001/mcp" }\ntools:');
    expect(() => parseMcpGatewayConfig(empty, env)).toThrow(/prefixes must not overlap/);
    expect(() => loadMcpGatewayConfig(path.join(dir, "missing.yaml"), env)).toThrow(/cannot read the MCP gateway configuration .*ENOENT/);
  });

  it("the CLI refuses --stdio with --port (usage, exit 2) and names a bad file (exit 1)", async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number; stderr: string }>((resolve) => {
        execFile("node", ["--import", "tsx", "src/main/cli.ts", "mcp-gateway", ...args], { env: { ...process.env, COUNTERSIGN_AGENT_KEY: "k" } }, (err, _stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
        );
      });
    const file = path.join(dir, "bad.yaml");
    writeFileSync(file, example().replace("agent_id:", "agentid:"));
    const [both, bad] = await Promise.all([run(["--config", file, "--stdio", "--port", "9000"]), run(["--config", file, "--port", "0"])]);
    expect(both).toMatchObject({ code: 2 });
    expect(both.stderr).toContain("give --stdio or --port/--host, not both");
    expect(bad).toMatchObject({ code: 1 });
    expect(bad.stderr).toContain('Unrecognized key: "agentid"');
  }, 60_000);
});

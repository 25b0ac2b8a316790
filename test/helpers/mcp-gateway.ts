import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ElicitRequestSchema, ElicitationCompleteNotificationSchema, type ClientCapabilities } from "@modelcontextprotocol/sdk/types.js";
import pino from "pino";
import { parseMcpGatewayConfig } from "../../src/config/mcp-gateway-config.js";
import { startMcpGateway, type RunningMcpGateway } from "../../src/gateway/mcp/gateway.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** The gateway in this process, on a loopback port, from a YAML text; the key comes from `env`. */
export async function startTestGateway(yaml: string, env: Record<string, string>): Promise<RunningMcpGateway> {
  return startMcpGateway(parseMcpGatewayConfig(yaml, env), { transport: "http", host: "127.0.0.1", port: 0 }, pino({ level: "silent" }));
}

export interface TestAgent {
  client: Client;
  transport: StreamableHTTPClientTransport;
  /** URL-mode elicitations the gateway sent (only for an agent that declared support). */
  elicitations: { mode: string; url?: string; elicitationId?: string; message: string }[];
  completions: string[];
  close(): Promise<void>;
}

/** A real MCP client on the gateway's /mcp, optionally declaring URL-mode elicitation. */
export async function connectAgent(gatewayUrl: string, opts: { urlElicitation?: boolean; name?: string } = {}): Promise<TestAgent> {
  const capabilities: ClientCapabilities = opts.urlElicitation ? { elicitation: { url: {} } } : {};
  const client = new Client({ name: opts.name ?? "test-agent", version: "1.0.0" }, { capabilities });
  const elicitations: TestAgent["elicitations"] = [];
  const completions: string[] = [];
  if (opts.urlElicitation) {
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      elicitations.push(request.params as TestAgent["elicitations"][number]);
      return { action: "accept" };
    });
    client.setNotificationHandler(ElicitationCompleteNotificationSchema, (n) => {
      completions.push(n.params.elicitationId);
    });
  }
  const transport = new StreamableHTTPClientTransport(new URL(`${gatewayUrl}/mcp`));
  await client.connect(transport);
  return { client, transport, elicitations, completions, close: () => client.close() };
}

/** The fenced block of docs/mcp-gateway.md that follows the marker comment `<!-- name -->`. */
export function docExample(name: string): string {
  const doc = readFileSync(path.join(ROOT, "docs/mcp-gateway.md"), "utf8");
  const at = doc.indexOf(`<!-- ${name} -->`);
  if (at < 0) throw new Error(`docs/mcp-gateway.md has no example marked <!-- ${name} -->`);
  const match = /```[a-z]*\n([\s\S]*?)```/.exec(doc.slice(at));
  if (!match) throw new Error(`no fenced block after <!-- ${name} -->`);
  return match[1]!;
}

/** The text of a tool result's first content item. */
export function textOf(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content.map((c) => c.text ?? "").join("\n");
}

/** The vault's policies for the prefixed names the gateway asks about. */
export const mcpPolicies = [
  // The transfer policy is the one docs/mcp-gateway.md shows.
  JSON.parse(docExample("mcp-gateway-policy")) as Record<string, unknown>,
  { policy_id: "mcp-hang", tools: ["pay.hang"], conditions: [{ id: "always", when: "true", decision: "approve", reason: "test tool" }], default_decision: "deny" },
];

/** The example of docs/mcp-gateway.md, pointed at this test's vault and upstream (nothing else changed). */
export function exampleConfig(vaultUrl: string, upstreamUrl: string): string {
  return docExample("mcp-gateway-example").replaceAll("http://127.0.0.1:8000", vaultUrl).replaceAll("http://127.0.0.1:9000/mcp", upstreamUrl);
}

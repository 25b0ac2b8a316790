import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport, getDefaultEnvironment } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { CallToolResult, Progress, Tool } from "@modelcontextprotocol/sdk/types.js";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";
import type { Logger } from "pino";
import type { UpstreamConfig } from "../../config/mcp-gateway-config.js";
import { VERSION } from "../../version.js";

/** One upstream MCP server the gateway is a client of. Connected lazily and again after a drop. */
export class Upstream {
  private client: Client | undefined;
  private connecting: Promise<Client> | undefined;
  /** The upstream's own tool names as last listed, to refuse an unknown tool before asking the vault. */
  private known = new Set<string>();

  constructor(
    readonly config: UpstreamConfig,
    private readonly log: Logger,
  ) {}

  get name(): string {
    return this.config.name;
  }

  get connected(): boolean {
    return this.client !== undefined;
  }

  async connect(): Promise<Client> {
    if (this.client) return this.client;
    this.connecting ??= this.open().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async open(): Promise<Client> {
    const client = new Client({ name: "countersign-mcp-gateway", version: VERSION });
    const transport = this.transport();
    // A drop (the child exited, the HTTP session ended) forgets the client: the next use reconnects.
    client.onclose = () => {
      if (this.client === client) this.client = undefined;
      this.log.warn({ upstream: this.name }, "MCP upstream connection closed");
    };
    client.onerror = (err) => this.log.warn({ upstream: this.name, err: err.message }, "MCP upstream transport error");
    try {
      await client.connect(transport, { timeout: 10_000 });
    } catch (err) {
      await client.close().catch(() => undefined);
      throw err;
    }
    this.client = client;
    return client;
  }

  private transport(): Transport {
    const c = this.config;
    if (c.transport === "http") return new StreamableHTTPClientTransport(new URL(c.url));
    return new StdioClientTransport({
      command: c.command,
      args: c.args,
      cwd: c.cwd,
      env: { ...getDefaultEnvironment(), ...c.env },
      // The child's stderr goes to ours (a log), never to the agent's stdout.
      stderr: "inherit",
    });
  }

  /** Every page of the upstream's tools/list. */
  async listTools(): Promise<Tool[]> {
    const client = await this.connect();
    const tools: Tool[] = [];
    let cursor: string | undefined;
    // A bound on pages: an upstream that keeps answering with a cursor must not hold the agent forever.
    for (let page = 0; page < 100; page++) {
      const res = await client.listTools(cursor ? { cursor } : {}, { timeout: this.config.call_timeout_seconds * 1000 });
      tools.push(...res.tools);
      cursor = res.nextCursor;
      if (!cursor) break;
    }
    this.known = new Set(tools.map((t) => t.name));
    return tools;
  }

  /** Whether the upstream has this tool, listing again once when it is not known (tools may have been added). */
  async hasTool(name: string): Promise<boolean> {
    if (this.known.has(name)) return true;
    await this.listTools();
    return this.known.has(name);
  }

  async callTool(
    name: string,
    args: Record<string, unknown>,
    opts: { signal?: AbortSignal; onprogress?: (p: Progress) => void },
  ): Promise<CallToolResult> {
    const client = await this.connect();
    const res = await client.callTool({ name, arguments: args }, CallToolResultSchema, {
      // Progress from the upstream does not extend the limit (no resetTimeoutOnProgress): it bounds a hung tool.
      timeout: this.config.call_timeout_seconds * 1000,
      signal: opts.signal,
      onprogress: opts.onprogress,
    });
    return res as CallToolResult;
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.close().catch(() => undefined);
  }
}

/** The upstreams, and which one a prefixed tool name belongs to (the longest matching prefix). */
export class Upstreams {
  readonly all: Upstream[];

  constructor(configs: UpstreamConfig[], log: Logger) {
    this.all = configs.map((c) => new Upstream(c, log));
  }

  route(prefixedName: string): { upstream: Upstream; name: string } | undefined {
    let best: Upstream | undefined;
    for (const u of this.all) {
      if (prefixedName.startsWith(u.config.prefix) && prefixedName.length > u.config.prefix.length) {
        if (!best || u.config.prefix.length > best.config.prefix.length) best = u;
      }
    }
    return best ? { upstream: best, name: prefixedName.slice(best.config.prefix.length) } : undefined;
  }

  async close(): Promise<void> {
    await Promise.all(this.all.map((u) => u.close()));
  }
}

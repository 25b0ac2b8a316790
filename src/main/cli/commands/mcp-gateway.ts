import { Command, Option } from "commander";
import { UsageError } from "../cli-errors.js";
import { withExamples } from "../help.js";

interface McpGatewayOptions {
  config: string;
  stdio?: boolean;
  port?: string;
  host?: string;
}

/** `countersign mcp-gateway`: gates an agent's MCP tools/call through the vault (docs/mcp-gateway.md). */
export function mcpGatewayCommand(): Command {
  const command = new Command("mcp-gateway")
    .summary("gate an agent's MCP tool calls through the vault")
    .description(
      "Start the MCP gateway: an MCP server to the agent (streamable HTTP at /mcp, or stdio) and an MCP client to the upstream MCP " +
        "servers of the configuration file. Each tools/call of a gated tool becomes a clearance request; approved calls are burned, " +
        "forwarded once and their execution reported. See docs/mcp-gateway.md.",
    )
    .requiredOption("--config <file>", "the gateway's configuration file (YAML or JSON)")
    .option("--stdio", "serve MCP on stdin and stdout instead of HTTP (the log goes to stderr)")
    .addOption(new Option("--port <n>", "HTTP port (0 picks a free one)").default("8090"))
    .addOption(new Option("--host <host>", "HTTP address to listen on").default("127.0.0.1"))
    .action(async (opts: McpGatewayOptions, cmd: Command) => {
      const portGiven = cmd.getOptionValueSource("port") === "cli" || cmd.getOptionValueSource("host") === "cli";
      if (opts.stdio && portGiven) throw new UsageError("mcp-gateway: give --stdio or --port/--host, not both");
      const port = Number(opts.port);
      if (!opts.stdio && !(Number.isInteger(port) && port >= 0 && port < 65536)) throw new UsageError(`mcp-gateway: --port ${opts.port} is not a port number`);
      const [{ loadMcpGatewayConfig }, { startMcpGateway }, { exitOnSignals }, { default: pino }] = await Promise.all([
        import("../../../config/mcp-gateway-config.js"),
        import("../../../gateway/mcp/gateway.js"),
        import("../../shutdown.js"),
        import("pino"),
      ]);
      const config = loadMcpGatewayConfig(opts.config);
      // stderr: under --stdio, stdout is the MCP channel and one stray log line would break the protocol.
      const log = pino({ level: config.logLevel, base: { component: "mcp-gateway" } }, pino.destination({ fd: 2, sync: false }));
      const gateway = await startMcpGateway(config, opts.stdio ? { transport: "stdio" } : { transport: "http", host: opts.host ?? "127.0.0.1", port }, log);
      if (gateway.url) process.stderr.write(`countersign mcp-gateway listening on ${gateway.url}/mcp\n`);
      exitOnSignals({ graceMs: 10_000, log, close: () => gateway.close() });
    });
  return withExamples(command, [
    "COUNTERSIGN_AGENT_KEY=csk_... countersign mcp-gateway --config mcp-gateway.yaml --port 8090",
    "countersign mcp-gateway --config mcp-gateway.yaml --stdio",
  ]);
}

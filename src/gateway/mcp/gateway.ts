import { randomUUID } from "node:crypto";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import type { Logger } from "pino";
import type { McpGatewayConfig } from "../../config/mcp-gateway-config.js";
import type { GateDeps } from "./call-context.js";
import { buildMcpHttpApp } from "./http-server.js";
import { InFlightReports } from "./in-flight.js";
import { createGatewayMetrics } from "./metrics.js";
import { createSessionServer } from "./session.js";
import { Upstreams } from "./upstreams.js";
import { SdkVault } from "./sdk-vault.js";
import type { GateVault } from "./vault-port.js";

export type GatewayListen = { transport: "http"; host: string; port: number } | { transport: "stdio" };

export interface RunningMcpGateway {
  /** http://host:port of the HTTP transport (the MCP endpoint is `${url}/mcp`); undefined on stdio. */
  url: string | undefined;
  deps: GateDeps;
  close(): Promise<void>;
}

/**
 * `countersign mcp-gateway`: an MCP server to the agent (streamable HTTP, or stdio) and an MCP client
 * to each configured upstream. Upstreams are connected at start so that a wrong URL or command shows
 * at once (logged; the gateway still starts, /readyz says not ready and their calls fail closed).
 */
export async function startMcpGateway(config: McpGatewayConfig, listen: GatewayListen, log: Logger, vault?: GateVault): Promise<RunningMcpGateway> {
  const upstreams = new Upstreams(config.upstreams, log);
  // The vault is asked through the first-party SDK (src/sdk); a test or an embedder may pass another port.
  vault ??= new SdkVault({ url: config.vault.url, apiKey: config.vault.apiKey, timeoutMs: config.vault.timeoutMs });
  const deps: GateDeps = { config, vault, upstreams, metrics: createGatewayMetrics(), log, reports: new InFlightReports() };
  await Promise.all(
    upstreams.all.map((u) =>
      u.connect().catch((err: Error) => log.error({ upstream: u.name, err: err.message }, "MCP upstream not reachable at start; its calls fail until it is")),
    ),
  );
  if (listen.transport === "stdio") {
    const { server } = createSessionServer(deps, `stdio-${randomUUID()}`);
    const transport = new StdioServerTransport();
    await server.connect(transport);
    log.info({ upstreams: upstreams.all.map((u) => u.name) }, "countersign mcp-gateway serving MCP on stdio");
    return {
      url: undefined,
      deps,
      async close() {
        await server.close().catch(() => undefined);
        await deps.reports.drain();
        await upstreams.close();
      },
    };
  }
  const { app, closeSessions } = buildMcpHttpApp(deps, listen.host);
  await app.listen({ host: listen.host, port: listen.port });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : listen.port;
  const host = listen.host.includes(":") ? `[${listen.host}]` : listen.host;
  const url = `http://${host}:${port}`;
  log.info({ url: `${url}/mcp`, upstreams: upstreams.all.map((u) => u.name) }, "countersign mcp-gateway listening");
  return {
    url,
    deps,
    async close() {
      await closeSessions();
      await app.close();
      await deps.reports.drain();
      await upstreams.close();
    },
  };
}

/**
 * The test MCP server (mcp-upstream.ts) on stdio, as a child process the MCP gateway starts
 * (`node --import tsx test/helpers/mcp-stdio-upstream.ts`). Each tool run is appended as one JSON
 * line to the file named by MCP_UPSTREAM_RUNS, so the test can count runs in another process.
 */
import { appendFileSync } from "node:fs";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { buildUpstreamServer } from "./mcp-upstream.js";

const runsFile = process.env.MCP_UPSTREAM_RUNS;
const server = buildUpstreamServer({ calls: {}, received: [] }, new Set(), (tool, args) => {
  if (runsFile) appendFileSync(runsFile, `${JSON.stringify({ tool, args })}\n`);
});
await server.connect(new StdioServerTransport());

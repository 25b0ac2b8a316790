/**
 * The test MCP server (mcp-upstream.ts) on stdio, as a child process the MCP gateway starts
 * (`node --import tsx test/helpers/mcp-stdio-upstream.ts`). Each tool run is appended as one JSON
 * line to the file named by MCP_UPSTREAM_RUNS, so the test can count runs in another process.
 */
import { appendFileSync, writeFileSync } from "node:fs";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { buildUpstreamServer } from "./mcp-upstream.js";

const runsFile = process.env.MCP_UPSTREAM_RUNS;
// The child's whole environment, for the test that proves the gateway's vault key is not passed down.
if (process.env.MCP_UPSTREAM_ENV_FILE) writeFileSync(process.env.MCP_UPSTREAM_ENV_FILE, JSON.stringify(process.env));
const server = buildUpstreamServer({ calls: {}, received: [] }, new Set(), (tool, args) => {
  if (runsFile) appendFileSync(runsFile, `${JSON.stringify({ tool, args })}\n`);
});
await server.connect(new StdioServerTransport());

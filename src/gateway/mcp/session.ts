import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { ListToolsRequestSchema, type CallToolRequest } from "@modelcontextprotocol/sdk/types.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { ServerNotification, ServerRequest } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { VERSION } from "../../version.js";
import type { CallContext, GateDeps } from "./call-context.js";
import { gateToolCall } from "./gate.js";
import { PendingMemory } from "./pending-memory.js";
import { failedClosedResult } from "./results.js";
import { listGatedTools } from "./tool-list.js";

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

const anyToolCall = z.looseObject({ method: z.literal("tools/call"), params: z.unknown() });

/**
 * The gateway as an MCP server for one agent session (one per Mcp-Session-Id over HTTP, one for the
 * stdio connection). It serves tools/list and tools/call only; everything else an upstream offers
 * (resources, prompts) is not passed through, since it is not gated.
 */
export function createSessionServer(deps: GateDeps, connectionId: string): { server: Server; pending: PendingMemory } {
  const server = new Server({ name: "countersign-mcp-gateway", version: VERSION }, { capabilities: { tools: {} } });
  const pending = new PendingMemory();
  // Calls of this session in flight: each may hold a vault long poll and an upstream call for minutes.
  let inFlight = 0;
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: await listGatedTools(deps) }));
  // Registered under a schema that accepts any params: the SDK's own tools/call wrapper then validates
  // against CallToolRequestSchema before this handler runs and answers a malformed call with -32602
  // (invalid params), where the strict schema here would fail first with -32603 (internal error), as if
  // the gateway had broken. So `raw` is a valid CallToolRequest here.
  server.setRequestHandler(anyToolCall, async (raw, extra) => {
    const request = raw as CallToolRequest;
    if (inFlight >= deps.config.limits.maxCallsPerSession) {
      deps.metrics.calls.inc({ outcome: "not_cleared" });
      return failedClosedResult(`this session already has ${inFlight} calls in flight (limits.max_calls_per_session); wait for one to end`);
    }
    inFlight++;
    try {
      return await gateToolCall(deps, request.params, callContext(deps, server, pending, request, extra, connectionId));
    } finally {
      inFlight--;
    }
  });
  return { server, pending };
}

function callContext(deps: GateDeps, server: Server, pending: PendingMemory, request: CallToolRequest, extra: Extra, connectionId: string): CallContext {
  const progressToken = request.params._meta?.progressToken;
  // Progress must only increase within a call (spec): the gateway's own waiting rounds and the
  // upstream's forwarded progress share one counter, and a value that would go back is dropped.
  let last = -1;
  const related = { relatedRequestId: extra.requestId };
  return {
    sessionId: extra.sessionId ?? connectionId,
    agentId: deps.config.agentId ?? server.getClientVersion()?.name ?? "mcp-agent",
    pending,
    signal: extra.signal,
    urlElicitation: server.getClientCapabilities()?.elicitation?.url !== undefined,
    async progress(progress, total, message) {
      if (progressToken === undefined || progress <= last) return;
      last = progress;
      await extra.sendNotification({ method: "notifications/progress", params: { progressToken, progress, ...(total !== undefined ? { total } : {}), message } });
    },
    async elicitUrl(params, timeoutMs) {
      const answer = await server.elicitInput({ mode: "url", ...params }, { ...related, timeout: timeoutMs, signal: extra.signal });
      return answer.action;
    },
    async elicitationComplete(elicitationId) {
      await server.createElicitationCompletionNotifier(elicitationId, related)();
    },
  };
}

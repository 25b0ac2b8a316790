import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";

/**
 * The tool results the gateway itself answers with (docs/mcp-gateway.md, "What the agent sees").
 * Each is a tool error (isError: true): the action did not run, and a model reads it as such. The
 * same facts are in `_meta` under the `countersign/` prefix for programs.
 */

export const META = {
  requestId: "countersign/request_id",
  status: "countersign/status",
  reason: "countersign/reason",
  consoleUrl: "countersign/console_url",
  gated: "countersign/gated",
  pending: "countersign/pending",
} as const;

function toolError(text: string, meta: Record<string, unknown>): CallToolResult {
  return { isError: true, content: [{ type: "text", text }], _meta: meta };
}

export function deniedResult(requestId: string, reason: string): CallToolResult {
  return toolError(`Countersign denied this call: ${reason || "no reason given"} (request ${requestId}). The tool was not run.`, {
    [META.requestId]: requestId,
    [META.status]: "denied",
    [META.reason]: reason,
  });
}

export function pendingResult(requestId: string, consoleUrl: string, waitedMs: number | null): CallToolResult {
  const waited = waitedMs === null ? "" : ` No decision came within ${Math.round(waitedMs / 1000)} s.`;
  return toolError(
    `This call waits for approval by a reviewer (request ${requestId}, ${consoleUrl}).${waited} The tool was not run. ` +
      "Call the same tool again with the same arguments once it is approved.",
    { [META.requestId]: requestId, [META.status]: "pending_review", [META.consoleUrl]: consoleUrl },
  );
}

export function replayResult(requestId: string): CallToolResult {
  return toolError(
    `Replay refused: the approval of request ${requestId} was already used (its token is burned). The tool was not run. ` +
      "Call again without the request id to ask for a new approval.",
    { [META.requestId]: requestId, [META.status]: "replay_refused" },
  );
}

/** The vault could not be asked, or refused the gateway's own call: fail closed. */
export function failedClosedResult(why: string, requestId: string | null = null): CallToolResult {
  return toolError(`Countersign could not clear this call, so it was not run: ${why}`, {
    ...(requestId ? { [META.requestId]: requestId } : {}),
    [META.status]: "not_cleared",
  });
}

export function upstreamErrorResult(why: string, requestId: string | null): CallToolResult {
  return toolError(`The tool did not answer: ${why}`, { ...(requestId ? { [META.requestId]: requestId } : {}), [META.status]: "upstream_error" });
}

/**
 * The upstream's own result (its content left as it came), with the request id added to its `_meta`.
 * `countersign/` keys in the upstream's `_meta` are dropped: only the gateway may say what it cleared,
 * or an upstream (or an ungated tool) could present its answer as approved under some request id.
 */
export function forwardedResult(result: CallToolResult, requestId: string | null): CallToolResult {
  const own = result._meta ? Object.fromEntries(Object.entries(result._meta).filter(([k]) => !k.startsWith("countersign/"))) : undefined;
  if (!requestId) return own === undefined ? result : { ...result, _meta: own };
  return { ...result, _meta: { ...own, [META.status]: "approved", [META.requestId]: requestId } };
}

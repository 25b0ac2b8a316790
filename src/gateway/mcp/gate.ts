import type { CallToolRequest, CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { toolArgsHash } from "../../tokens/canonical-json.js";
import { assertArgsDepth } from "./args-shape.js";
import type { CallContext, GateDeps } from "./call-context.js";
import { consoleUrlOf } from "./call-context.js";
import { burnAndForward, forwardUngated, type Outcome, type Routed } from "./forward.js";
import { offerReviewPage, settleProcessing, waitForReview } from "./pending-review.js";
import { META, deniedResult, failedClosedResult, pendingResult, upstreamErrorResult } from "./results.js";
import { timedStep } from "./metrics.js";
import { VaultCallError, type Clearance } from "./vault-port.js";

/**
 * One tools/call through the gateway: the whole enforcement rule in one place.
 *
 *   unknown tool          -> JSON-RPC InvalidParams (nothing asked, nothing forwarded)
 *   ungated (by config)   -> forwarded as is
 *   gated                 -> POST /request-clearance (tool = prefixed name, args exactly as sent)
 *     approved            -> burn, forward once, report execution
 *     denied              -> tool error with the reason and the request id
 *     pending_review      -> `wait` (long poll + progress) or `return` (tool error naming the request)
 *     vault unavailable   -> tool error; never forwarded (fail closed)
 *
 * A call may name an earlier request in `_meta["countersign/request_id"]`, and a call identical to one
 * that ended pending in this session (same tool, same arguments hash) picks that request up.
 */
export async function gateToolCall(deps: GateDeps, params: CallToolRequest["params"], ctx: CallContext): Promise<CallToolResult> {
  const started = performance.now();
  const { outcome, result } = await decide(deps, params, ctx);
  deps.metrics.calls.inc({ outcome });
  deps.metrics.callSeconds.observe({ outcome }, (performance.now() - started) / 1000);
  return result;
}

async function decide(deps: GateDeps, params: CallToolRequest["params"], ctx: CallContext): Promise<Outcome> {
  // Before anything walks the arguments recursively (hashing, serializing for the vault or the upstream).
  assertArgsDepth(params.arguments ?? {});
  const route = deps.upstreams.route(params.name);
  if (!route) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${params.name}`);
  try {
    if (!(await route.upstream.hasTool(route.name))) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${params.name}`);
  } catch (err) {
    if (err instanceof McpError && err.code === ErrorCode.InvalidParams) throw err;
    return { outcome: "upstream_error", result: upstreamErrorResult(`${route.upstream.name} is unreachable (${(err as Error).message})`, null) };
  }
  const call: Routed = { upstream: route.upstream, name: route.name, prefixedName: params.name, args: params.arguments ?? {} };
  const policy = deps.config.policyOf(params.name);
  if (!policy.gated) return forwardUngated(deps, call, ctx);

  const size = Buffer.byteLength(JSON.stringify(call.args), "utf8");
  if (size > deps.config.limits.maxArgsBytes) {
    return {
      outcome: "not_cleared",
      result: failedClosedResult(`the arguments are ${size} bytes of JSON; this gateway clears at most ${deps.config.limits.maxArgsBytes} (limits.max_args_bytes)`),
    };
  }
  const argsHash = toolArgsHash(call.args);
  let requestId: string | null = null;
  try {
    const named = requestIdIn(params._meta);
    const earlier = named ?? ctx.pending.get(call.prefixedName, argsHash);
    let clearance: Clearance;
    if (earlier) {
      clearance = await deps.vault.clearanceStatus(earlier, 0, ctx.signal);
      if (clearance.toolName !== call.prefixedName || clearance.toolArgsHash !== argsHash) {
        ctx.pending.forget(call.prefixedName, argsHash);
        return { outcome: "not_cleared", result: failedClosedResult(`request ${earlier} was made for another tool or other arguments than this call`, earlier) };
      }
    } else {
      const input = { toolName: call.prefixedName, toolArgs: call.args, agentId: ctx.agentId, sessionId: ctx.sessionId };
      clearance = await timedStep(deps.metrics, "clearance", () => deps.vault.requestClearance(input, ctx.signal));
    }
    requestId = clearance.requestId;
    clearance = await settleProcessing(deps, clearance, ctx);
    let waitedMs: number | null = null;
    if (clearance.status === "pending_review") {
      if (policy.pending === "wait") ({ clearance, waitedMs } = await waitForReview(deps, clearance, policy, ctx));
      else await offerReviewPage(deps, clearance, policy, ctx);
    }
    if (clearance.status === "pending_review" || clearance.status === "processing") {
      ctx.pending.remember(call.prefixedName, argsHash, clearance.requestId);
      if (clearance.status === "processing") {
        const why = `the vault did not decide request ${clearance.requestId} within ${deps.config.vault.decisionTimeoutMs / 1000} s`;
        return { outcome: "not_cleared", result: failedClosedResult(why, clearance.requestId) };
      }
      return { outcome: "pending", result: pendingResult(clearance.requestId, consoleUrlOf(deps.config, clearance.requestId), waitedMs) };
    }
    // Decided: the next identical call is a new action and asks for a new approval.
    ctx.pending.forget(call.prefixedName, argsHash);
    if (clearance.status === "denied") return { outcome: "denied", result: deniedResult(clearance.requestId, clearance.reason) };
    if (clearance.status !== "approved") return { outcome: "not_cleared", result: failedClosedResult(`request ${clearance.requestId} has no decision`, clearance.requestId) };
    return await burnAndForward(deps, call, clearance, ctx);
  } catch (err) {
    if (!(err instanceof VaultCallError)) throw err;
    // An agent that gave up (or a vault that dropped the long poll) can still pick the request up later;
    // a request the vault refuses to show is forgotten.
    if (requestId && err.kind === "unavailable") ctx.pending.remember(call.prefixedName, argsHash, requestId);
    else ctx.pending.forget(call.prefixedName, argsHash);
    deps.log.warn({ tool: call.prefixedName, request_id: requestId, err: err.message, code: err.code }, "vault call failed; tools/call failed closed");
    const why = err.kind === "refused" ? `the vault refused the request (${err.code ?? err.status}: ${err.message})` : err.message;
    return { outcome: "not_cleared", result: failedClosedResult(why, requestId) };
  }
}

function requestIdIn(meta: CallToolRequest["params"]["_meta"]): string | undefined {
  const value = meta?.[META.requestId];
  return typeof value === "string" && value.length > 0 && value.length <= 256 ? value : undefined;
}

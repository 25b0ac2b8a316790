import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { toolArgsHash } from "../../tokens/canonical-json.js";
import type { CallContext, GateDeps } from "./call-context.js";
import { timedStep, type CallOutcome } from "./metrics.js";
import { failedClosedResult, forwardedResult, replayResult, upstreamErrorResult } from "./results.js";
import type { Upstream } from "./upstreams.js";
import { VaultCallError, type Clearance, type ExecutionReport } from "./vault-port.js";

export interface Routed {
  upstream: Upstream;
  /** The upstream's own name of the tool (the agent's name without the prefix). */
  name: string;
  /** The agent's (prefixed) name: the clearance's tool_name. */
  prefixedName: string;
  args: Record<string, unknown>;
}

export type Outcome = { outcome: CallOutcome; result: CallToolResult };

/**
 * An approved call: burn the token (POST /consume-token with the tool and the arguments, so the vault
 * checks the binding too), then forward the call once, then report its execution (sent as the agent gets
 * its result: in-flight.ts). Nothing is forwarded
 * unless the burn succeeded; a second use of the same approval is refused by the vault (409) and shown
 * to the agent as "replay refused".
 */
export async function burnAndForward(deps: GateDeps, call: Routed, clearance: Clearance, ctx: CallContext): Promise<Outcome> {
  const id = clearance.requestId;
  if (!clearance.token) {
    return { outcome: "not_cleared", result: failedClosedResult(`request ${id} is approved but the vault gave this gateway's key no token`, id) };
  }
  let jti: string;
  try {
    const token = clearance.token;
    ({ jti } = await timedStep(deps.metrics, "consume", () => deps.vault.consume(token, call.prefixedName, call.args)));
  } catch (err) {
    if (!(err instanceof VaultCallError)) throw err;
    if (err.code === "token_already_consumed") return { outcome: "replay_refused", result: replayResult(id) };
    const why =
      err.code === "token_expired" || err.code === "expired"
        ? `the approval of request ${id} has expired; call again without the request id to ask anew`
        : err.kind === "refused"
          ? `the vault refused the token of request ${id} (${err.code ?? err.status}: ${err.message})`
          : err.message;
    return { outcome: "not_cleared", result: failedClosedResult(why, id) };
  }
  const { result, report } = await execute(deps, call, ctx);
  await deps.reports.add(reportExecution(deps, jti, id, report));
  return { outcome: report.outcome === "error" ? "upstream_error" : "forwarded", result: forwardedResult(result, id) };
}

/** A tool the configuration does not gate: forwarded as it is, with no clearance and no report. */
export async function forwardUngated(deps: GateDeps, call: Routed, ctx: CallContext): Promise<Outcome> {
  const { result, report } = await execute(deps, call, ctx);
  return { outcome: report.outcome === "error" ? "upstream_error" : "forwarded_ungated", result: forwardedResult(result, null) };
}

/**
 * One upstream call, within the upstream's call_timeout_seconds. A result with isError is the tool's
 * own failure ("failed"); no result at all (timeout, dropped connection, protocol error) is "error".
 */
async function execute(deps: GateDeps, call: Routed, ctx: CallContext): Promise<{ result: CallToolResult; report: ExecutionReport }> {
  const started = performance.now();
  try {
    const result = await timedStep(deps.metrics, "upstream", () =>
      call.upstream.callTool(call.name, call.args, {
        signal: ctx.signal,
        onprogress: (p) => void ctx.progress(p.progress, p.total, p.message ?? `${call.prefixedName} in progress`).catch(() => undefined),
      }),
    );
    const durationMs = Math.round(performance.now() - started);
    return {
      result,
      report: { status: null, outcome: result.isError ? "failed" : "succeeded", durationMs, responseSha256: hashOf(result) },
    };
  } catch (err) {
    const durationMs = Math.round(performance.now() - started);
    deps.log.warn({ upstream: call.upstream.name, tool: call.name, err: (err as Error).message }, "MCP upstream call failed");
    return {
      result: upstreamErrorResult(`${call.upstream.name}: ${(err as Error).message}`, null),
      report: { status: null, outcome: "error", durationMs, responseSha256: null, detail: printable(`${call.upstream.name}: ${(err as Error).message}`) },
    };
  }
}

/** The report's detail: printable, at most 500 characters (the vault's rule). */
const printable = (text: string) => text.replace(/\p{Cc}/gu, " ").slice(0, 500);

/** The hash the ledger keeps of what the tool answered: canonical JSON, so it is stable for a verifier. */
function hashOf(result: CallToolResult): string | null {
  try {
    return toolArgsHash(result);
  } catch {
    return null;
  }
}

/**
 * The report closes the loop (approved, burned, executed). It cannot change what already ran, so a
 * failure is logged and counted, not shown to the agent: the vault then lists the burn as never reported.
 */
async function reportExecution(deps: GateDeps, jti: string, requestId: string, report: ExecutionReport): Promise<void> {
  try {
    await timedStep(deps.metrics, "report", () => deps.vault.reportExecution(jti, report));
  } catch (err) {
    deps.metrics.reportFailures.inc();
    deps.log.warn({ request_id: requestId, err: (err as Error).message }, "execution report to the vault failed");
  }
}

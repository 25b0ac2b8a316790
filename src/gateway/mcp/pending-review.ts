import type { ToolPolicy } from "../../config/mcp-gateway-config.js";
import { consoleUrlOf, type CallContext, type GateDeps } from "./call-context.js";
import type { Clearance } from "./vault-port.js";

const undecided = (c: Clearance) => c.status === "pending_review" || c.status === "processing";

/**
 * A clearance the vault is still deciding (202 processing: the judge is slow or the queue is long):
 * long-polled up to vault.decision_timeout_seconds. Still processing then: the caller fails closed.
 */
export async function settleProcessing(deps: GateDeps, clearance: Clearance, ctx: CallContext): Promise<Clearance> {
  const deadline = Date.now() + deps.config.vault.decisionTimeoutMs;
  let current = clearance;
  while (current.status === "processing") {
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    current = await pacedStatus(deps, current.requestId, Math.max(1, Math.min(10, Math.floor(remaining / 1000))), deadline, ctx.signal);
  }
  return current;
}

/**
 * One long-poll round. A vault (or a proxy in front of it) that answers "still undecided" at once
 * instead of holding the request would otherwise be asked again in a tight loop for the whole wait:
 * the round then lasts its full length anyway, idle, so the vault is asked at most once per round.
 */
async function pacedStatus(deps: GateDeps, id: string, roundSeconds: number, deadline: number, signal: AbortSignal): Promise<Clearance> {
  const started = Date.now();
  const answer = await deps.vault.clearanceStatus(id, roundSeconds, signal);
  const idle = Math.min(started + roundSeconds * 1000, deadline) - Date.now();
  if (undecided(answer) && idle > 0 && !signal.aborted) {
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, idle);
      signal.addEventListener("abort", done, { once: true });
    });
  }
  return answer;
}

/**
 * Mode `wait`: the call stays open while a reviewer decides, up to the tool's wait limit. Each round is
 * one long poll of the vault (GET /clearance-status/{id}?wait=), so a decision is seen within moments,
 * and a progress notification goes to a client that gave a progressToken before each round (clients
 * that reset their request timeout on progress then keep waiting). Where the client supports URL-mode
 * elicitation, the reviewer's page is offered to the user at the start and marked complete once decided.
 */
export async function waitForReview(deps: GateDeps, clearance: Clearance, policy: ToolPolicy, ctx: CallContext): Promise<{ clearance: Clearance; waitedMs: number }> {
  const started = Date.now();
  const deadline = started + policy.waitMs;
  const id = clearance.requestId;
  const url = consoleUrlOf(deps.config, id);
  // Not awaited: the user's answer to the prompt (open the page or not) decides nothing; the reviewer
  // does. A client that fails the elicitation only loses the link.
  if (ctx.urlElicitation) {
    void ctx.elicitUrl({ message: elicitationMessage(id), url, elicitationId: id }, policy.waitMs).catch((err: Error) => {
      deps.log.debug({ request_id: id, err: err.message }, "URL elicitation not taken");
    });
  }
  let current = clearance;
  const totalSeconds = Math.ceil(policy.waitMs / 1000);
  while (undecided(current)) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    const waited = Math.floor((Date.now() - started) / 1000);
    await ctx.progress(waited, totalSeconds, `waiting for a reviewer to decide request ${id} (${url})`);
    const round = Math.max(1, Math.floor(Math.min(deps.config.pending.progressIntervalMs, remaining) / 1000));
    current = await pacedStatus(deps, id, round, deadline, ctx.signal);
  }
  // Sent on this call's stream before its result, so the client sees it; clients ignore completions of
  // elicitations they never took (spec 2025-11-25).
  if (!undecided(current) && ctx.urlElicitation) await ctx.elicitationComplete(id).catch(() => undefined);
  return { clearance: current, waitedMs: Date.now() - started };
}

/**
 * Mode `return`: the call ends at once with "waits for approval". Where the client supports URL-mode
 * elicitation, the reviewer's page is offered first (awaited, so the prompt reaches the user before
 * the call ends; bounded by the tool's wait limit). Its answer changes nothing.
 */
export async function offerReviewPage(deps: GateDeps, clearance: Clearance, policy: ToolPolicy, ctx: CallContext): Promise<void> {
  if (!ctx.urlElicitation) return;
  const id = clearance.requestId;
  await ctx.elicitUrl({ message: elicitationMessage(id), url: consoleUrlOf(deps.config, id), elicitationId: id }, policy.waitMs).catch((err: Error) => {
    deps.log.debug({ request_id: id, err: err.message }, "URL elicitation not taken");
  });
}

const elicitationMessage = (id: string) => `A reviewer must approve this tool call (request ${id}). Open the review page to see it or to ask for a decision.`;

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
    current = await deps.vault.clearanceStatus(current.requestId, Math.max(1, Math.min(10, Math.floor(remaining / 1000))), ctx.signal);
  }
  return current;
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
    current = await deps.vault.clearanceStatus(id, round, ctx.signal);
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

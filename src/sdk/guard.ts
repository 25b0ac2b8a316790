import { canonicalJson, sha256Hex } from "./canonical-json.js";
import { ClearanceDeniedError, CountersignError, DecisionTimeoutError } from "./errors.js";
import type { Clearance, ClearanceInput, ConsumeResult, ExecutionInput, ExecutionReport, WaitOptions } from "./types.js";

/** What guard needs of the client (Countersign implements it). */
export interface GuardClient {
  requestClearance(input: ClearanceInput, options?: WaitOptions): Promise<Clearance>;
  consume(token: string, expect?: { tool?: string; args?: Record<string, unknown> }): Promise<ConsumeResult>;
  reportExecution(jti: string, report: ExecutionInput): Promise<ExecutionReport>;
}

export interface GuardOptions {
  agentId: string;
  sessionId?: string;
  /** How long to wait for a decision (long polls, default 30 s). Still open after it: DecisionTimeoutError. */
  waitSeconds?: number;
  context?: Record<string, unknown>;
  /** Called when the execution report fails after the tool ran (the tool's result is still returned). */
  onReportError?: (err: unknown) => void;
}

/**
 * clearance → consume → fn → reportExecution. Nothing runs unless the vault approved and the burn
 * succeeded (fail closed: any error before fn is thrown and fn is not called). After fn, a failed
 * report does not undo the action, so it goes to onReportError instead of replacing fn's outcome.
 */
export function guardTool<A extends Record<string, unknown>, R>(
  cs: GuardClient,
  toolName: string,
  fn: (args: A) => R | Promise<R>,
  options: GuardOptions,
): (args: A) => Promise<Awaited<R>> {
  return async (args: A): Promise<Awaited<R>> => {
    const clearance = await cs.requestClearance(
      { tool: toolName, args, agentId: options.agentId, sessionId: options.sessionId, context: options.context },
      { waitSeconds: options.waitSeconds ?? 30 },
    );
    const approved = requireApproved(clearance);
    const { jti } = await cs.consume(approved.token, { tool: toolName, args });
    const started = Date.now();
    const report = (r: ExecutionInput) =>
      cs.reportExecution(jti, r).then(
        () => undefined,
        (err) => options.onReportError?.(err),
      );
    let result: Awaited<R>;
    try {
      result = await fn(args);
    } catch (err) {
      await report({ status: null, outcome: "error", durationMs: Date.now() - started, detail: errorDetail(err) });
      throw err;
    }
    await report({ status: null, outcome: "succeeded", durationMs: Date.now() - started, responseSha256: await resultHash(result) });
    return result;
  };
}

async function resultHash(result: unknown): Promise<string | undefined> {
  try {
    return await sha256Hex(canonicalJson(result ?? null));
  } catch {
    return undefined; // not JSON (a function, a bigint): nothing to hash
  }
}

/** The vault refuses control characters and more than 500 characters in `detail`. */
function errorDetail(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return text.replace(/\p{Cc}+/gu, " ").slice(0, 500) || "error";
}

/** Denied → ClearanceDeniedError; still open → DecisionTimeoutError; approved without a token → error. */
export function requireApproved(clearance: Clearance): Clearance & { token: string } {
  if (clearance.status === "denied") throw new ClearanceDeniedError(clearance.requestId, clearance.reason, clearance.reasonCode);
  if (clearance.status !== "approved") throw new DecisionTimeoutError(clearance.requestId, clearance.status);
  if (!clearance.token) throw new CountersignError("token_missing", `Clearance ${clearance.requestId} is approved but carries no token for this key`, { requestId: clearance.requestId });
  return clearance as Clearance & { token: string };
}

import { canonicalJson, sha256Hex } from "./canonical-json.js";
import { BadRequestError, ClearanceDeniedError, CountersignError, DecisionTimeoutError, VaultUnavailableError } from "./errors.js";
import type { Clearance, ClearanceInput, ConsumeResult, ExecutionInput, ExecutionReport, WaitOptions } from "./types.js";

/** What guard needs of the client (Countersign implements it). */
export interface GuardClient {
  requestClearance(input: ClearanceInput, options?: WaitOptions): Promise<Clearance>;
  consume(token: string, expect?: { tool?: string; args?: Record<string, unknown> }): Promise<ConsumeResult>;
  reportExecution(jti: string, report: ExecutionInput, options?: { signal?: AbortSignal }): Promise<ExecutionReport>;
}

export interface GuardOptions {
  agentId: string;
  sessionId?: string;
  /** How long to wait for a decision (long polls, default 30 s). Still open after it: DecisionTimeoutError. */
  waitSeconds?: number;
  context?: Record<string, unknown>;
  /** Called when the execution report fails after the tool ran (the tool's result is still returned). */
  onReportError?: (err: unknown) => void;
  /**
   * How long the tool's result may wait for its execution report, in ms (default 10 000). The report is
   * awaited so that a process exiting right after the call does not lose it, but a slow vault does not
   * hold the result longer than this: past it the report is abandoned and onReportError told.
   */
  reportTimeoutMs?: number;
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
  return async (callerArgs: A): Promise<Awaited<R>> => {
    // One snapshot, taken now, is what is approved, burned and run: the caller's object may change
    // while the clearance is pending (a burn for the old arguments would then run fn with new ones).
    // fn gets its own copy, so whatever it does to it changes nothing the vault saw.
    const args = snapshot(callerArgs);
    if (options.reportTimeoutMs !== undefined && !(Number.isFinite(options.reportTimeoutMs) && options.reportTimeoutMs > 0)) {
      throw new BadRequestError("invalid_input", "guard: reportTimeoutMs must be a positive number");
    }
    const clearance = await cs.requestClearance(
      { tool: toolName, args, agentId: options.agentId, sessionId: options.sessionId, context: options.context },
      { waitSeconds: options.waitSeconds ?? 30 },
    );
    const approved = requireApproved(clearance);
    const { jti } = await cs.consume(approved.token, { tool: toolName, args });
    const started = Date.now();
    // The report never replaces fn's outcome: neither its failure nor a throwing onReportError.
    const reportTimeoutMs = options.reportTimeoutMs ?? 10_000;
    const report = (r: ExecutionInput) =>
      cs.reportExecution(jti, r, { signal: AbortSignal.timeout(reportTimeoutMs) }).then(
        () => undefined,
        (cause) => {
          const err =
            cause instanceof CountersignError
              ? cause
              : new VaultUnavailableError("report_timeout", `The execution report of ${jti} took longer than ${reportTimeoutMs} ms; abandoned`, { cause });
          try {
            options.onReportError?.(err);
          } catch {
            // The caller's handler failed; fn's result (or error) still goes back.
          }
        },
      );
    let result: Awaited<R>;
    try {
      result = await fn(snapshot(args));
    } catch (err) {
      await report({ status: null, outcome: "error", durationMs: Date.now() - started, detail: errorDetail(err) });
      throw err;
    }
    await report({ status: null, outcome: "succeeded", durationMs: Date.now() - started, responseSha256: await resultHash(result) });
    return result;
  };
}

/** A deep copy in JSON form (what the vault hashes); arguments without one are refused before any call. */
function snapshot<A>(args: A): A {
  if (args === null || typeof args !== "object" || Array.isArray(args)) throw new BadRequestError("invalid_input", "guard: the tool's arguments must be a JSON object");
  try {
    return JSON.parse(JSON.stringify(args)) as A;
  } catch (err) {
    throw new BadRequestError("invalid_input", `guard: the tool's arguments have no JSON form: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
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

import { readDecision, verifyDecisionEnvelope, type Decision } from "../../protocols/stepauth/decision.js";
import { parseEnvelope, verifyEnvelope } from "../../protocols/stepauth/envelope.js";
import type { HubIdentity } from "./wire.js";

/** The SP's answer to a delivered decision (the SDKs' ExecutionResult). */
export interface ExecutionResult {
  requestId: string;
  status: "success" | "error";
  error?: string;
}

export interface CallbackHandlerOptions {
  hub: HubIdentity;
  /** This SP's entity: the decision's recipientId must be it. */
  spEntity: string;
  /** The exact request bytes submit returned for this id, or null when this SP never sent it. */
  requestBytesFor(requestId: string): Uint8Array | null | undefined | Promise<Uint8Array | null | undefined>;
  /**
   * Runs (or refuses) the action for a verified decision. Delivery is at-least-once: be idempotent
   * on requestId. Return the outcome to report (default success); throwing answers 500, so the hub
   * delivers again later.
   */
  onDecision(decision: Decision, context: { envelope: string | Uint8Array }): Promise<Omit<ExecutionResult, "requestId"> | void> | Omit<ExecutionResult, "requestId"> | void;
}

export interface CallbackAnswer {
  status: number;
  body: string;
}

const answer = (status: number, body: unknown): CallbackAnswer => ({ status, body: JSON.stringify(body) });
const refusal = (status: number, error: string, message: string) => answer(status, { error, message });

/**
 * A handler for the hub's decision callback: give it the raw request body (never a re-serialised
 * object) and send back its status and JSON body. It verifies the envelope against the hub's
 * keysets, then sender, recipient and requestDigest against the bytes this SP sent, and only then
 * calls onDecision. A refused delivery is answered 4xx and onDecision never runs. Never rejects.
 */
export function stepAuthCallbackHandler(options: CallbackHandlerOptions): (body: string | Uint8Array) => Promise<CallbackAnswer> {
  return async (body) => {
    const parsed = parseEnvelope(body);
    if (!parsed) return refusal(400, "malformed_request", "the body is not a StepAuth envelope");
    // The id is read only after the signature holds: an unsigned body never reaches the SP's store.
    if (!verifyEnvelope(parsed, options.hub.keysets)) return refusal(401, "invalid_signature", "invalid signature");
    const claimed = readDecision(parsed.payload);
    if (!claimed) return refusal(400, "malformed_request", "the payload is not a decision");
    let requestBytes: Uint8Array | null | undefined;
    try {
      requestBytes = await options.requestBytesFor(claimed.requestId);
    } catch {
      return refusal(500, "internal_error", "the request could not be looked up; deliver it again");
    }
    if (!requestBytes) return refusal(404, "request_not_found", "this SP sent no request with that id");
    const verified = verifyDecisionEnvelope(body, { hubKeysets: options.hub.keysets, hubEntity: options.hub.entity, spEntity: options.spEntity, requestBytes });
    if (!verified.ok) return refusal(403, "invalid_decision", verified.reason);
    let outcome: Omit<ExecutionResult, "requestId"> | void;
    try {
      outcome = await options.onDecision(verified.decision, { envelope: body });
    } catch {
      return refusal(500, "internal_error", "the decision could not be processed; deliver it again");
    }
    const result: ExecutionResult = { requestId: verified.decision.requestId, status: outcome?.status === "error" ? "error" : "success" };
    if (outcome?.status === "error" && typeof outcome.error === "string") result.error = outcome.error;
    return answer(200, result);
  };
}

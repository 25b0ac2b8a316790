/**
 * What the MCP gateway needs from the vault, and nothing more: four calls. The gateway's logic
 * (gate.ts) is written against this port so that the wire client behind it (the first-party SDK, see
 * sdk-vault.ts) can change without touching the enforcement rules.
 */

export type ClearanceStatus = "processing" | "pending_review" | "approved" | "denied";

export interface Clearance {
  requestId: string;
  status: ClearanceStatus;
  /** The A-JWT, on an approved answer to the key that asked (null otherwise). */
  token: string | null;
  reason: string;
  reasonCode: string | null;
  toolName: string;
  toolArgsHash: string;
}

export interface ClearanceInput {
  toolName: string;
  /** The tools/call arguments exactly as the agent sent them: keys are never rewritten. */
  toolArgs: Record<string, unknown>;
  agentId: string;
  sessionId: string;
}

export interface ExecutionReport {
  /** An HTTP-like status; MCP has none, so the gateway sends null. */
  status: number | null;
  outcome: "succeeded" | "failed" | "error";
  durationMs: number;
  /** Lowercase hex SHA-256 of the canonical JSON of the upstream's result, null when there was none. */
  responseSha256: string | null;
  /** Why there was no result (at most 500 printable characters), e.g. the upstream's timeout. */
  detail?: string;
}

/**
 * Why a vault call did not give an answer. `unavailable`: no answer (network, timeout, 5xx, a body
 * that is not the documented one), so the call fails closed. `refused`: the vault answered with a
 * problem (4xx) whose `code` says why, e.g. token_already_consumed.
 */
export class VaultCallError extends Error {
  constructor(
    readonly kind: "unavailable" | "refused",
    message: string,
    readonly status: number | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
    this.name = "VaultCallError";
  }
}

export interface GateVault {
  requestClearance(input: ClearanceInput, signal?: AbortSignal): Promise<Clearance>;
  /** GET /clearance-status/{id}?wait=: held by the vault up to waitSeconds while undecided. */
  clearanceStatus(requestId: string, waitSeconds: number, signal?: AbortSignal): Promise<Clearance>;
  /** Burns the token; resolves to its jti. */
  consume(token: string, toolName: string, toolArgs: Record<string, unknown>): Promise<{ jti: string }>;
  reportExecution(jti: string, report: ExecutionReport): Promise<void>;
}

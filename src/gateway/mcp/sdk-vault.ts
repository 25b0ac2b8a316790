import { Countersign, CountersignError, VaultUnavailableError, type Clearance as SdkClearance } from "../../sdk/index.js";
import { VaultCallError, type Clearance, type ClearanceInput, type ExecutionReport, type GateVault } from "./vault-port.js";

/**
 * The gateway's vault port over the first-party SDK (src/sdk). The SDK holds to the project's outbound
 * rules itself (no redirects, a size cap on answers, a deadline per call plus the long poll's wait), so
 * the platform fetch is used as it is: wrapping it in boundedFetch would only stream every answer
 * through a second reader. The SDK's typed errors become VaultCallError: VaultUnavailableError and
 * anything unexpected are "unavailable", the vault's 4xx problems are "refused" with their code.
 */
export class SdkVault implements GateVault {
  private readonly cs: Countersign;

  constructor(opts: { url: string; apiKey: string; timeoutMs: number }) {
    this.cs = new Countersign({ baseUrl: opts.url, apiKey: opts.apiKey, timeoutMs: opts.timeoutMs });
  }

  async requestClearance(input: ClearanceInput, signal?: AbortSignal): Promise<Clearance> {
    return guarded(async () =>
      clearanceOf(await this.cs.requestClearance({ tool: input.toolName, args: input.toolArgs, agentId: input.agentId, sessionId: input.sessionId }, { signal })),
    );
  }

  async clearanceStatus(requestId: string, waitSeconds: number, signal?: AbortSignal): Promise<Clearance> {
    const wait = Math.max(0, Math.min(60, Math.floor(waitSeconds)));
    return guarded(async () => clearanceOf(await this.cs.clearanceStatus(requestId, { waitSeconds: wait, signal })));
  }

  async consume(token: string, toolName: string, toolArgs: Record<string, unknown>): Promise<{ jti: string }> {
    return guarded(async () => ({ jti: (await this.cs.consume(token, { tool: toolName, args: toolArgs })).jti }));
  }

  async reportExecution(jti: string, report: ExecutionReport): Promise<void> {
    await guarded(() =>
      this.cs.reportExecution(jti, {
        status: report.status,
        outcome: report.outcome,
        durationMs: report.durationMs,
        ...(report.responseSha256 ? { responseSha256: report.responseSha256 } : {}),
        ...(report.detail ? { detail: report.detail } : {}),
      }),
    );
  }
}

async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof CountersignError && !(err instanceof VaultUnavailableError)) {
      throw new VaultCallError("refused", err.message, err.status ?? null, vaultCode(err));
    }
    const code = err instanceof CountersignError ? err.code : null;
    throw new VaultCallError("unavailable", `the vault is unavailable: ${(err as Error).message}`, (err as CountersignError).status ?? null, code);
  }
}

/** The vault's problem code where the SDK kept it (its token errors use their own short codes). */
function vaultCode(err: CountersignError): string {
  const problemCode = err.problem?.code;
  return typeof problemCode === "string" ? problemCode : err.code;
}

const STATUSES: ReadonlySet<string> = new Set(["processing", "pending_review", "approved", "denied"]);

function clearanceOf(c: SdkClearance): Clearance {
  // An unknown status is not a decision: it must never reach the gate as something it could act on.
  if (!STATUSES.has(c.status)) throw new VaultCallError("unavailable", `the vault answered an unknown clearance status ${JSON.stringify(String(c.status)).slice(0, 40)}`);
  return {
    requestId: c.requestId,
    status: c.status,
    token: c.token ?? null,
    reason: c.reason,
    reasonCode: c.reasonCode,
    toolName: c.toolName ?? "",
    toolArgsHash: c.toolArgsHash ?? "",
  };
}

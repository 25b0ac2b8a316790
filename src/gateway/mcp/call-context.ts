import type { Logger } from "pino";
import type { McpGatewayConfig } from "../../config/mcp-gateway-config.js";
import type { InFlightReports } from "./in-flight.js";
import type { GatewayMetrics } from "./metrics.js";
import type { PendingMemory } from "./pending-memory.js";
import type { Upstreams } from "./upstreams.js";
import type { GateVault } from "./vault-port.js";

/** What every call shares: one per gateway process. */
export interface GateDeps {
  config: McpGatewayConfig;
  vault: GateVault;
  upstreams: Upstreams;
  metrics: GatewayMetrics;
  log: Logger;
  reports: InFlightReports;
}

/** One tools/call as the agent's session sees it (session.ts builds it from the SDK's handler extra). */
export interface CallContext {
  /** The MCP session id (Mcp-Session-Id), or the stdio connection's own id: the clearance's session_id. */
  sessionId: string;
  agentId: string;
  pending: PendingMemory;
  /** The agent's cancellation of this call. */
  signal: AbortSignal;
  /** Whether the client declared URL-mode elicitation (capabilities.elicitation.url). */
  urlElicitation: boolean;
  /** Sends notifications/progress when the call carried a progressToken; otherwise does nothing. */
  progress(progress: number, total: number | undefined, message: string): Promise<void>;
  /** elicitation/create with mode "url", on this call's stream; resolves to the client's action. */
  elicitUrl(params: { message: string; url: string; elicitationId: string }, timeoutMs: number): Promise<string>;
  /** notifications/elicitation/complete for an elicitation sent earlier. */
  elicitationComplete(elicitationId: string): Promise<void>;
}

/** The review page of a request in the vault's console. */
export function consoleUrlOf(config: McpGatewayConfig, requestId: string): string {
  return `${config.vault.consoleUrl}/console#/reviews/${encodeURIComponent(requestId)}`;
}

import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import type { LedgerWriter } from "../ledger/store/ledger-writer.js";
import type { Outbox } from "../outbox/outbox.js";
import type { RequestLifecycle } from "../requests/lifecycle.js";
import type { ReviewSettingsCache } from "../requests/review-settings.js";
import type { ReviewService } from "../reviews/review-service.js";
import { ClaimKindHandler } from "./claim-review.js";
import { ClaimService } from "./claim-service.js";
import { NamespaceDirectory } from "./namespaces.js";
import { NonceStore } from "./nonce-store.js";
import { SignedRequests } from "./signed-requests.js";

/** The agent-identity layer as the server uses it (built by src/main/services.ts). */
export interface AgentIdentityServices {
  directory: NamespaceDirectory;
  signed: SignedRequests;
  claims: ClaimService;
}

/**
 * The lifecycle hook for kind agent_claim: built before the lifecycle (which takes it as a
 * RequestKindHandler), from the outbox and the clock only.
 */
export function claimKindHandler(outbox: Outbox, clock: Clock): ClaimKindHandler {
  return new ClaimKindHandler(outbox, clock);
}

export function buildAgentIdentity(deps: {
  clock: Clock;
  control: Sql;
  tenantSql: (tenantId: string) => Promise<Sql>;
  lifecycle: RequestLifecycle;
  reviews: ReviewService;
  reviewSettings: ReviewSettingsCache;
  ledger: LedgerWriter;
  outbox: Outbox;
}): AgentIdentityServices {
  const directory = new NamespaceDirectory(deps.control, deps.clock);
  const nonces = new NonceStore(deps.clock);
  return {
    directory,
    signed: new SignedRequests({ clock: deps.clock, directory, nonces, tenantSql: deps.tenantSql }),
    claims: new ClaimService({ ...deps, nonces }),
  };
}

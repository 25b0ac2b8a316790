import type { Logger } from "pino";
import type { AgentIdentityServices } from "../agents/agent-identity-services.js";
import type { Clock } from "../clock.js";
import type { Config } from "../config/config.js";
import type { Secrets } from "../config/secrets.js";
import type { Database } from "../db/sql.js";
import type { FailClosedJudge } from "../judge/fail-closed-judge.js";
import type { VaultJudge } from "../judge/judge-factory.js";
import type { AnchorStore } from "../ledger/anchor/anchor-store.js";
import type { LedgerService } from "../ledger/ledger-service.js";
import type { LedgerLoop } from "../ledger/store/ledger-loop.js";
import type { LedgerWriter } from "../ledger/store/ledger-writer.js";
import type { Outbox } from "../outbox/outbox.js";
import type { OutboxAdmin } from "../outbox/outbox-admin.js";
import type { OutboxWorker } from "../outbox/outbox-worker.js";
import type { EmbeddingProvider } from "../policies/embeddings/embedding-provider.js";
import type { PolicyCache } from "../policies/policy-store.js";
import type { ClearanceService } from "../requests/clearance-service.js";
import type { ConsumeService } from "../requests/consume-service.js";
import type { ExecutionService } from "../requests/execution-service.js";
import type { LeaseSweeper } from "../requests/lease-sweeper.js";
import type { RequestLifecycle } from "../requests/lifecycle.js";
import type { MintService } from "../requests/mint-service.js";
import type { ClearanceQueue } from "../requests/queue.js";
import type { ReviewBus } from "../requests/review-bus.js";
import type { ReviewSettingsCache } from "../requests/review-settings.js";
import type { DecisionWaiters } from "../requests/waiters.js";
import type { ReviewReader } from "../reviews/review-reader.js";
import type { ReviewService } from "../reviews/review-service.js";
import type { PasskeyService } from "../passkeys/passkey-service.js";
import type { GrantService } from "../grants/grant-service.js";
import type { PolicyModeService } from "../policies/policy-mode-service.js";
import type { ReplayService } from "../requests/replay-service.js";
import type { ReviewSweeper } from "../reviews/review-sweeper.js";
import type { StepAuth } from "../stepauth/stepauth.js";
import type { ApiKeyAuthenticator } from "../tenancy/api-keys.js";
import type { ConsoleSessions } from "../tenancy/console-sessions.js";
import type { TenantDatabases } from "../tenancy/tenant-databases.js";
import type { KeyRegistry } from "../tokens/key-registry.js";
import type { Signer } from "../tokens/signer.js";
import type { TenantTokenKeys } from "../tokens/tenant-token-keys.js";
import type { RateLimiter } from "./rate-limit.js";

/**
 * What the server is given to answer requests. It is declared here, where it is used, and built by
 * the composition root (src/main/context.ts), which sits above: so the routes depend on types of
 * the layers below them, never on the code that assembles them.
 */

/** The outside world and the process's own resources: configuration, databases, keys, queue, judge. */
export interface AppPorts {
  config: Config;
  /** Credentials, resolved through config.secretsProvider; handed only to what uses them. */
  secrets: Secrets;
  log: Logger;
  clock: Clock;
  control: Database;
  tenantDbs: TenantDatabases;
  signer: Signer;
  signerGenerated: boolean;
  /** Signs ledger receipts and checkpoints; published in the JWKS with purpose "ledger". */
  ledgerSigner: Signer;
  keys: KeyRegistry;
  /** Which key signs each tenant's tokens; rotation and the tenant key sets (src/tokens/tenant-token-keys.ts). */
  tenantTokenKeys: TenantTokenKeys;
  anchorStore: AnchorStore;
  queue: ClearanceQueue;
  judge: FailClosedJudge;
  judgeKind: VaultJudge["kind"];
  /** Embeds text with the vault's own key, for work that belongs to no tenant. */
  embeddings: EmbeddingProvider;
  /**
   * Embeds one tenant's policy text (registration, document upload) with that tenant's own
   * `embedding_api_key` when its bundle gives one. The tenant's database must be open (authenticate did it).
   */
  embeddingsFor(tenantId: string): EmbeddingProvider;
}

/** The vault's own logic, built on the ports. */
export interface AppServices {
  auth: ApiKeyAuthenticator;
  consoleSessions: ConsoleSessions;
  rateLimiter: RateLimiter;
  policies: PolicyCache;
  reviewSettings: ReviewSettingsCache;
  /** Builds (hashes, signs, seals) the ledger event of every change. */
  ledger: LedgerWriter;
  /** Sequences, checkpoints and anchors every tenant's ledger in the background. */
  ledgerLoop: LedgerLoop;
  /** Ledger listings and proofs for the read endpoints. */
  ledgerService: LedgerService;
  /** Every change of a request's state: its row, ledger event, token and reports, group-committed. */
  lifecycle: RequestLifecycle;
  waiters: DecisionWaiters;
  /** Renews this process's leases on unfinished requests and takes over those of dead processes. */
  leaseSweeper: LeaseSweeper;
  clearance: ClearanceService;
  mint: MintService;
  consume: ConsumeService;
  /** Execution reports of burned tokens, and lost-consume recovery. */
  execution: ExecutionService;
  reviews: ReviewService;
  /** Reviewers' passkeys: enrolment, listing, removal, approval options (src/passkeys/). */
  passkeys: PasskeyService;
  reviewReader: ReviewReader;
  /** Scoped grants: creation (with an approval), listing, revoking (src/grants/). */
  grants: GrantService;
  /** Policy and tenant modes (enforce / shadow), each change a ledger event, webhook and notification. */
  policyModes: PolicyModeService;
  /** Replays a candidate policy over recorded requests (docs/shadow-mode.md#replay). */
  replay: ReplayService;
  /** Live review changes for SSE consoles and long polls. */
  reviewBus: ReviewBus;
  /** Expires pending reviews and sends reminders and escalations. */
  reviewSweeper: ReviewSweeper;
  /** Writes webhook deliveries and review notifications into the tenant's outbox, inside the caller's transaction. */
  outbox: Outbox;
  /** Webhook endpoints, notification channels and outbox listings for the admin routes. */
  outboxAdmin: OutboxAdmin;
  /** Delivers every tenant's outbox (webhooks, Slack, email, StepAuth callbacks) in the background. */
  outboxWorker: OutboxWorker;
  /** Countersign as a StepAuth authorizer: SP endpoints, senders, hub keysets (src/stepauth/). */
  stepauth: StepAuth;
  /** Agent identity (Sigilum profile): namespaces, signed requests, claims (src/agents/). */
  agents: AgentIdentityServices;
}

export interface AppContext extends AppPorts, AppServices {
  close(): Promise<void>;
}

import path from "node:path";
import type { Logger } from "pino";
import { ClearanceService } from "../requests/clearance-service.js";
import { ConsumeService } from "../requests/consume-service.js";
import { MintService } from "../requests/mint-service.js";
import { LeaseSweeper, newLeaseOwner } from "../requests/lease-sweeper.js";
import { MemoryClearanceQueue, type ClearanceQueue } from "../requests/queue.js";
import { TokenIssuer } from "../requests/token-issuer.js";
import { DecisionWaiters } from "../requests/waiters.js";
import { systemClock, type Clock } from "../clock.js";
import type { Config } from "../config/config.js";
import { migrate } from "../db/migrate.js";
import { checkPoolBudget } from "../db/pool-budget.js";
import { ensurePgDatabase, databaseNameOf, PgDatabase } from "../db/pg-database.js";
import { PgliteDatabase } from "../db/pglite-database.js";
import type { Database } from "../db/sql.js";
import { FailClosedJudge } from "../judge/fail-closed-judge.js";
import type { Judge } from "../judge/judge.js";
import type { EmbeddingProvider } from "../policies/embeddings/embedding-provider.js";
import { checkKnowledge, createVaultJudge, type VaultJudge } from "../judge/judge-factory.js";
import { createLogger } from "../log.js";
import { PolicyCache } from "../policies/policy-store.js";
import { RateLimiter } from "../http/rate-limit.js";
import { ReviewService } from "../reviews/review-service.js";
import { ReviewBus } from "../requests/review-bus.js";
import { ReviewReader } from "../reviews/review-reader.js";
import { ReviewAnnouncer } from "../reviews/review-announcer.js";
import { ReviewSweeper } from "../reviews/review-sweeper.js";
import { ConsoleSessions } from "../tenancy/console-sessions.js";
import { noOutbox, type ReviewOutbox } from "../reviews/review-outbox.js";
import { ReviewSettingsCache } from "../requests/review-settings.js";
import { Mailer } from "../outbox/mailer.js";
import { Outbox } from "../outbox/outbox.js";
import { defaultOutboxSettings, OutboxWorker } from "../outbox/outbox-worker.js";
import { ApiKeyAuthenticator } from "../tenancy/api-keys.js";
import { TenantDatabases } from "../tenancy/tenant-databases.js";
import { KeyRegistry } from "../tokens/key-registry.js";
import { loadLocalSigner, type Signer } from "../tokens/signer.js";
import type { AnchorStore } from "../ledger/anchor/anchor-store.js";
import type { LedgerLoop } from "../ledger/store/ledger-loop.js";
import type { LedgerWriter } from "../ledger/store/ledger-writer.js";
import { createLedgerParts } from "../ledger/ledger-parts.js";
import { LedgerService } from "../ledger/ledger-service.js";

/** Ports a test (or another entrypoint) may replace; everything else is built from config. */
export interface ContextOverrides {
  clock?: Clock;
  log?: Logger;
  signer?: Signer;
  /** Needed only with a `signer` that is not a LocalSigner (the ledger key is derived from a local one). */
  ledgerSigner?: Signer;
  queue?: ClearanceQueue;
  /** An anchor store built by the caller (tests: an S3 store with fixed credentials). */
  anchorStore?: AnchorStore;
  /** Replaces the judge behind the fail-closed wrapper; such a judge is always queued, never inline. */
  judge?: Judge;
}

export interface AppContext {
  config: Config;
  log: Logger;
  clock: Clock;
  control: Database;
  tenantDbs: TenantDatabases;
  signer: Signer;
  /** Signs ledger receipts and checkpoints; published in the JWKS with purpose "ledger". */
  ledgerSigner: Signer;
  ledger: LedgerWriter;
  anchorStore: AnchorStore;
  /** Sequences, checkpoints and anchors every tenant's ledger in the background. */
  ledgerLoop: LedgerLoop;
  /** Ledger listings and proofs for the read endpoints. */
  ledgerReader: LedgerService;
  signerGenerated: boolean;
  keys: KeyRegistry;
  auth: ApiKeyAuthenticator;
  consoleSessions: ConsoleSessions;
  reviewReader: ReviewReader;
  rateLimiter: RateLimiter;
  policies: PolicyCache;
  reviewSettings: ReviewSettingsCache;
  judge: FailClosedJudge;
  judgeKind: VaultJudge["kind"];
  /** Embeds policy text at registration and document upload. */
  embeddings: EmbeddingProvider;
  queue: ClearanceQueue;
  /** Renews this process's leases on unfinished requests and takes over those of dead processes. */
  leaseSweeper: LeaseSweeper;
  clearance: ClearanceService;
  reviews: ReviewService;
  /** Live review changes for SSE consoles and long polls. */
  reviewBus: ReviewBus;
  /** Expires pending reviews and sends reminders and escalations. */
  reviewSweeper: ReviewSweeper;
  /** Where review events go out (webhooks, Slack, email); none until an outbox is wired in. */
  reviewOutbox: ReviewOutbox;
  /** Writes webhook deliveries and review notifications into the tenant's outbox, inside the caller's transaction. */
  outbox: Outbox;
  /** Delivers every tenant's outbox (webhooks, Slack, email) in the background. */
  outboxWorker: OutboxWorker;
  waiters: DecisionWaiters;
  mint: MintService;
  consume: ConsumeService;
  close(): Promise<void>;
}

export async function openControlDatabase(config: Config): Promise<Database> {
  const target = config.database;
  if (target.kind === "postgres") {
    await ensurePgDatabase(target.url, databaseNameOf(target.url));
    return new PgDatabase(target.url, config.pools.controlMax);
  }
  return PgliteDatabase.open(target.dataDir === "memory://" ? "memory://" : path.join(target.dataDir, "control"));
}

export interface AdminContext {
  config: Config;
  control: Database;
  tenantDbs: TenantDatabases;
  close(): Promise<void>;
}

/** What the admin CLI needs: the migrated control database and tenant routing, no signing key. */
export async function openAdminContext(config: Config): Promise<AdminContext> {
  const control = await openControlDatabase(config);
  try {
    await migrate(control, "control");
  } catch (err) {
    await control.close().catch(() => {});
    throw err;
  }
  const tenantDbs = new TenantDatabases(control, config.database, config.pools.tenantMax);
  return {
    config,
    control,
    tenantDbs,
    async close() {
      await tenantDbs.closeAll();
      await control.close();
    },
  };
}

/**
 * The composition root: builds every port from config, migrates the control database, publishes
 * the signing key, and wires the services. Workers are started separately by startWorkers().
 */
export async function createContext(config: Config, overrides: ContextOverrides = {}): Promise<AppContext> {
  const clock = overrides.clock ?? systemClock;
  const log = overrides.log ?? createLogger(config);
  const admin = await openAdminContext(config);
  const { control, tenantDbs } = admin;
  let closeAnchor = async () => {};
  try {
    if (config.database.kind === "postgres") await warnOnPoolBudget(admin, log);
    const tenantSql = (tenantId: string) => tenantDbs.get(tenantId);
    const loaded = overrides.signer ? { signer: overrides.signer, generated: false } : loadLocalSigner({ ...config.signer, dataDir: config.dataDir });
    const keys = new KeyRegistry(control, clock);
    await keys.register(loaded.signer);
    const { ledgerSigner, ledger, anchorStore, ledgerLoop } = await createLedgerParts(config, {
      tokenSigner: loaded.signer,
      ledgerSigner: overrides.ledgerSigner,
      anchorStore: overrides.anchorStore,
      keys,
      tenantDbs,
      tenantSql,
      clock,
      log,
      onAnchorStore: (store) => (closeAnchor = () => store.close()),
    });
    const tokenSettings = { issuer: config.jwt.issuer, audience: config.jwt.audience, ttlSeconds: config.jwt.ttlSeconds };
    const policies = new PolicyCache(clock, config.caches.policyTtlMs);
    const reviewSettings = new ReviewSettingsCache(clock, config.caches.policyTtlMs);
    const outbox = new Outbox({ clock, tenantSql, transportKey: config.ledger.transportKey });
    const outboxWorker = new OutboxWorker({
      tenantIds: () => tenantDbs.listTenantIds(),
      tenantSql,
      clock,
      log,
      delivery: {
        clock,
        allowPrivateTargets: config.outbox.allowPrivateTargets,
        transportKey: config.ledger.transportKey,
        timeoutMs: 10_000,
        mailer: config.smtp ? new Mailer(config.smtp) : undefined,
      },
      settings: { ...defaultOutboxSettings, maxAttempts: config.outbox.maxAttempts },
    });
    const vaultJudge = createVaultJudge(config, { tenantSql, policies, log });
    const judge = new FailClosedJudge(overrides.judge ?? vaultJudge.judge, config.clearance.judgeTimeoutMs, log);
    // Not awaited here: a slow scan of many tenants must not delay start-up; it only logs.
    const knowledgeCheck =
      vaultJudge.kind === "in-process"
        ? checkKnowledge(control, tenantDbs, config.embeddings.model, log).catch((err) => log.error({ err }, "knowledge check failed"))
        : Promise.resolve();
    const queue = overrides.queue ?? new MemoryClearanceQueue(config.clearance.workers);
    const waiters = new DecisionWaiters();
    const leaseSweeper = new LeaseSweeper({
      tenantIds: () => tenantDbs.listTenantIds(),
      tenantSql,
      queue,
      log,
      lease: { owner: newLeaseOwner(), seconds: config.clearance.leaseSeconds },
      highWatermark: config.clearance.highWatermark,
    });
    const reviewBus = new ReviewBus(tenantSql, log);
    const consoleUrl = (requestId: string) => `${config.http.publicUrl}/console/#/reviews/${encodeURIComponent(requestId)}`;
    const reviewOutbox = () => context.reviewOutbox;
    const announcer = new ReviewAnnouncer(reviewOutbox, consoleUrl);
    const issuer = new TokenIssuer(loaded.signer, tokenSettings, clock);
    const clearance = new ClearanceService({
      tenantSql,
      judge,
      queue,
      leases: leaseSweeper,
      waiters,
      issuer,
      ledger,
      announcer,
      reviewChanged: (tenantId, requestId) => reviewBus.changed(tenantId, requestId),
      clock,
      log,
      reviewSettings,
      settings: {
        inline: !overrides.judge && vaultJudge.local && config.clearance.mode === "auto",
        syncWaitMs: config.clearance.syncWaitMs,
        highWatermark: config.clearance.highWatermark,
        maxJobAttempts: 5,
      },
    });
    const context: AppContext = {
      config,
      log,
      clock,
      control,
      tenantDbs,
      signer: loaded.signer,
      ledgerSigner,
      ledger,
      anchorStore,
      ledgerLoop,
      ledgerReader: new LedgerService({
        tenantSql,
        keys,
        ledgerSigner,
        loop: ledgerLoop,
        transportKey: config.ledger.transportKey,
        intervalMs: config.ledger.intervalMs,
      }),
      signerGenerated: loaded.generated,
      keys,
      auth: new ApiKeyAuthenticator(control, clock, config.caches.apiKeyTtlMs),
      consoleSessions: new ConsoleSessions(control, clock),
      reviewReader: new ReviewReader(tenantSql, clock),
      rateLimiter: new RateLimiter(config.rateLimit, clock),
      policies,
      reviewSettings,
      judge,
      judgeKind: vaultJudge.kind,
      embeddings: vaultJudge.embeddings,
      queue,
      leaseSweeper,
      clearance,
      reviews: new ReviewService({ tenantSql, clearance, issuer, ledger, waiters, bus: reviewBus, outbox: reviewOutbox, clock }),
      reviewSweeper: new ReviewSweeper({
        tenantIds: () => tenantDbs.listTenantIds(),
        tenantSql,
        ledger,
        outbox: reviewOutbox,
        waiters,
        bus: reviewBus,
        clock,
        log,
        intervalMs: config.reviews.sweepIntervalMs,
        consoleUrl,
      }),
      reviewBus,
      reviewOutbox: outbox,
      outbox,
      outboxWorker,
      waiters,
      mint: new MintService({ tenantSql, policies, reviewSettings, issuer, ledger, clock, maxAgeSeconds: config.clearance.mintMaxAgeSeconds }),
      consume: new ConsumeService({ tenantSql, keys, settings: tokenSettings, ledger, outbox: reviewOutbox, clock }),
      async close() {
        // No new take-overs, then let running jobs finish, then hand what is left to a peer or the next start.
        await leaseSweeper.stop();
        await queue.stop();
        // No job is running now: stop the condition worker threads, so a process that starts many vaults keeps none idle.
        await vaultJudge.close();
        await leaseSweeper.releaseAll();
        await ledgerLoop.stop();
        await outboxWorker.stop();
        await context.reviewSweeper.stop();
        reviewBus.close();
        await knowledgeCheck;
        await anchorStore.close();
        await admin.close();
      },
    };
    return context;
  } catch (err) {
    await closeAnchor().catch(() => {});
    await admin.close().catch(() => {});
    throw err;
  }
}


/** Says at start-up, before the server refuses connections under load, when the pools cannot fit it. */
async function warnOnPoolBudget(admin: AdminContext, log: Logger): Promise<void> {
  try {
    const tenants = (await admin.tenantDbs.listTenantIds()).length;
    const budget = await checkPoolBudget(admin.control, admin.config.pools, tenants);
    const { warning, ...figures } = budget;
    if (warning) log.warn({ poolBudget: figures }, warning);
    else log.info({ poolBudget: figures }, `PostgreSQL connection budget: ${budget.perProcess} per process; ${budget.processesThatFit} such processes fit the server`);
  } catch (err) {
    log.warn({ err }, "could not check the PostgreSQL connection budget");
  }
}

/** Starts the clearance workers and re-enqueues whatever a previous process left unfinished. */
export async function startWorkers(ctx: AppContext): Promise<number> {
  ctx.queue.start((job) => ctx.clearance.processJob(job));
  ctx.ledgerLoop.start();
  ctx.outboxWorker.start();
  ctx.reviewSweeper.start();
  const recovered = await ctx.clearance.recover(await ctx.tenantDbs.listTenantIds());
  ctx.leaseSweeper.start();
  return recovered;
}

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
import { StoredSecrets } from "../config/secret-seal.js";
import { adminSecretNames, loadSecrets, type Secrets } from "../config/secrets.js";
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
import { ReviewSweeper } from "../reviews/review-sweeper.js";
import { ConsoleSessions } from "../tenancy/console-sessions.js";
import { RequestLifecycle } from "../requests/lifecycle.js";
import { batchMetrics } from "../requests/batch-metrics.js";
import { ReviewSettingsCache } from "../requests/review-settings.js";
import { Mailer } from "../outbox/mailer.js";
import { Outbox } from "../outbox/outbox.js";
import { OutboxAdmin } from "../outbox/outbox-admin.js";
import { defaultOutboxSettings, OutboxWorker } from "../outbox/outbox-worker.js";
import { ApiKeyAuthenticator } from "../tenancy/api-keys.js";
import { TenantDatabases } from "../tenancy/tenant-databases.js";
import { KeyRegistry } from "../tokens/key-registry.js";
import { loadLocalSigner, LocalSigner, parseEd25519PrivateKey, type Signer } from "../tokens/signer.js";
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
  /** Credentials, resolved through config.secretsProvider; handed only to what uses them. */
  secrets: Secrets;
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
  ledgerService: LedgerService;
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
  /** Every change of a request's state: its row, ledger event, token and reports, group-committed. */
  lifecycle: RequestLifecycle;
  /** Writes webhook deliveries and review notifications into the tenant's outbox, inside the caller's transaction. */
  outbox: Outbox;
  /** Webhook endpoints, notification channels and outbox listings for the admin routes. */
  outboxAdmin: OutboxAdmin;
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
  secrets: Secrets;
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
  let secrets: Secrets;
  try {
    secrets = await loadSecrets(config.secretRefs, config.secretsProvider, adminSecretNames);
  } catch (err) {
    await control.close().catch(() => {});
    throw err;
  }
  // Tenant DSNs are stored as secret references: sealed with the sealing key, or resolved by the provider.
  const tenantDbs = new TenantDatabases(control, config.database, config.pools.tenantMax, new StoredSecrets(config.secretsProvider, secrets.sealingKey));
  return {
    config,
    secrets,
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
    // Only `serve` loads the token signing key; the admin commands never read it.
    const secrets: Secrets = { ...admin.secrets, ...(await loadSecrets(config.secretRefs, config.secretsProvider, ["signingKey"])) };
    await tenantDbs.sealStoredDsns(log);
    const tenantSql = (tenantId: string) => tenantDbs.get(tenantId);
    const loaded = overrides.signer
      ? { signer: overrides.signer, generated: false }
      : secrets.signingKey
        ? { signer: new LocalSigner(config.signer.keyId, parseEd25519PrivateKey(secrets.signingKey.text, secrets.signingKey.source)), generated: false }
        : loadLocalSigner({ keyId: config.signer.keyId, dataDir: config.dataDir });
    const keys = new KeyRegistry(control, clock);
    await keys.register(loaded.signer);
    const { ledgerSigner, ledger, anchorStore, ledgerLoop } = await createLedgerParts(config, {
      sealingKey: secrets.sealingKey,
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
    const outbox = new Outbox({ clock, tenantSql, sealingKey: secrets.sealingKey });
    const outboxWorker = new OutboxWorker({
      tenantIds: () => tenantDbs.listTenantIds(),
      tenantSql,
      clock,
      log,
      delivery: {
        clock,
        allowPrivateTargets: config.outbox.allowPrivateTargets,
        sealingKey: secrets.sealingKey,
        timeoutMs: 10_000,
        mailer: config.smtp ? new Mailer({ ...config.smtp, password: secrets.smtpPassword }) : undefined,
      },
      settings: { ...defaultOutboxSettings, maxAttempts: config.outbox.maxAttempts },
    });
    const vaultJudge = createVaultJudge(config, secrets, { tenantSql, policies, log });
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
    const issuer = new TokenIssuer(loaded.signer, tokenSettings, clock);
    const lifecycle = new RequestLifecycle({
      ledger,
      issuer,
      outbox,
      waiters,
      bus: reviewBus,
      clock,
      consoleUrl,
      batch: config.clearance.batch,
      batchObserver: batchMetrics,
    });
    const clearance = new ClearanceService({
      tenantSql,
      judge,
      queue,
      leases: leaseSweeper,
      waiters,
      issuer,
      lifecycle,
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
    const ledgerService = new LedgerService({
      tenantSql,
      keys,
      ledgerSigner,
      loop: ledgerLoop,
      sealingKey: secrets.sealingKey,
      intervalMs: config.ledger.intervalMs,
    });
    const context: AppContext = {
      config,
      secrets,
      log,
      clock,
      control,
      tenantDbs,
      signer: loaded.signer,
      ledgerSigner,
      ledger,
      anchorStore,
      ledgerLoop,
      ledgerService,
      signerGenerated: loaded.generated,
      keys,
      auth: new ApiKeyAuthenticator(control, clock, config.caches.apiKeyTtlMs),
      consoleSessions: new ConsoleSessions(control, clock),
      reviewReader: new ReviewReader({ clock, ledgerStatus: (sql, requestId) => ledgerService.requestLedgerStatus(sql, requestId) }),
      rateLimiter: new RateLimiter(config.rateLimit, clock),
      policies,
      reviewSettings,
      judge,
      judgeKind: vaultJudge.kind,
      embeddings: vaultJudge.embeddings,
      queue,
      leaseSweeper,
      clearance,
      reviews: new ReviewService({ clearance, lifecycle, clock }),
      reviewSweeper: new ReviewSweeper({
        tenantIds: () => tenantDbs.listTenantIds(),
        tenantSql,
        lifecycle,
        clock,
        log,
        intervalMs: config.reviews.sweepIntervalMs,
      }),
      reviewBus,
      outbox,
      outboxAdmin: new OutboxAdmin({
        outbox,
        clock,
        sealingKey: secrets.sealingKey,
        allowPrivateTargets: config.outbox.allowPrivateTargets,
        smtpConfigured: config.smtp !== undefined,
      }),
      outboxWorker,
      waiters,
      lifecycle,
      mint: new MintService({ policies, reviewSettings, issuer, lifecycle, clock, maxAgeSeconds: config.clearance.mintMaxAgeSeconds }),
      consume: new ConsumeService({ keys, settings: tokenSettings, lifecycle, clock }),
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

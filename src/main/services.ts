import { buildAgentIdentity, claimKindHandler } from "../agents/agent-identity-services.js";
import type { AppServices } from "../http/app-context.js";
import { RateLimiter } from "../http/rate-limit.js";
import { LedgerService } from "../ledger/ledger-service.js";
import { Mailer } from "../outbox/mailer.js";
import { Outbox } from "../outbox/outbox.js";
import { OutboxAdmin } from "../outbox/outbox-admin.js";
import { defaultOutboxSettings, OutboxWorker } from "../outbox/outbox-worker.js";
import { batchMetrics } from "../requests/batch-metrics.js";
import { ClearanceService } from "../requests/clearance-service.js";
import { ConsumeService } from "../requests/consume-service.js";
import { ExecutionService } from "../requests/execution-service.js";
import { LeaseSweeper, newLeaseOwner } from "../requests/lease-sweeper.js";
import { RequestLifecycle } from "../requests/lifecycle.js";
import { MintService } from "../requests/mint-service.js";
import { ReviewBus } from "../requests/review-bus.js";
import { ReviewSettingsCache } from "../requests/review-settings.js";
import { TokenIssuer } from "../requests/token-issuer.js";
import { DecisionWaiters } from "../requests/waiters.js";
import { ReviewReader } from "../reviews/review-reader.js";
import { ReviewService } from "../reviews/review-service.js";
import { PasskeyService } from "../passkeys/passkey-service.js";
import { resolveWebauthn } from "../config/webauthn-config.js";
import { ReviewSweeper } from "../reviews/review-sweeper.js";
import { StepAuth, stepAuthParts } from "../stepauth/stepauth.js";
import { ApiKeyAuthenticator } from "../tenancy/api-keys.js";
import { GrantMatcher } from "../grants/grant-matcher.js";
import { GrantService } from "../grants/grant-service.js";
import { CelPool } from "../policies/cel-pool.js";
import { PolicyModeService } from "../policies/policy-mode-service.js";
import { DEFAULT_REPLAY_SETTINGS, ReplayService } from "../requests/replay-service.js";
import { ConsoleSessions } from "../tenancy/console-sessions.js";
import { votersInForce } from "../tenancy/reviewers.js";
import { BundleTenantKeys } from "../tenancy/tenant-keys.js";
import type { BuiltPorts } from "./ports.js";

/**
 * Wires the services on the ports, in dependency order: each is built from finished parts only
 * (no closure reaches into a half-built context). Starting and stopping their loops is the
 * context's (context.ts).
 */
export function buildServices(built: BuiltPorts): AppServices {
  const { ports, ledger, ledgerLoop, policies } = built;
  const { config, secrets, clock, log, control, tenantDbs, keys, queue, judge } = ports;
  const tenantSql = (tenantId: string) => tenantDbs.get(tenantId);
  const tenantIds = () => tenantDbs.listTenantIds();
  const tokenSettings = { issuer: config.jwt.issuer, audience: config.jwt.audience, ttlSeconds: config.jwt.ttlSeconds };
  const reviewSettings = new ReviewSettingsCache(clock, config.caches.policyTtlMs);
  // Stateless over TenantSecrets' cache (the bundles' owner), so it matches the ledger writer's.
  const tenantKeys = new BundleTenantKeys(secrets.sealingKey, tenantDbs.tenantSecrets);
  const outbox = new Outbox({ clock, tenantSql, tenantKeys });
  // A witness's refusal (a fork, an inconsistent tree) becomes a webhook in the transaction that records it.
  built.witnessing?.setRefusalHandler((tx, tenantId, refusal) => outbox.tenantEvent(tx, tenantId, "ledger.witness_refused", { ...refusal }));
  // StepAuth's hub keys, decision signer, kind handler and callback deliverer: before the lifecycle and the outbox worker use them.
  const stepauthParts = stepAuthParts({ tenantKeys, clock, ledger, outbox, tenantSql, allowPrivateTargets: config.outbox.allowPrivateTargets, timeoutMs: 10_000 });
  const outboxWorker = new OutboxWorker({
    tenantIds,
    tenantSql,
    clock,
    log,
    delivery: {
      clock,
      allowPrivateTargets: config.outbox.allowPrivateTargets,
      tenantKeys,
      timeoutMs: 10_000,
      mailer: config.smtp ? new Mailer({ ...config.smtp, password: secrets.smtpPassword }) : undefined,
      callbacks: stepauthParts.callbacks,
    },
    settings: { ...defaultOutboxSettings, maxAttempts: config.outbox.maxAttempts },
  });
  const waiters = new DecisionWaiters();
  const leaseSweeper = new LeaseSweeper({
    tenantIds,
    tenantSql,
    queue,
    log,
    lease: { owner: newLeaseOwner(), seconds: config.clearance.leaseSeconds },
    highWatermark: config.clearance.highWatermark,
  });
  const reviewBus = new ReviewBus(tenantSql, log);
  const consoleUrl = (requestId: string) => `${config.http.publicUrl}/console/#/reviews/${encodeURIComponent(requestId)}`;
  const issuer = new TokenIssuer(ports.tenantTokenKeys, tokenSettings, clock);
  // Grant constraints run in their own small condition pool (threads start on first use): the judge's
  // pool may be in another process (VAULT_JUDGE_URL), and a grant must never wait on policy conditions.
  // Waiting for a worker (the first use starts one) is not part of the budget: half the judge's time limit, as the judge's own pool.
  const grantConditions = new CelPool({
    workers: Math.min(2, config.cel.workers),
    timeoutMs: config.cel.timeoutMs,
    queueWaitMs: Math.max(config.cel.timeoutMs, Math.floor(config.clearance.judgeTimeoutMs / 2)),
    log,
  });
  const grants = new GrantService({
    ledger,
    clock,
    maxSessionHours: config.clearance.grantMaxSessionHours,
    webhook: (tx, tenantId, type, data) => outbox.tenantEvent(tx, tenantId, type, data),
    conditions: grantConditions,
  });
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
    kinds: { stepauth: stepauthParts.kindHandler, agent_claim: claimKindHandler(outbox, clock) },
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
    grants: new GrantMatcher({ conditions: grantConditions, log, votersInForce: (tenantId, ids) => votersInForce(control, tenantId, ids) }),
    settings: {
      inline: built.inlineJudge,
      syncWaitMs: config.clearance.syncWaitMs,
      highWatermark: config.clearance.highWatermark,
      maxJobAttempts: 5,
      // Until a process claims it: a message normally arrives well within one visibility timeout.
      queuedLeaseSeconds: config.clearance.sqs?.visibilityTimeoutSeconds ?? config.clearance.leaseSeconds,
    },
  });
  const ledgerService = new LedgerService({
    keys,
    ledgerSigner: ports.ledgerSigner,
    loop: ledgerLoop,
    tenantKeys,
    intervalMs: config.ledger.intervalMs,
    witnessing: built.witnessing,
  });
  // Passkey-signed approvals: the relying party follows the public URL unless configured (the port is known by now).
  const passkeys = new PasskeyService({
    ledger,
    clock,
    settings: resolveWebauthn(config.webauthn, config.http.publicUrl),
    announce: (tx, tenantId, type, data) => outbox.tenantEvent(tx, tenantId, type, data),
  });
  const policyModes = new PolicyModeService({
    ledger,
    clock,
    announce: async (tx, tenantId, change) => {
      await outbox.tenantEvent(tx, tenantId, "policy.mode_changed", { ...change });
      await outbox.notifyModeChange(tx, tenantId, {
        scope: change.scope,
        policyId: change.policy_id,
        from: change.from,
        to: change.to,
        shadowDefault: change.shadow_default,
        previousShadowDefault: change.previous_shadow_default,
        actor: change.changed_by,
        reason: change.reason,
        eventUuid: change.ledger_event_uuid,
        consoleUrl: `${config.http.publicUrl}/console/#/policies${change.policy_id ? `/${encodeURIComponent(change.policy_id)}` : ""}`,
      });
    },
    invalidate: (tenantId) => policies.invalidate(tenantId),
  });
  // Replay shares the in-process judge's condition pool (fair queueing then covers live and replayed
  // requests together); with a remote or stub judge it has a small pool of its own, started on first use.
  const replayConditions = built.judgeParts?.conditions ?? new CelPool({ workers: Math.min(2, config.cel.workers), timeoutMs: config.cel.timeoutMs, queueWaitMs: Math.max(config.cel.timeoutMs, 5000), log });
  const replay = new ReplayService({
    parts: {
      conditions: replayConditions,
      retriever: built.judgeParts?.retriever ?? null,
      llm: built.judgeParts?.llm ?? null,
      credentials: built.judgeParts?.credentials ?? null,
      log,
    },
    ownsConditions: !built.judgeParts,
    policies,
    reviewSettings,
    ledger,
    clock,
    // The answer must come before the socket's idle timeout closes the connection.
    settings: { ...DEFAULT_REPLAY_SETTINGS, timeBudgetMs: Math.min(DEFAULT_REPLAY_SETTINGS.timeBudgetMs, Math.floor(config.http.limits.socketIdleTimeoutMs * 0.75)) },
  });
  const reviews = new ReviewService({ clearance, lifecycle, clock, passkeys, grants });
  return {
    auth: new ApiKeyAuthenticator(control, clock, config.caches.apiKeyTtlMs),
    consoleSessions: new ConsoleSessions(control, clock),
    rateLimiter: new RateLimiter(config.rateLimit, clock),
    policies,
    reviewSettings,
    ledger,
    ledgerLoop,
    ledgerService,
    lifecycle,
    waiters,
    leaseSweeper,
    clearance,
    mint: new MintService({ policies, reviewSettings, issuer, lifecycle, clock, maxAgeSeconds: config.clearance.mintMaxAgeSeconds }),
    consume: new ConsumeService({ keys, settings: tokenSettings, lifecycle, clock }),
    execution: new ExecutionService({ lifecycle, clock, reportTimeoutSeconds: config.clearance.executionReportTimeoutSeconds }),
    reviews,
    passkeys,
    grants,
    policyModes,
    replay,
    reviewReader: new ReviewReader({ clock, ledger: ledgerService, control }),
    reviewBus,
    reviewSweeper: new ReviewSweeper({ tenantIds, tenantSql, lifecycle, clock, log, intervalMs: config.reviews.sweepIntervalMs }),
    outbox,
    outboxAdmin: new OutboxAdmin({
      outbox,
      clock,
      tenantKeys,
      allowPrivateTargets: config.outbox.allowPrivateTargets,
      smtpConfigured: config.smtp !== undefined,
    }),
    outboxWorker,
    agents: buildAgentIdentity({ clock, control, tenantSql, lifecycle, reviews, reviewSettings, ledger, outbox }),
    stepauth: new StepAuth({
      ...stepauthParts,
      clearance,
      lifecycle,
      reviewSettings,
      control,
      clock,
      log,
      publicUrl: config.http.publicUrl,
      tenantIds,
      tenantSql,
      sweepIntervalMs: 15_000,
    }),
  };
}

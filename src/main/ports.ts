import type { Logger } from "pino";
import { systemClock, type Clock } from "../clock.js";
import { ConfigError, type Config } from "../config/config.js";
import { loadSecrets, type Secrets } from "../config/secrets.js";
import { checkPoolBudget } from "../db/pool-budget.js";
import type { AppPorts } from "../http/app-context.js";
import { FailClosedJudge } from "../judge/fail-closed-judge.js";
import { checkKnowledge, createVaultJudge, type VaultJudge } from "../judge/judge-factory.js";
import type { Judge } from "../judge/judge.js";
import type { AnchorStore } from "../ledger/anchor/anchor-store.js";
import { createLedgerParts } from "../ledger/ledger-parts.js";
import type { LedgerLoop } from "../ledger/store/ledger-loop.js";
import type { LedgerWriter } from "../ledger/store/ledger-writer.js";
import type { CheckpointWitnessing } from "../ledger/witnessing/checkpoint-witnessing.js";
import { createLogger } from "../log.js";
import { PolicyCache } from "../policies/policy-store.js";
import { MemoryClearanceQueue, type ClearanceQueue } from "../requests/queue.js";
import { SqsClearanceQueue } from "../requests/sqs-queue.js";
import { KeyRegistry } from "../tokens/key-registry.js";
import { openKmsSigner, type KmsSigner } from "../tokens/kms-signer.js";
import { TENANT_KEY_MARGIN_SECONDS, TenantTokenKeys } from "../tokens/tenant-token-keys.js";
import { loadLocalSigner, LocalSigner, parseEd25519PrivateKey, type Signer } from "../tokens/signer.js";
import type { AdminContext } from "./admin-context.js";

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

/**
 * The ports, and what building them produced that services need too: the ledger's writer and loop
 * come with its signer and anchor store, and the judge with its policy cache.
 */
export interface BuiltPorts {
  ports: AppPorts;
  ledger: LedgerWriter;
  ledgerLoop: LedgerLoop;
  /** C2SP witness cosigning (VAULT_LEDGER_WITNESSES); its refusal alert is wired to the outbox by services.ts. */
  witnessing?: CheckpointWitnessing;
  policies: PolicyCache;
  /** The in-process judge's parts (condition pool, retrieval, LLM), shared with replay; absent with a remote or stub judge. */
  judgeParts?: VaultJudge["parts"];
  /** Decide in the request handler: the judge needs no I/O (rules only). */
  inlineJudge: boolean;
  /** Stops the judge's condition worker threads. */
  closeJudge(): Promise<void>;
  /** The start-up knowledge scan, not awaited at start (a slow scan of many tenants must not delay it). */
  knowledgeCheck: Promise<void>;
}

/** Builds every port from config on an open admin context (control database, tenant routing). */
export async function buildPorts(config: Config, admin: AdminContext, overrides: ContextOverrides, onAnchorStore: (store: AnchorStore) => void): Promise<BuiltPorts> {
  const clock = overrides.clock ?? systemClock;
  const log = overrides.log ?? createLogger(config);
  const { control, tenantDbs } = admin;
  if (config.database.kind === "postgres") await warnOnPoolBudget(admin, log);
  // Only `serve` loads the token signing key; the admin commands never read it.
  const secrets: Secrets = { ...admin.secrets, ...(await loadSecrets(config.secretRefs, config.secretsProvider, ["signingKey"])) };
  await tenantDbs.sealStoredDsns(log);
  const tenantSql = (tenantId: string) => tenantDbs.get(tenantId);
  const kms = await openKmsSigners(config, overrides);
  // Remote services are checked before anything is written (a generated key, the anchor store): a start
  // that fails on an unreachable queue leaves nothing behind.
  let queue: ClearanceQueue;
  try {
    queue = overrides.queue ?? (await openClearanceQueue(config, log, clock));
  } catch (err) {
    kms.token?.close?.();
    kms.ledger?.close?.();
    throw err;
  }
  try {
    const loaded = overrides.signer
      ? { signer: overrides.signer, generated: false }
      : kms.token
        ? { signer: kms.token, generated: false }
        : secrets.signingKey
          ? { signer: new LocalSigner(config.signer.keyId, parseEd25519PrivateKey(secrets.signingKey.text, secrets.signingKey.source)), generated: false }
          : loadLocalSigner({ keyId: config.signer.keyId, dataDir: config.dataDir });
    // A retired tenant token key stays published until the last token it signed has expired.
    const keys = new KeyRegistry(control, clock, config.jwt.ttlSeconds + TENANT_KEY_MARGIN_SECONDS);
    await keys.register(loaded.signer);
    const tenantTokenKeys = new TenantTokenKeys(loaded.signer, keys, clock);
    const { ledgerSigner, ledger, anchorStore, ledgerLoop, witnessing } = await createLedgerParts(config, {
      sealingKey: secrets.sealingKey,
      tenantKeys: admin.tenantKeys,
      tokenSigner: loaded.signer,
      ledgerSigner: overrides.ledgerSigner ?? kms.ledger,
      anchorStore: overrides.anchorStore,
      keys,
      tenantDbs,
      tenantSql,
      clock,
      log,
      onAnchorStore,
    });
    const policies = new PolicyCache(clock, config.caches.policyTtlMs);
    const vaultJudge: VaultJudge = createVaultJudge(config, secrets, { tenantSql, policies, log, tenantKeys: admin.tenantKeys });
    const judge = new FailClosedJudge(overrides.judge ?? vaultJudge.judge, config.clearance.judgeTimeoutMs, log);
    const knowledgeCheck =
      vaultJudge.kind === "in-process"
        ? checkKnowledge(control, tenantDbs, config.embeddings.model, log).catch((err) => log.error({ err }, "knowledge check failed"))
        : Promise.resolve();
    return {
      ports: {
        config,
        secrets,
        log,
        clock,
        control,
        tenantDbs,
        signer: loaded.signer,
        signerGenerated: loaded.generated,
        ledgerSigner,
        keys,
        tenantTokenKeys,
        anchorStore,
        queue,
        judge,
        judgeKind: vaultJudge.kind,
        embeddings: vaultJudge.embeddings,
        embeddingsFor: vaultJudge.embeddingsFor,
      },
      ledger,
      ledgerLoop,
      witnessing,
      policies,
      judgeParts: vaultJudge.parts,
      // A judge the caller supplied may do I/O: it is always queued.
      inlineJudge: !overrides.judge && vaultJudge.local && config.clearance.mode === "auto",
      closeJudge: () => vaultJudge.close(),
      knowledgeCheck: knowledgeCheck.then(() => {}),
    };
  } catch (err) {
    // Nothing half-built stays connected after a failed start.
    await queue.stop().catch(() => {});
    kms.token?.close?.();
    kms.ledger?.close?.();
    throw err;
  }
}

/**
 * With VAULT_SIGNER_BACKEND=aws_kms, the token key and the ledger key in KMS, opened together (each
 * start-up check is a GetPublicKey round trip); a key a caller's override replaces is not opened.
 */
async function openKmsSigners(config: Config, overrides: ContextOverrides): Promise<{ token?: KmsSigner; ledger?: KmsSigner }> {
  const s = config.signer;
  if (s.backend !== "aws_kms") return {};
  const common = { aws: config.aws.clientConfig("kms"), endpoint: config.aws.describeEndpoint("kms"), maxInFlight: s.maxInFlight, timeoutMs: s.timeoutMs };
  const opened = await Promise.allSettled([
    overrides.signer ? undefined : openKmsSigner({ ...common, kid: s.keyId, kmsKeyId: s.kmsKeyId, variable: "VAULT_KMS_KEY_ID" }),
    overrides.ledgerSigner ? undefined : openKmsSigner({ ...common, kid: s.ledgerKeyId, kmsKeyId: s.ledgerKmsKeyId, variable: "VAULT_LEDGER_KMS_KEY_ID" }),
  ]);
  const failures = opened.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
  if (failures.length > 0) {
    for (const r of opened) if (r.status === "fulfilled") r.value?.close();
    // Both keys refused (an unreachable endpoint): one message naming both variables.
    if (failures.length === 1 || !failures.every((f) => f instanceof ConfigError)) throw failures[0];
    throw new ConfigError(["Invalid configuration:", ...failures.map((f) => (f as Error).message.replace(/^Invalid configuration:\n/, ""))].join("\n"));
  }
  const [token, ledger] = opened.map((r) => (r.status === "fulfilled" ? r.value : undefined));
  return { token, ledger };
}

/** SQS FIFO when VAULT_CLEARANCE_SQS_QUEUE_URL is set (checked now: reachable and FIFO), else in memory. */
async function openClearanceQueue(config: Config, log: Logger, clock: Clock): Promise<ClearanceQueue> {
  const { sqs, workers } = config.clearance;
  if (!sqs) return new MemoryClearanceQueue(workers);
  return SqsClearanceQueue.open(sqs, { aws: config.aws.clientConfig("sqs"), endpoint: config.aws.describeEndpoint("sqs"), workers, log, clock });
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

import type { Logger } from "pino";
import type { Clock } from "../clock.js";
import type { Config } from "../config/config.js";
import type { Sql } from "../db/sql.js";
import type { TenantDatabases } from "../tenancy/tenant-databases.js";
import { BundleTenantKeys, type TenantKeys } from "../tenancy/tenant-keys.js";
import type { KeyRegistry } from "../tokens/key-registry.js";
import { LocalSigner, type Signer } from "../tokens/signer.js";
import type { AnchorStore } from "./anchor/anchor-store.js";
import { createAnchorStore } from "./anchor/create-anchor-store.js";
import { AnchorExporter } from "./anchor/anchor-exporter.js";
import { LedgerLoop } from "./store/ledger-loop.js";
import { LedgerWriter } from "./store/ledger-writer.js";
import { LedgerSequencer } from "./store/sequencer.js";
import { assertSealingKeyPresent } from "./store/startup-checks.js";
import { CheckpointWitnessing } from "./witnessing/checkpoint-witnessing.js";
import { ConfigError } from "../config/config-error.js";

export interface LedgerParts {
  ledgerSigner: Signer;
  ledger: LedgerWriter;
  anchorStore: AnchorStore;
  ledgerLoop: LedgerLoop;
  /** Cosigning by C2SP witnesses; undefined when VAULT_LEDGER_WITNESSES lists none. */
  witnessing?: CheckpointWitnessing;
}

/**
 * The ledger's half of the composition root: its key (published in JWKS), the event writer, the
 * anchor store (checked before anything starts) and the sequencing loop. `onAnchorStore` lets the
 * caller close the store if a later start-up step fails.
 */
export async function createLedgerParts(
  config: Config,
  deps: {
    /** Seals ledger entry bodies at rest (VAULT_TRANSPORT_KEY_BASE64); without it they are stored as JSON. */
    sealingKey: Buffer | undefined;
    /**
     * Each tenant's keys (its bundle's ledger key over `sealingKey`). Default: built from `sealingKey`
     * and the bundles tenantDbs reads, which is what the composition root builds too.
     */
    tenantKeys?: TenantKeys;
    tokenSigner: Signer;
    ledgerSigner?: Signer;
    anchorStore?: AnchorStore;
    keys: KeyRegistry;
    tenantDbs: TenantDatabases;
    tenantSql: (tenantId: string) => Promise<Sql>;
    clock: Clock;
    log: Logger;
    onAnchorStore: (store: AnchorStore) => void;
  },
): Promise<LedgerParts> {
  const { clock, log, tenantDbs } = deps;
  const ledgerSigner = ledgerSignerFor(deps.tokenSigner, deps.ledgerSigner);
  await deps.keys.register(ledgerSigner, "ledger");
  const tenantKeys = deps.tenantKeys ?? new BundleTenantKeys(deps.sealingKey, tenantDbs.tenantSecrets);
  const ledger = new LedgerWriter(ledgerSigner, tenantKeys, clock);
  // Before the anchor store is touched: a witness key that does not parse stops the start with nothing written.
  const witnessing = createWitnessing(config, clock, log);
  // Static credentials from the config's environment (AWS_ACCESS_KEY_ID...), else the SDK's default chain.
  const anchorStore = deps.anchorStore ?? (await createAnchorStore(config.ledger.anchor, { credentials: config.aws.clientConfig("s3").credentials }));
  deps.onAnchorStore(anchorStore);
  // Start-up refuses an anchor store that cannot hold the ledger (e.g. a bucket without versioning).
  await anchorStore.checkReady();
  for (const tenantId of await tenantDbs.listTenantIds()) await anchorStore.checkReady(tenantId);
  await assertSealingKeyPresent(tenantDbs, deps.sealingKey, tenantKeys, log);
  const ledgerLoop = new LedgerLoop({
    tenantIds: () => tenantDbs.listTenantIds(),
    tenantSql: deps.tenantSql,
    sequencer: new LedgerSequencer(ledgerSigner, clock, {
      batchSize: config.ledger.batchSize,
      checkpointEveryMs: Math.min(config.ledger.intervalMs, 1000),
      mmdSeconds: Math.max(1, Math.ceil(config.ledger.intervalMs / 1000)),
    }),
    exporter: new AnchorExporter(anchorStore, clock, config.database.kind === "postgres"),
    anchor: anchorStore,
    clock,
    log,
    intervalMs: config.ledger.intervalMs,
    originBase: config.ledger.origin,
    witnessing,
  });
  return { ledgerSigner, ledger, anchorStore, ledgerLoop, witnessing };
}

function createWitnessing(config: Config, clock: Clock, log: Logger): CheckpointWitnessing | undefined {
  const settings = config.ledger.witnessing;
  if (settings.witnesses.length === 0) return undefined;
  try {
    return new CheckpointWitnessing(settings, { clock, log });
  } catch (err) {
    throw new ConfigError(`Invalid configuration:\n  VAULT_LEDGER_WITNESSES: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** The ledger key: given, or derived from the local token key under the kid `<token kid>.ledger`. */
function ledgerSignerFor(tokenSigner: Signer, given: Signer | undefined): Signer {
  if (given) return given;
  if (tokenSigner instanceof LocalSigner) return tokenSigner.derive(`${tokenSigner.kid}.ledger`, "ledger signing key v1");
  throw new Error("a non-local token signer needs an explicit ledger signer");
}

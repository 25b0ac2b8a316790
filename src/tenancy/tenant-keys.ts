import type { TenantBundle, TenantSecrets } from "./tenant-secrets.js";

/** What a sealing key protects: ledger entry bodies, or the outbox's webhook secrets and Slack URLs. */
export type SealingPurpose = "ledger" | "webhook";

/**
 * The keys for one tenant and purpose. `seal`: what new values are sealed with (absent: stored as
 * given, as without VAULT_TRANSPORT_KEY_BASE64). `open`: every key a stored value may be sealed
 * with, tried in order (GCM authentication tells a wrong key): the tenant's current key, its
 * previous keys, then the vault's own, under which the tenant's older values were sealed.
 */
export interface SealingKeys {
  seal?: Buffer;
  open: readonly Buffer[];
}

/** A tenant's own model credentials, when its bundle gives them; absent fields mean "the vault's". */
export interface ModelKeys {
  llmApiKey?: string;
  embeddingApiKey?: string;
}

/**
 * Which keys serve a tenant. Synchronous and allocation-free on a hit: it runs on every decision
 * (sealing the ledger body) and every delivery.
 */
export interface TenantKeys {
  sealingKeysFor(tenantId: string, purpose: SealingPurpose): SealingKeys;
  modelKeysFor(tenantId: string): ModelKeys;
}

const NO_MODEL_KEYS: ModelKeys = Object.freeze({});

/**
 * TenantKeys from the tenants' Secrets Manager bundles (TenantSecrets.latest: the bundle read when
 * the tenant's database was opened, which always happens first), over the vault's own sealing key
 * (VAULT_TRANSPORT_KEY_BASE64). A tenant without a bundle, or whose bundle gives no key for a
 * purpose, gets the vault's key. Without TENANT_SECRET_PREFIX (`bundles` absent) every tenant does.
 */
export class BundleTenantKeys implements TenantKeys {
  private readonly globalKeys: SealingKeys;
  /** Per bundle object: a refreshed bundle is a new object, so a rotation is seen at once. */
  private readonly derived = new WeakMap<TenantBundle, { ledger: SealingKeys; webhook: SealingKeys; model: ModelKeys }>();

  constructor(
    globalSealingKey: Buffer | undefined,
    private readonly bundles: Pick<TenantSecrets, "latest"> | undefined,
  ) {
    this.globalKeys = Object.freeze({ seal: globalSealingKey, open: Object.freeze(globalSealingKey ? [globalSealingKey] : []) });
  }

  sealingKeysFor(tenantId: string, purpose: SealingPurpose): SealingKeys {
    const bundle = this.bundles?.latest(tenantId);
    return bundle ? this.keysOf(bundle)[purpose] : this.globalKeys;
  }

  modelKeysFor(tenantId: string): ModelKeys {
    const bundle = this.bundles?.latest(tenantId);
    return bundle ? this.keysOf(bundle).model : NO_MODEL_KEYS;
  }

  private keysOf(bundle: TenantBundle) {
    let keys = this.derived.get(bundle);
    if (!keys) {
      keys = {
        ledger: this.withGlobal(bundle.ledgerTransportKey, bundle.previousLedgerTransportKeys),
        webhook: this.withGlobal(bundle.webhookSealingKey, bundle.previousWebhookSealingKeys),
        model: Object.freeze({ llmApiKey: bundle.llmApiKey, embeddingApiKey: bundle.embeddingApiKey }),
      };
      this.derived.set(bundle, keys);
    }
    return keys;
  }

  private withGlobal(current: Buffer | undefined, previous: readonly Buffer[]): SealingKeys {
    const open: Buffer[] = [];
    for (const key of [current, ...previous, ...this.globalKeys.open]) {
      if (key && !open.some((k) => k.equals(key))) open.push(key);
    }
    return Object.freeze({ seal: current ?? this.globalKeys.seal, open: Object.freeze(open) });
  }
}

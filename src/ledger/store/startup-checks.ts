import type { Logger } from "pino";
import { ConfigError } from "../../config/config.js";
import type { TenantDatabases } from "../../tenancy/tenant-databases.js";
import type { TenantKeys } from "../../tenancy/tenant-keys.js";

/**
 * Refuses to start without VAULT_TRANSPORT_KEY_BASE64 when a tenant that has no ledger key of its
 * own (bundle `ledger_transport_key_base64`) has an encrypted newest ledger event: the vault would
 * otherwise go on writing new bodies in plaintext beside encrypted ones and could read neither its
 * ledger nor its proofs. A tenant database that cannot be reached is logged, not fatal, as at recovery.
 */
export async function assertSealingKeyPresent(tenantDbs: TenantDatabases, sealingKey: Buffer | undefined, keys: TenantKeys, log: Logger): Promise<void> {
  if (sealingKey) return;
  for (const tenantId of await tenantDbs.listTenantIds()) {
    let sealed = false;
    try {
      const sql = await tenantDbs.get(tenantId);
      // Opening the database read the tenant's bundle: a tenant with its own key seals with it.
      if (keys.sealingKeysFor(tenantId, "ledger").seal) continue;
      const [newest] = await sql.query<{ sealed: boolean }>("SELECT starts_with(body, 'aes256gcm:') AS sealed FROM ledger_events ORDER BY seq DESC LIMIT 1");
      sealed = newest?.sealed === true;
    } catch (err) {
      log.error({ err, tenantId }, "could not check this tenant's ledger encryption at start-up");
      continue;
    }
    if (sealed) {
      throw new ConfigError(
        `Invalid configuration:\n  VAULT_TRANSPORT_KEY_BASE64: tenant ${tenantId}'s ledger is encrypted; start the vault with the same key (without it, new entries would be stored in plaintext and the ledger could not be read)`,
      );
    }
  }
}

import type { AppContext } from "./context.js";
import { AppError } from "../errors.js";
import { countTenants, registerTenant, tenantsWithoutAdminKey } from "../tenancy/tenants.js";

export type BootstrapResult =
  /** keylessTenantId: tenant `default` exists without an active admin key, so the operator needs a hint. */
  | { created: false; keylessTenantId?: string }
  | { created: true; tenantId: string; apiKey: string; printed: boolean };

/**
 * First start: with VAULT_BOOTSTRAP_API_KEY, tenant `default` gets that key (admin). Without it, an
 * embedded vault creates `default` with a fresh admin key, which the caller shows once.
 * A server-backed vault without the variable creates nothing: operators use the CLI.
 * The tenant and its key are committed together; its database is provisioned by the caller, after the
 * key is shown, so a crash during provisioning cannot lose the only copy of the key.
 */
export async function bootstrapDefaultTenant(ctx: AppContext): Promise<BootstrapResult> {
  if ((await countTenants(ctx.control)) > 0) return { created: false, keylessTenantId: (await tenantsWithoutAdminKey(ctx.control, "default"))[0] };
  const given = ctx.secrets.bootstrapApiKey;
  // Without a given key the fresh one must be shown, or nobody could ever use the tenant.
  if (!given && (ctx.config.database.kind !== "pglite" || !ctx.config.bootstrap.printKey)) return { created: false };
  try {
    const tenant = await registerTenant(ctx.control, ctx.tenantDbs, { name: "default", adminKey: given });
    return { created: true, tenantId: tenant.tenantId, apiKey: tenant.adminKey.apiKey, printed: !given };
  } catch (err) {
    // Another vault process bootstrapped the same database first.
    if (err instanceof AppError && err.code === "bad_request") return { created: false };
    throw err;
  }
}

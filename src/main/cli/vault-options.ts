import type { Command } from "commander";
import type { VaultOptions } from "./vault-session.js";

/** --url and --api-key (global, see program.ts) and the command's own --tenant. */
export function vaultOptionsOf(command: Command): VaultOptions {
  const opts = command.optsWithGlobals<{ url?: string; apiKey?: string; tenant?: string }>();
  return { url: opts.url, apiKey: opts.apiKey, tenant: opts.tenant };
}

/** The option text shared by commands that go through withVault(). */
export const TENANT_OPTION_TEXT =
  "the tenant's id; needed only when no vault runs and the database holds several tenants, none named default (with a vault, the API key names the tenant, and this must match it)";

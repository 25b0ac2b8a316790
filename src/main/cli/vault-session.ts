import type { AdminContext } from "../admin-context.js";
import type { VaultApi } from "./vault-api.js";

/** Global and per-command options that choose the vault a command talks to. */
export interface VaultOptions {
  /** --url, else COUNTERSIGN_URL. */
  url?: string;
  /** --api-key, else COUNTERSIGN_API_KEY. */
  apiKey?: string;
  /** --tenant: needed only when no vault runs (the API key names the tenant otherwise). */
  tenant?: string;
}

/**
 * Runs `fn` against the running vault's API when one answers, else against a vault built in-process
 * over the database. (Stub: the CLI helper implements it.)
 */
export async function withVault<T>(_opts: VaultOptions, _fn: (vault: VaultApi) => Promise<T>): Promise<T> {
  throw new Error("withVault: not implemented yet");
}

/** Runs `fn` with the control database and tenant routing: commands with no HTTP counterpart. (Stub.) */
export async function withAdminContext<T>(_fn: (ctx: AdminContext) => Promise<T>): Promise<T> {
  throw new Error("withAdminContext: not implemented yet");
}

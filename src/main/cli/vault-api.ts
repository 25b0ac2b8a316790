/**
 * How CLI commands talk to a vault: always through its HTTP API, either a running vault's
 * (--url / COUNTERSIGN_URL) or, when none runs, one built in-process over the database (src/main/cli/vault-session.ts).
 * A command is written once, against the API.
 */
export interface VaultApi {
  /** Where the command runs, for messages: a URL, or "the database in ./data (no vault running)". */
  readonly target: string;
  /** A local session's temporary admin key (revoked when the command ends), left out of key listings. */
  readonly sessionKeyId?: string;
  request<T = unknown>(
    method: "GET" | "POST" | "PUT" | "DELETE",
    path: string,
    opts?: { body?: unknown; query?: Record<string, string | number | boolean | undefined> },
  ): Promise<T>;
}

/** A problem+json answer from the vault. */
export class VaultApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly body: unknown,
  ) {
    super(`${detail} (${code}, HTTP ${status})`);
  }
}

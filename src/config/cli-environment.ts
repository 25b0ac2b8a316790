/**
 * The variables the CLI reads for itself, before (or without) loading the vault's configuration:
 * which vault to talk to, with which key, and whether to show stack traces. Kept apart from
 * env-schema.ts so `--help`, `--version` and remote commands need not load the whole configuration.
 */
export interface CliEnvironment {
  /** COUNTERSIGN_URL. */
  url: string | undefined;
  /** COUNTERSIGN_API_KEY. */
  apiKey: string | undefined;
  /** COUNTERSIGN_DEBUG=1: unexpected errors print their stack trace. */
  debug: boolean;
  /** VAULT_PORT (default 8000): where a vault on this machine listens; undefined for 0 or an invalid value (nothing to probe). */
  localVaultPort: number | undefined;
}

const nonEmpty = (value: string | undefined) => (value === undefined || value === "" ? undefined : value);

export function cliEnvironment(env: NodeJS.ProcessEnv = process.env): CliEnvironment {
  const port = Number(nonEmpty(env.VAULT_PORT) ?? 8000);
  return {
    url: nonEmpty(env.COUNTERSIGN_URL),
    apiKey: nonEmpty(env.COUNTERSIGN_API_KEY),
    debug: env.COUNTERSIGN_DEBUG === "1",
    localVaultPort: Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined,
  };
}

import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { AwsSettings } from "./aws.js";
import { ConfigError } from "./config-error.js";
import { loadConfig, type Config } from "./config.js";

export type EnvMap = Record<string, string | undefined>;

/** How long one read of a secret may take, retry included. Start-up and a tenant's first request both wait on it. */
export const SECRET_READ_TIMEOUT_MS = 4000;

/**
 * A secret that cannot be read or has the wrong shape. `reason` is short and safe to show an API
 * client (what went wrong, never a value, no internal address); `detail` adds the SDK's message for
 * operators (the CLI's start-up error).
 */
export class SecretReadError extends Error {
  constructor(
    readonly reason: string,
    readonly detail = reason,
  ) {
    super(detail);
  }
}

export function secretsManagerClient(aws: AwsSettings, timeoutMs = SECRET_READ_TIMEOUT_MS): SecretsManagerClient {
  return new SecretsManagerClient({
    ...aws.clientConfig("secrets_manager"),
    // One retry: a second failure is answered at once (a clear error, or the tenant's 503) rather than after more backoff.
    maxAttempts: 2,
    // Without throwOnRequestTimeout the SDK only logs a warning when requestTimeout passes and keeps waiting.
    requestHandler: { connectionTimeout: timeoutMs, requestTimeout: timeoutMs, throwOnRequestTimeout: true },
  });
}

/** GetSecretValue of `name`: its SecretString and version. Errors say why, never what the secret holds. */
export async function readSecretString(client: SecretsManagerClient, name: string, timeoutMs = SECRET_READ_TIMEOUT_MS): Promise<{ text: string; versionId?: string }> {
  let answer;
  try {
    answer = await client.send(new GetSecretValueCommand({ SecretId: name }), { abortSignal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new SecretReadError(reasonOf(err), `${reasonOf(err)} (${describeError(err)})`);
  }
  if (typeof answer.SecretString !== "string") throw new SecretReadError("it holds no SecretString (binary secrets are not supported)");
  return { text: answer.SecretString, versionId: answer.VersionId };
}

/** The secret's text as a JSON object; the error names what is wrong, never the text. */
export function parseSecretObject(text: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new SecretReadError("its SecretString is not valid JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new SecretReadError("its SecretString is not a JSON object");
  return parsed as Record<string, unknown>;
}

/**
 * AWS_SECRET_NAME: the JSON bundle of that name in Secrets Manager, merged over `env` (the bundle
 * wins), so the configuration of the vault and the judge is read from one map as before. Values must be
 * strings (numbers and booleans are taken as their text). Without AWS_SECRET_NAME, `env` is returned
 * as it is. Anything unreadable stops start-up with a ConfigError naming the variable and the endpoint.
 */
export async function applySecretBundle(env: EnvMap, opts: { timeoutMs?: number } = {}): Promise<EnvMap> {
  const name = env.AWS_SECRET_NAME?.trim();
  if (!name) return env;
  const aws = new AwsSettings(env);
  const refuse = (why: string) =>
    new ConfigError(`Invalid configuration:\n  AWS_SECRET_NAME: secret "${name}" at ${aws.describeEndpoint("secrets_manager")} ${why}`);
  const client = secretsManagerClient(aws, opts.timeoutMs);
  let object: Record<string, unknown>;
  try {
    object = parseSecretObject((await readSecretString(client, name, opts.timeoutMs)).text);
  } catch (err) {
    if (err instanceof SecretReadError) throw refuse(`cannot be used: ${err.detail}`);
    throw err;
  } finally {
    client.destroy();
  }
  const bundle: Record<string, string> = {};
  for (const [key, value] of Object.entries(object)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw refuse(`has a key that is not a variable name: ${JSON.stringify(key.slice(0, 64))}`);
    if (typeof value === "string") bundle[key] = value;
    else if (typeof value === "number" || typeof value === "boolean") bundle[key] = String(value);
    // The key is named, the value never is: it may be the one thing in the bundle that must not leak.
    else throw refuse(`has a value for ${key} that is not a string, number or boolean`);
  }
  return { ...env, ...bundle };
}

/** A short, client-safe reason: the error's kind, never its message (which may hold an internal address). */
function reasonOf(err: unknown): string {
  const name = errorName(err);
  if (name === "ResourceNotFoundException") return "does not exist";
  if (name === "AccessDeniedException") return "is not readable with these credentials (access denied)";
  if (name === "DecryptionFailure") return "cannot be decrypted (its KMS key is not usable)";
  if (name === "TimeoutError" || name === "AbortError" || name === "RequestTimeout") return "could not be read in time";
  if (/^E[A-Z]+$/.test(name) || name === "NetworkingError") return "could not be read: Secrets Manager is unreachable";
  return `could not be read (${name})`;
}

function errorName(err: unknown): string {
  if (!(err instanceof Error)) return "error";
  const code = (err as { code?: unknown }).code;
  return err.name === "Error" && typeof code === "string" ? code : err.name;
}

function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.message ? `${errorName(err)}: ${err.message.slice(0, 300)}` : errorName(err);
}

/**
 * The configuration of every command that reads one (serve, judge, the admin commands): the process
 * environment, with the AWS_SECRET_NAME bundle from Secrets Manager merged over it when that is set.
 */
export async function loadStartupConfig(env: EnvMap = process.env): Promise<Config> {
  return loadConfig(await applySecretBundle(env));
}

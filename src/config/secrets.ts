import { ConfigError } from "./config-error.js";
import { SecretUnresolvedError, type SecretReference, type SecretsProvider } from "./secrets-provider.js";

/**
 * Every credential the vault holds, apart from Config (as atproto ozone's config/secrets.ts keeps them):
 * Config says where each secret lives (a reference, see secrets-provider.ts) and can be logged or
 * printed; Secrets holds the values and is handed only to what uses them.
 */
export interface Secrets {
  /** The token signing key as given (PEM or base64), and the variable it came from, for key errors. */
  signingKey?: { text: string; source: string };
  /**
   * AES-256-GCM key (VAULT_TRANSPORT_KEY_BASE64) that seals what the vault keeps at rest: ledger entry
   * bodies, webhook signing secrets and Slack URLs, and tenant DSNs in the control database.
   */
  sealingKey?: Buffer;
  llmApiKey?: string;
  /** The embedding endpoint's key: EMBEDDING_API_KEY, or the LLM's key when embeddings go to the LLM's own endpoint. */
  embeddingApiKey?: string;
  /** What the vault sends to VAULT_JUDGE_URL. */
  judgeApiKey?: string;
  /** What the `countersign judge` service requires of its callers. */
  judgeServiceApiKey?: string;
  smtpPassword?: string;
  /** The admin key tenant `default` gets on first start. */
  bootstrapApiKey?: string;
}

export type SecretName = keyof Secrets;

/** Where each secret lives; only the secrets that are configured have one. */
export type SecretReferences = Partial<Record<SecretName, SecretReference>>;

/** The variable each secret is configured with, named in errors (never the value). */
export const secretVariables: Record<SecretName, string> = {
  signingKey: "VAULT_PRIVATE_KEY_BASE64",
  sealingKey: "VAULT_TRANSPORT_KEY_BASE64",
  llmApiKey: "LLM_API_KEY",
  embeddingApiKey: "EMBEDDING_API_KEY",
  judgeApiKey: "VAULT_JUDGE_API_KEY",
  judgeServiceApiKey: "JUDGE_API_KEY",
  smtpPassword: "SMTP_PASSWORD",
  bootstrapApiKey: "VAULT_BOOTSTRAP_API_KEY",
};

/** What the admin commands need: everything but the token signing key, which only `serve` loads. */
export const adminSecretNames: readonly SecretName[] = (Object.keys(secretVariables) as SecretName[]).filter((n) => n !== "signingKey");

/**
 * Resolves every configured secret (or those named in `only`) through the provider. A secret that cannot be resolved, or a key
 * of the wrong shape, stops start-up naming the variable and the reference, never a value.
 */
export async function loadSecrets(refs: SecretReferences, provider: SecretsProvider, only?: readonly SecretName[]): Promise<Secrets> {
  const names = (Object.keys(refs) as SecretName[]).filter((name) => !only || only.includes(name));
  const values = await Promise.all(names.map((name) => resolveNamed(provider, name, refs[name]!)));
  // Only resolved secrets become keys: merging two partial loads must not blank out the other's values.
  const secrets: Secrets = {};
  names.forEach((name, i) => {
    const value = values[i]!;
    if (name === "signingKey") secrets.signingKey = { text: value, source: signingKeySource(refs.signingKey!) };
    else if (name === "sealingKey") secrets.sealingKey = parseSealingKey(value);
    else secrets[name] = value;
  });
  return secrets;
}

async function resolveNamed(provider: SecretsProvider, name: SecretName, reference: SecretReference): Promise<string> {
  try {
    return await provider.resolve(reference);
  } catch (err) {
    if (err instanceof SecretUnresolvedError) throw new ConfigError(`Invalid configuration:\n  ${variableOf(name, reference)}: ${err.message}`);
    throw err;
  }
}

function variableOf(name: SecretName, reference: SecretReference): string {
  return name === "signingKey" ? signingKeySource(reference) : secretVariables[name];
}

/** The signing key comes from a file when VAULT_PRIVATE_KEY_FILE names one. */
function signingKeySource(reference: SecretReference): string {
  return reference.startsWith("file:") ? "VAULT_PRIVATE_KEY_FILE" : "VAULT_PRIVATE_KEY_BASE64";
}

function parseSealingKey(text: string): Buffer {
  const key = Buffer.from(text.trim(), "base64");
  if (key.length !== 32) {
    throw new ConfigError(`Invalid configuration:\n  VAULT_TRANSPORT_KEY_BASE64: must be base64 of exactly 32 bytes (got ${key.length})`);
  }
  return key;
}

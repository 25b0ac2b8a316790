import type { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { readSecretString, SecretReadError } from "./secret-bundle.js";
import { schemeOf, SecretUnresolvedError, type SecretReference, type SecretsProvider } from "./secrets-provider.js";

/** The reference scheme of a secret in AWS Secrets Manager: `aws-secretsmanager:<secret name>`. */
export const SECRETS_MANAGER_SCHEME = "aws-secretsmanager";

export function secretsManagerReference(name: string): SecretReference {
  return `${SECRETS_MANAGER_SCHEME}:${name}`;
}

/**
 * AWS Secrets Manager behind the SecretsProvider port: a reference `aws-secretsmanager:<name>` resolves
 * to that secret's SecretString (GetSecretValue, bounded in time). An unreadable secret is a
 * SecretUnresolvedError whose message says why (missing, access denied, unreachable), never a value.
 * Tenants' bundles (src/tenancy/tenant-secrets.ts) are read through it.
 */
export class SecretsManagerProvider implements SecretsProvider {
  readonly #client: SecretsManagerClient;

  constructor(client: SecretsManagerClient) {
    this.#client = client;
  }

  async resolve(reference: SecretReference): Promise<string> {
    if (schemeOf(reference) !== SECRETS_MANAGER_SCHEME) {
      throw new SecretUnresolvedError(`a ${schemeOf(reference) ?? "scheme-less"} reference cannot be resolved by AWS Secrets Manager`);
    }
    try {
      return (await readSecretString(this.#client, reference.slice(SECRETS_MANAGER_SCHEME.length + 1))).text;
    } catch (err) {
      if (err instanceof SecretReadError) throw new SecretUnresolvedError(err.reason);
      throw err;
    }
  }

  close(): void {
    this.#client.destroy();
  }
}

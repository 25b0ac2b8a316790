import { readFile } from "node:fs/promises";

/**
 * A secret reference names where a secret lives, never the secret itself, so it can sit in config,
 * logs and the control database: `env:NAME` (a variable of the environment the vault was started
 * with), `file:/path` (a mounted secret file), and the stored forms of src/config/secret-seal.ts
 * (`sealed:...`, `dsn:...`), and `aws-secretsmanager:<name>` (src/config/secrets-manager-provider.ts).
 */
export type SecretReference = string;

/** The port that turns references into values. `binding` is the row a stored reference belongs to. */
export interface SecretsProvider {
  resolve(reference: SecretReference, opts?: { binding?: string }): Promise<string>;
}

/**
 * A secret that cannot be resolved. The message names the reference (a variable name, a path),
 * never a value: it ends up in logs and in the CLI's output.
 */
export class SecretUnresolvedError extends Error {}

/** What a reference may say about itself in an error: its scheme and name, not what it holds. */
export function describeReference(reference: SecretReference): string {
  const scheme = schemeOf(reference);
  if (scheme === "env") return `environment variable ${reference.slice(4)}`;
  if (scheme === "file") return `secret file ${reference.slice(5)}`;
  // A secret's name is no secret (the IAM policy and the logs name it too).
  if (scheme === "aws-secretsmanager") return `AWS Secrets Manager secret ${reference.slice(scheme.length + 1)}`;
  // The rest of any other reference may hold a credential (a sealed value, a DSN): only the scheme is shown.
  return scheme ? `a ${scheme}: reference` : "a reference with no scheme";
}

export function schemeOf(reference: SecretReference): string | undefined {
  const m = /^([a-z][a-z0-9-]*):/.exec(reference);
  return m?.[1];
}

/** Today's provider: the environment the vault was started with, and files. */
export class EnvSecretsProvider implements SecretsProvider {
  // A private field: printing or serialising the provider (it sits in Config) shows no value.
  readonly #env: Readonly<Record<string, string | undefined>>;

  constructor(env: Readonly<Record<string, string | undefined>>) {
    this.#env = env;
  }

  async resolve(reference: SecretReference): Promise<string> {
    const scheme = schemeOf(reference);
    if (scheme === "env") {
      const value = this.#env[reference.slice(4)];
      if (value === undefined || value.trim() === "") throw new SecretUnresolvedError(`${describeReference(reference)} is not set`);
      return value;
    }
    if (scheme === "file") {
      const file = reference.slice(5);
      let text: string;
      try {
        text = await readFile(file, "utf8");
      } catch (err) {
        throw new SecretUnresolvedError(`cannot read ${describeReference(reference)} (${(err as NodeJS.ErrnoException).code ?? "error"})`);
      }
      // Secret files (Docker, Kubernetes) often end with a newline that is not part of the secret.
      const value = text.trimEnd();
      if (value === "") throw new SecretUnresolvedError(`${describeReference(reference)} is empty`);
      return value;
    }
    throw new SecretUnresolvedError(`${describeReference(reference)} cannot be resolved here (known: env:, file:)`);
  }
}

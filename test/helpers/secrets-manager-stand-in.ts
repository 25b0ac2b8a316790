import { randomUUID } from "node:crypto";
import { AwsJsonError, startAwsJsonServer, type AwsJsonServer } from "./aws-json-protocol.js";

/**
 * A protocol-level stand-in for AWS Secrets Manager's `secretsmanager.GetSecretValue`.
 *
 * Why it exists: npm has no emulator for Secrets Manager (fauxqs covers SQS, SNS and S3 only), and a
 * vi.mock of the client would test nothing of how the vault uses it. The real
 * @aws-sdk/client-secrets-manager talks to this server over HTTP (AWS JSON 1.1) through
 * AWS_ENDPOINT_URL_SECRETS_MANAGER, so request building, retries, timeouts and error parsing are the
 * SDK's own. Outages come from the AwsJsonServer knobs (failWith, latencyMs, dropConnections).
 */
export interface SecretsManagerStandIn {
  server: AwsJsonServer;
  url: string;
  /** Creates or rotates a secret: each put is a new version (VersionId), as PutSecretValue makes one. */
  put(name: string, value: string | object): void;
  remove(name: string): void;
  /** Env entries that point the SDK at the stand-in, with static credentials (no credential chain lookups). */
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function startSecretsManagerStandIn(initial: Record<string, string | object> = {}): Promise<SecretsManagerStandIn> {
  const secrets = new Map<string, { value: string; versionId: string; createdDate: number }>();
  const put = (name: string, value: string | object) =>
    secrets.set(name, { value: typeof value === "string" ? value : JSON.stringify(value), versionId: randomUUID(), createdDate: Date.now() / 1000 });
  for (const [name, value] of Object.entries(initial)) put(name, value);
  const server = await startAwsJsonServer({
    "secretsmanager.GetSecretValue": (input) => {
      const id = String(input.SecretId ?? "");
      const secret = secrets.get(id);
      if (!secret) throw new AwsJsonError("ResourceNotFoundException", "Secrets Manager can't find the specified secret.");
      return {
        ARN: `arn:aws:secretsmanager:us-east-1:000000000000:secret:${id}-AbCdEf`,
        Name: id,
        VersionId: secret.versionId,
        SecretString: secret.value,
        VersionStages: ["AWSCURRENT"],
        CreatedDate: secret.createdDate,
      };
    },
  });
  return {
    server,
    url: server.url,
    put,
    remove: (name) => void secrets.delete(name),
    env: {
      AWS_ENDPOINT_URL_SECRETS_MANAGER: server.url,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
    },
    close: () => server.close(),
  };
}

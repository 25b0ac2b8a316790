/**
 * How every AWS client of the vault and the judge is configured: the standard AWS SDK settings, read
 * from the environment the process (or a test) was started with, so no project-specific endpoint
 * variables are needed.
 *
 * Why not leave it all to the SDK's own environment lookup: the SDK reads `process.env`, while a
 * config is read from an environment map (a test starts several vaults in one process, each with
 * its own). So the map's values are passed to each client explicitly; what the map does not set
 * (profiles, instance roles, web identity) is left to the SDK's default chain.
 */
export type AwsService = "sqs" | "kms" | "secrets_manager" | "s3";

/** The service-specific variable the SDK itself reads (AWS_ENDPOINT_URL_<SERVICE>). */
export const awsEndpointVariables: Record<AwsService, string> = {
  sqs: "AWS_ENDPOINT_URL_SQS",
  kms: "AWS_ENDPOINT_URL_KMS",
  secrets_manager: "AWS_ENDPOINT_URL_SECRETS_MANAGER",
  s3: "AWS_ENDPOINT_URL_S3",
};

export interface AwsClientConfig {
  region: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

export class AwsSettings {
  readonly region: string;
  readonly endpoints: Readonly<Partial<Record<AwsService, string>>>;
  // Private: printing or serialising the config shows no credential.
  readonly #credentials: AwsClientConfig["credentials"];

  constructor(env: Readonly<Record<string, string | undefined>>) {
    const given = (name: string) => {
      const value = env[name]?.trim();
      return value ? value : undefined;
    };
    this.region = given("AWS_REGION") ?? given("AWS_DEFAULT_REGION") ?? "us-east-1";
    const general = given("AWS_ENDPOINT_URL");
    const endpoints: Partial<Record<AwsService, string>> = {};
    for (const [service, variable] of Object.entries(awsEndpointVariables) as [AwsService, string][]) {
      const endpoint = given(variable) ?? general;
      if (endpoint) endpoints[service] = endpoint;
    }
    this.endpoints = endpoints;
    const accessKeyId = given("AWS_ACCESS_KEY_ID");
    const secretAccessKey = given("AWS_SECRET_ACCESS_KEY");
    this.#credentials = accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey, sessionToken: given("AWS_SESSION_TOKEN") } : undefined;
  }

  /** Region, endpoint override and static credentials for one service's client; the SDK's chain fills the rest. */
  clientConfig(service: AwsService): AwsClientConfig {
    const endpoint = this.endpoints[service];
    return { region: this.region, ...(endpoint ? { endpoint } : {}), ...(this.#credentials ? { credentials: { ...this.#credentials } } : {}) };
  }

  /** Where a service's client connects, for start-up errors that name the endpoint. */
  describeEndpoint(service: AwsService): string {
    return this.endpoints[service] ?? `the AWS ${service} endpoint of ${this.region}`;
  }
}

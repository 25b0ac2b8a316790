/**
 * Per-tenant bucket names and S3 error descriptions for the S3 anchor store. Pure functions, no I/O.
 */
import { AnchorConfigError } from "./anchor-store.js";

/**
 * General purpose bucket naming rules
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html): 3-63 characters of
 * lowercase letters, digits, '.' and '-', starting and ending with a letter or digit, no "..", not an IP
 * address, no reserved prefix or suffix.
 */
export function bucketNameProblem(name: string): string | undefined {
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name)) {
    return "must be 3-63 characters of lowercase letters, digits, '.' and '-', starting and ending with a letter or digit";
  }
  if (name.includes("..")) return "must not contain two adjacent periods";
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) return "must not look like an IP address";
  if (/^(xn--|sthree-|amzn-s3-demo-)/.test(name)) return "starts with a prefix S3 reserves";
  if (/(-s3alias|--ol-s3|\.mrap|--x-s3|--table-s3)$/.test(name)) return "ends with a suffix S3 reserves";
  return undefined;
}

/**
 * The bucket for a tenant: the template with {client_id} and {tenant_id} replaced by the tenant id (client id
 * = tenant id here), or the shared bucket name when there are no placeholders. Tenant ids look like
 * `t_<hex>`, but bucket names allow neither '_' nor upper case, so the id is lower-cased and '_' becomes '-'.
 * That mapping is only one-to-one on ids without '-' and upper case, so other ids are refused rather than
 * risking two tenants sharing one bucket (their keys would collide: per-tenant buckets carry no tenant
 * segment in the key).
 */
export function renderBucketName(template: string, tenantId: string, envVar: string): string {
  const templated = /\{(client_id|tenant_id)\}/.test(template);
  if (templated && !/^[a-z0-9_]+$/.test(tenantId)) {
    throw new AnchorConfigError(
      `${envVar}: tenant id ${JSON.stringify(tenantId)} cannot name a bucket unambiguously (only a-z, 0-9 and '_' map one-to-one); use VAULT_LEDGER_ANCHOR_BUCKET instead`,
    );
  }
  const name = template.replaceAll("{client_id}", tenantId.replaceAll("_", "-")).replaceAll("{tenant_id}", tenantId.replaceAll("_", "-"));
  const problem = bucketNameProblem(name);
  if (problem) {
    const what = templated ? `renders bucket name ${JSON.stringify(name)} for tenant ${tenantId}, which` : `bucket name ${JSON.stringify(name)}`;
    throw new AnchorConfigError(`${envVar}: ${what} ${problem}`);
  }
  return name;
}

/** The HTTP status of an S3 service error; undefined for network, timeout and credential errors. */
export function httpStatusOf(err: unknown): number | undefined {
  const status = (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
  return typeof status === "number" ? status : undefined;
}

/** "NotFound HTTP 404: ..." or "ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:9" — enough for an operator log. */
export function describeS3Error(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const status = httpStatusOf(err);
  const code = (err as NodeJS.ErrnoException).code;
  const label = code && code !== err.name ? `${err.name} ${code}` : err.name;
  // Node's dual-stack connect failures are AggregateErrors with an empty message; their parts say why.
  const inner = err instanceof AggregateError ? err.errors.map((e: unknown) => (e instanceof Error ? e.message : String(e))).join("; ") : "";
  const message = err.message || inner || "no message";
  return `${label}${status !== undefined ? ` HTTP ${status}` : ""}: ${message}`;
}

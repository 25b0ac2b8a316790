/**
 * AnchorStore on S3 (or an S3-compatible server): the tenant's log under `<prefix>/<tenantId>/` in one shared
 * bucket, or under `<prefix>/` in a per-tenant bucket named by VAULT_LEDGER_ANCHOR_BUCKET_TEMPLATE, in the
 * C2SP tlog-tiles layout. Objects are plainly overwritten: tamper evidence comes from bucket versioning (which
 * keeps every earlier version) and, optionally, object lock (which stops even the vault's own credentials
 * from deleting them), so checkReady refuses a bucket without them when they are required.
 */
import {
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  HeadBucketCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import type { AnchorConfig } from "../../config/config.js";
import { AnchorConfigError, checkObjectPath, checkTenantId, type AnchorObject, type AnchorStore } from "./anchor-store.js";
import { describeS3Error, httpStatusOf, renderBucketName } from "./s3-bucket-names.js";

export type S3AnchorConfig = Extract<AnchorConfig, { kind: "s3" }>;

export interface S3AnchorStoreOptions {
  /** Static credentials from the config's environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN;
   * src/config/aws.ts). Unset: the SDK's default provider chain (AWS_PROFILE, web identity, the instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Connection and whole-request timeout per attempt (the SDK makes up to 3 attempts). Default 10 s. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
// tlog-tiles: full tiles and bundles never change, so caches may keep them forever; the checkpoint must not be cached.
const IMMUTABLE_CACHE = "public, max-age=31536000, immutable";
const MUTABLE_CACHE = "no-cache";

export class S3AnchorStore implements AnchorStore {
  readonly kind = "s3";
  private readonly client: S3Client;
  private readonly prefix: string;
  private readonly bucketVar: string;
  private readonly checks = new Map<string, Promise<void>>();

  constructor(private readonly config: S3AnchorConfig, options: S3AnchorStoreOptions = {}) {
    if (Boolean(config.bucket) === Boolean(config.bucketTemplate)) {
      throw new AnchorConfigError("VAULT_LEDGER_ANCHOR_BUCKET: set exactly one of VAULT_LEDGER_ANCHOR_BUCKET and VAULT_LEDGER_ANCHOR_BUCKET_TEMPLATE");
    }
    this.bucketVar = config.bucketTemplate ? "VAULT_LEDGER_ANCHOR_BUCKET_TEMPLATE" : "VAULT_LEDGER_ANCHOR_BUCKET";
    // Validate the bucket name (or the template, on a sample tenant id) now, so a typo stops start-up.
    renderBucketName(config.bucket ?? config.bucketTemplate!, "t_0123456789abcdef0123", this.bucketVar);
    if (!config.region && !config.endpoint) {
      throw new AnchorConfigError("VAULT_LEDGER_ANCHOR_REGION: the S3 anchor store needs a region; set VAULT_LEDGER_ANCHOR_REGION or AWS_REGION");
    }
    this.prefix = config.prefix.replace(/^\/+|\/+$/g, "");
    const timeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.client = new S3Client({
      // S3-compatible servers ignore the region but the SDK's signer needs one.
      region: config.region ?? "us-east-1",
      endpoint: config.endpoint,
      forcePathStyle: config.forcePathStyle,
      credentials: options.credentials,
      maxAttempts: 3,
      // Never re-send to another region on a 301 (the SDK's default too; stated so it stays off). The
      // node handler itself never follows a redirect: a 3xx is an S3 error like any other.
      followRegionRedirects: false,
      // Without throwOnRequestTimeout the SDK only logs a warning when requestTimeout passes and keeps waiting.
      requestHandler: { connectionTimeout: timeout, requestTimeout: timeout, throwOnRequestTimeout: true },
    });
  }

  target(tenantId: string): string {
    return `s3://${this.bucketFor(tenantId)}/${this.keyPrefix(tenantId)}`;
  }

  checkReady(tenantId?: string): Promise<void> {
    // Per-tenant buckets are checked on their first use; the template itself was validated at construction.
    if (tenantId === undefined && this.config.bucketTemplate) return Promise.resolve();
    const bucket = tenantId === undefined ? this.config.bucket! : this.bucketFor(tenantId);
    let check = this.checks.get(bucket);
    if (!check) {
      check = this.checkBucket(bucket);
      this.checks.set(bucket, check);
      // Only successes are cached: once the operator fixes the bucket the next use checks again.
      check.catch(() => this.checks.delete(bucket));
    }
    return check;
  }

  async put(tenantId: string, objects: readonly AnchorObject[]): Promise<string> {
    const bucket = this.bucketFor(tenantId);
    const keys = objects.map((o) => this.keyPrefix(tenantId) + checkObjectPath(o.path));
    // Never write into a bucket that would not keep history (cached after the first call per bucket).
    await this.checkReady(tenantId);
    let last = this.target(tenantId);
    for (const [i, object] of objects.entries()) {
      const key = keys[i]!;
      const cacheControl = object.immutable ? IMMUTABLE_CACHE : MUTABLE_CACHE;
      try {
        await this.client.send(
          new PutObjectCommand({ Bucket: bucket, Key: key, Body: object.body, ContentType: object.contentType, CacheControl: cacheControl }),
        );
      } catch (err) {
        throw new Error(`PutObject s3://${bucket}/${key} failed (${describeS3Error(err)})`, { cause: err });
      }
      last = `s3://${bucket}/${key}`;
    }
    return last;
  }

  async get(tenantId: string, path: string): Promise<Uint8Array | undefined> {
    const bucket = this.bucketFor(tenantId);
    const key = this.keyPrefix(tenantId) + checkObjectPath(path);
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return (await res.Body?.transformToByteArray()) ?? new Uint8Array();
    } catch (err) {
      if ((err as Error).name === "NoSuchKey" || httpStatusOf(err) === 404) return undefined;
      throw new Error(`GetObject s3://${bucket}/${key} failed (${describeS3Error(err)})`, { cause: err });
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private bucketFor(tenantId: string): string {
    checkTenantId(tenantId);
    return this.config.bucketTemplate ? renderBucketName(this.config.bucketTemplate, tenantId, this.bucketVar) : this.config.bucket!;
  }

  /** `<prefix>/<tenantId>/` in a shared bucket, `<prefix>/` in a per-tenant bucket; never a leading slash. */
  private keyPrefix(tenantId: string): string {
    const parts = this.config.bucketTemplate ? [this.prefix] : [this.prefix, checkTenantId(tenantId)];
    return parts.filter((p) => p !== "").map((p) => `${p}/`).join("");
  }

  private async checkBucket(bucket: string): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: bucket }));
    } catch (err) {
      throw new AnchorConfigError(this.headBucketProblem(bucket, err));
    }
    if (this.config.requireVersioning) await this.checkVersioning(bucket);
    if (this.config.requireObjectLock) await this.checkObjectLock(bucket);
  }

  private async checkVersioning(bucket: string): Promise<void> {
    const v = "VAULT_LEDGER_REQUIRE_BUCKET_VERSIONING";
    let status: string | undefined;
    try {
      status = (await this.client.send(new GetBucketVersioningCommand({ Bucket: bucket }))).Status;
    } catch (err) {
      throw new AnchorConfigError(
        `${v}: cannot read the versioning status of bucket ${bucket} (GetBucketVersioning: ${describeS3Error(err)}); ` +
          `use a store that supports versioning and allow s3:GetBucketVersioning, or set ${v}=false`,
      );
    }
    // A bucket that never had versioning answers without Status (some emulators do too): that is NOT enabled.
    if (status !== "Enabled") {
      throw new AnchorConfigError(
        `${v}: bucket ${bucket} does not have versioning enabled (GetBucketVersioning Status: ${status ?? "none"}); ` +
          `enable versioning or set ${v}=false`,
      );
    }
  }

  private async checkObjectLock(bucket: string): Promise<void> {
    const v = "VAULT_LEDGER_REQUIRE_OBJECT_LOCK";
    let enabled: string | undefined;
    try {
      const res = await this.client.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }));
      enabled = res.ObjectLockConfiguration?.ObjectLockEnabled;
    } catch (err) {
      if ((err as Error).name !== "ObjectLockConfigurationNotFoundError") {
        throw new AnchorConfigError(
          `${v}: cannot read the object lock configuration of bucket ${bucket} (GetObjectLockConfiguration: ${describeS3Error(err)}); ` +
            `use a store that supports object lock and allow s3:GetBucketObjectLockConfiguration, or set ${v}=false`,
        );
      }
    }
    if (enabled !== "Enabled") {
      throw new AnchorConfigError(
        `${v}: bucket ${bucket} does not have object lock enabled (ObjectLockEnabled: ${enabled ?? "none"}); ` +
          `create the bucket with object lock enabled or set ${v}=false`,
      );
    }
  }

  private headBucketProblem(bucket: string, err: unknown): string {
    const status = httpStatusOf(err);
    const why = `HeadBucket: ${describeS3Error(err)}`;
    const name = (err as Error)?.name;
    if (name === "CredentialsProviderError") {
      return `AWS credentials: none found for the anchor bucket ${bucket} (${why}); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or give the vault an IAM role`;
    }
    if (status === undefined) {
      const where = this.config.endpoint ?? `the S3 endpoint of region ${this.config.region}`;
      return `AWS_ENDPOINT_URL_S3: cannot reach ${where} for anchor bucket ${bucket} (${why}); check AWS_ENDPOINT_URL_S3 (or VAULT_LEDGER_ANCHOR_ENDPOINT), VAULT_LEDGER_ANCHOR_REGION and the network`;
    }
    if (status === 404) return `${this.bucketVar}: anchor bucket ${bucket} does not exist (${why}); create it (with versioning) or fix ${this.bucketVar}`;
    if (status === 403) {
      return `${this.bucketVar}: access to anchor bucket ${bucket} is denied (${why}); allow the vault's credentials s3:ListBucket, s3:GetObject and s3:PutObject on it, or fix ${this.bucketVar}`;
    }
    if (status === 301 || name === "PermanentRedirect") {
      return `VAULT_LEDGER_ANCHOR_REGION: anchor bucket ${bucket} is not in region ${this.config.region} (${why}); set VAULT_LEDGER_ANCHOR_REGION to the bucket's region`;
    }
    return `${this.bucketVar}: anchor bucket ${bucket} is not usable (${why})`;
  }
}

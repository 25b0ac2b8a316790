/**
 * The AnchorStore port: where each tenant's signed checkpoints, tiles and entry bundles are exported, outside
 * the database, in the C2SP tlog-tiles layout (https://c2sp.org/tlog-tiles). A copy the database cannot
 * rewrite is what makes a silent rewrite of the ledger detectable. Adapters: local directory, S3.
 */

export interface AnchorObject {
  /** Relative tlog-tiles path: `checkpoint`, `tile/0/000`, `tile/entries/000.p/5`, ... */
  path: string;
  body: Uint8Array;
  contentType: string;
  /** full tiles, entry bundles, per-checkpoint files: never rewritten with other bytes */
  immutable: boolean;
}

export interface AnchorStore {
  readonly kind: "local" | "s3";
  /** Where a tenant's log lives, e.g. file:///abs/data/anchors/<tenant>/ or s3://bucket/prefix/<tenant>/ — signed into checkpoints as export_target. Stable for a tenant. */
  target(tenantId: string): string;
  /**
   * Start-up check (and, for per-tenant template buckets, the first use of each bucket): throws
   * AnchorConfigError with an operator message when the bucket is missing or unreachable, versioning is
   * required but not "Enabled", or object lock is required but not enabled. tenantId undefined = the shared
   * bucket / directory. Successes are cached per bucket (failures are not, so a fixed bucket is picked up).
   */
  checkReady(tenantId?: string): Promise<void>;
  /**
   * Writes objects in the given order (callers put tiles first, checkpoint last). Immutable objects: the
   * local store skips an identical existing file and throws AnchorConflictError when the bytes differ; S3
   * overwrites (versioning keeps history). Returns the URI of the last object (the target when empty).
   */
  put(tenantId: string, objects: readonly AnchorObject[]): Promise<string>;
  /** Reads an object back (undefined when absent) — for fsck and tests. */
  get(tenantId: string, path: string): Promise<Uint8Array | undefined>;
  close(): Promise<void>;
}

/** The anchor store is misconfigured or unusable; the message names the env var to fix. */
export class AnchorConfigError extends Error {
  override readonly name = "AnchorConfigError";
}

/** An immutable anchor object already exists with different bytes: the export history disagrees with the database. */
export class AnchorConflictError extends Error {
  override readonly name = "AnchorConflictError";
}

const SEGMENT_RE = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;
const MAX_PATH_LENGTH = 512;

/**
 * Tenant ids become a directory name or key segment: one segment of [A-Za-z0-9._-], not starting with a dot.
 * A bad id is a programming error (ids come from our own database), so this throws a plain Error.
 */
export function checkTenantId(tenantId: string): string {
  if (typeof tenantId !== "string" || tenantId.length > 128 || !SEGMENT_RE.test(tenantId)) {
    throw new Error(`invalid anchor tenant id ${JSON.stringify(tenantId)}`);
  }
  return tenantId;
}

/**
 * Object paths are relative, "/"-separated, only [A-Za-z0-9._/-]; no empty, "." or ".." segments, so a path
 * can never leave the tenant's directory or prefix. Segments may not start with "." either: the local store
 * names its temporary files that way, so they can never collide with a real object.
 */
export function checkObjectPath(path: string): string {
  if (typeof path !== "string" || path.length === 0 || path.length > MAX_PATH_LENGTH || !path.split("/").every((s) => SEGMENT_RE.test(s))) {
    throw new Error(`invalid anchor object path ${JSON.stringify(path)}`);
  }
  return path;
}

import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AnchorConfig } from "../../src/config/config.js";
import { AnchorConfigError, type AnchorObject } from "../../src/ledger/anchor/anchor-store.js";
import { createAnchorStore } from "../../src/ledger/anchor/create-anchor-store.js";
import { S3AnchorStore, type S3AnchorConfig } from "../../src/ledger/anchor/s3-anchor-store.js";
import {
  S3RVER_CREDENTIALS,
  startBucketConfigStub,
  startS3TestServer,
  startSilentServer,
  type S3TestServer,
} from "../helpers/s3-test-server.js";
import { freePort } from "../helpers/vault.js";

const TENANT = "t_0123456789abcdef0123";
const SHARED = "countersign-anchors";
const TEMPLATE = "ledgix-anchor-{client_id}";
const TENANT_BUCKET = "ledgix-anchor-t-0123456789abcdef0123";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));
const objects: AnchorObject[] = [
  { path: "tile/0/000", body: bytes("tile-hashes"), contentType: "application/octet-stream", immutable: true },
  { path: "tile/entries/000.p/5", body: bytes("bundle"), contentType: "application/octet-stream", immutable: true },
  { path: "checkpoint", body: bytes("example.com/ledger\n5\nroot\n"), contentType: "text/plain; charset=utf-8", immutable: false },
];

let server: S3TestServer;
let admin: S3Client;
const stores: S3AnchorStore[] = [];

function config(overrides: Partial<S3AnchorConfig> = {}): S3AnchorConfig {
  return { kind: "s3", bucket: SHARED, prefix: "", endpoint: server.endpoint, forcePathStyle: true, requireVersioning: false, requireObjectLock: false, ...overrides };
}

function s3Store(overrides: Partial<S3AnchorConfig> = {}, timeoutMs = 2_000): S3AnchorStore {
  const store = new S3AnchorStore(config(overrides), { credentials: S3RVER_CREDENTIALS, timeoutMs });
  stores.push(store);
  return store;
}

async function listKeys(bucket: string): Promise<string[]> {
  const res = await admin.send(new ListObjectsV2Command({ Bucket: bucket }));
  return (res.Contents ?? []).map((o) => o.Key!).sort();
}

beforeAll(async () => {
  server = await startS3TestServer();
  admin = new S3Client({ region: "us-east-1", endpoint: server.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
  for (const bucket of [SHARED, TENANT_BUCKET, "prefixed-anchors"]) await admin.send(new CreateBucketCommand({ Bucket: bucket }));
});

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  admin?.destroy();
  await server?.close();
});

describe("S3 anchor store without required versioning (s3rver)", () => {
  it("round-trips objects in a shared bucket under <prefix>/<tenant>/ with content types", async () => {
    const store = s3Store({ bucket: "prefixed-anchors", prefix: "ledger/prod" });
    await store.checkReady();
    const last = await store.put(TENANT, objects);
    expect(last).toBe(`s3://prefixed-anchors/ledger/prod/${TENANT}/checkpoint`);
    expect(store.target(TENANT)).toBe(`s3://prefixed-anchors/ledger/prod/${TENANT}/`);
    expect(await listKeys("prefixed-anchors")).toEqual(
      [`ledger/prod/${TENANT}/checkpoint`, `ledger/prod/${TENANT}/tile/0/000`, `ledger/prod/${TENANT}/tile/entries/000.p/5`].sort(),
    );
    const raw = await admin.send(new GetObjectCommand({ Bucket: "prefixed-anchors", Key: `ledger/prod/${TENANT}/checkpoint` }));
    expect(raw.ContentType).toBe("text/plain; charset=utf-8");
    expect(raw.CacheControl).toBe("no-cache");
    const rawTile = await admin.send(new GetObjectCommand({ Bucket: "prefixed-anchors", Key: `ledger/prod/${TENANT}/tile/0/000` }));
    expect(rawTile.ContentType).toBe("application/octet-stream");
    expect(rawTile.CacheControl).toContain("immutable");
    expect(text(await store.get(TENANT, "tile/entries/000.p/5"))).toBe("bundle");
    expect(await store.get(TENANT, "tile/0/001")).toBeUndefined();
    expect(await store.get("t_other", "checkpoint")).toBeUndefined();
  });

  it("uses <tenant>/<path> keys without a leading slash when the prefix is empty, and overwrites", async () => {
    const store = s3Store();
    await store.put("t_aaaa", [objects[2]!]);
    await store.put("t_aaaa", [{ ...objects[2]!, body: bytes("newer") }]);
    await store.put("t_bbbb", [objects[0]!]);
    expect(await listKeys(SHARED)).toEqual(["t_aaaa/checkpoint", "t_bbbb/tile/0/000"]);
    expect(text(await store.get("t_aaaa", "checkpoint"))).toBe("newer");
    expect(store.target("t_aaaa")).toBe(`s3://${SHARED}/t_aaaa/`);
  });

  it("puts a tenant's log at <prefix>/ in its own bucket from the template (lower case, '_' as '-')", async () => {
    const store = s3Store({ bucket: undefined, bucketTemplate: TEMPLATE, prefix: "log" });
    await store.checkReady(); // nothing to check until a tenant's bucket is used
    expect(store.target(TENANT)).toBe(`s3://${TENANT_BUCKET}/log/`);
    expect(await store.put(TENANT, objects)).toBe(`s3://${TENANT_BUCKET}/log/checkpoint`);
    expect(await listKeys(TENANT_BUCKET)).toEqual(["log/checkpoint", "log/tile/0/000", "log/tile/entries/000.p/5"]);
    expect(text(await store.get(TENANT, "checkpoint"))).toBe("example.com/ledger\n5\nroot\n");
    const tenantTemplate = s3Store({ bucket: undefined, bucketTemplate: "ledgix-anchor-{tenant_id}" });
    expect(tenantTemplate.target(TENANT)).toBe(`s3://${TENANT_BUCKET}/`);
  });

  it("checks a template tenant's bucket on first use and refuses to write when it is missing", async () => {
    const store = s3Store({ bucket: undefined, bucketTemplate: TEMPLATE });
    const put = store.put("t_nobucket", objects);
    await expect(put).rejects.toBeInstanceOf(AnchorConfigError);
    await expect(put).rejects.toThrow(/^VAULT_LEDGER_ANCHOR_BUCKET_TEMPLATE: anchor bucket ledgix-anchor-t-nobucket does not exist \(HeadBucket: NotFound HTTP 404/);
  });

  it("refuses template bucket names S3 would reject, and tenant ids that would not map one-to-one", () => {
    const store = s3Store({ bucket: undefined, bucketTemplate: TEMPLATE });
    expect(() => store.target("T_UPPER")).toThrow(AnchorConfigError);
    expect(() => store.target("t-dash")).toThrow(/cannot name a bucket unambiguously/);
    expect(() => store.target(`t_${"a".repeat(60)}`)).toThrow(/^VAULT_LEDGER_ANCHOR_BUCKET_TEMPLATE: renders bucket name .* 3-63 characters/);
    expect(() => s3Store({ bucket: undefined, bucketTemplate: "Anchors_{client_id}" })).toThrow(/^VAULT_LEDGER_ANCHOR_BUCKET_TEMPLATE: /);
    expect(() => s3Store({ bucket: "Bad_Bucket" })).toThrow(/^VAULT_LEDGER_ANCHOR_BUCKET: bucket name "Bad_Bucket" must be/);
    expect(() => s3Store({ bucket: "192.168.1.1" })).toThrow(/IP address/);
    expect(() => s3Store({ bucketTemplate: TEMPLATE })).toThrow(/exactly one of/);
    expect(() => s3Store({ endpoint: undefined, region: undefined })).toThrow(/^VAULT_LEDGER_ANCHOR_REGION: /);
  });

  it("refuses bad object paths and tenant ids before writing anything", async () => {
    const store = s3Store({ bucket: "prefixed-anchors", prefix: "paths" });
    for (const bad of ["../x", "/abs", "tile//0", ".hidden", "a b"]) {
      await expect(store.put(TENANT, [objects[0]!, { ...objects[0]!, path: bad }])).rejects.toThrow(/invalid anchor object path/);
    }
    await expect(store.put("../t", objects)).rejects.toThrow(/invalid anchor tenant id/);
    expect((await listKeys("prefixed-anchors")).filter((k) => k.startsWith("paths/"))).toEqual([]);
  });

  it("is what createAnchorStore builds for an s3 config", async () => {
    const anchor: AnchorConfig = config({ prefix: "factory" });
    const store = await createAnchorStore(anchor, { credentials: S3RVER_CREDENTIALS });
    expect(store.kind).toBe("s3");
    await store.put(TENANT, [objects[2]!]);
    expect(await listKeys(SHARED)).toContain(`factory/${TENANT}/checkpoint`);
    await store.close();
  });
});

describe("S3 start-up checks", () => {
  it("rejects s3rver when versioning is required (no Status: Enabled) and writes nothing", async () => {
    const store = s3Store({ bucket: "prefixed-anchors", prefix: "versioned", requireVersioning: true });
    const check = store.checkReady();
    await expect(check).rejects.toBeInstanceOf(AnchorConfigError);
    await expect(check).rejects.toThrow(
      "VAULT_LEDGER_REQUIRE_BUCKET_VERSIONING: bucket prefixed-anchors does not have versioning enabled (GetBucketVersioning Status: none); enable versioning or set VAULT_LEDGER_REQUIRE_BUCKET_VERSIONING=false",
    );
    await expect(store.put(TENANT, objects)).rejects.toThrow(/VAULT_LEDGER_REQUIRE_BUCKET_VERSIONING/);
    expect((await listKeys("prefixed-anchors")).filter((k) => k.startsWith("versioned/"))).toEqual([]);
  });

  it("rejects s3rver when object lock is required", async () => {
    const check = s3Store({ requireObjectLock: true }).checkReady();
    await expect(check).rejects.toBeInstanceOf(AnchorConfigError);
    await expect(check).rejects.toThrow(/^VAULT_LEDGER_REQUIRE_OBJECT_LOCK: cannot read the object lock configuration of bucket countersign-anchors \(GetObjectLockConfiguration: NotImplemented HTTP 501/);
  });

  it("names a missing shared bucket and the variable to fix", async () => {
    const check = s3Store({ bucket: "no-such-anchors" }).checkReady();
    await expect(check).rejects.toBeInstanceOf(AnchorConfigError);
    await expect(check).rejects.toThrow(/^VAULT_LEDGER_ANCHOR_BUCKET: anchor bucket no-such-anchors does not exist \(HeadBucket: NotFound HTTP 404/);
  });

  it("reports refused credentials as access denied", async () => {
    const store = new S3AnchorStore(config(), { credentials: { accessKeyId: "WRONG", secretAccessKey: "WRONG" }, timeoutMs: 2_000 });
    stores.push(store);
    await expect(store.checkReady()).rejects.toThrow(/^VAULT_LEDGER_ANCHOR_BUCKET: access to anchor bucket countersign-anchors is denied \(HeadBucket: \w+ HTTP 403/);
  });

  it("fails fast with a clear error when nothing listens on the endpoint", async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const started = Date.now();
    const check = s3Store({ endpoint }, 500).checkReady();
    await expect(check).rejects.toThrow(new RegExp(`^AWS_ENDPOINT_URL_S3: cannot reach ${endpoint} for anchor bucket ${SHARED} \\(HeadBucket: .*ECONNREFUSED`));
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("gives up on an endpoint that accepts connections but never answers, within the timeout", async () => {
    const silent = await startSilentServer();
    try {
      const started = Date.now();
      const check = s3Store({ endpoint: silent.endpoint }, 300).checkReady();
      await expect(check).rejects.toBeInstanceOf(AnchorConfigError);
      await expect(check).rejects.toThrow(/^AWS_ENDPOINT_URL_S3: cannot reach .* \(HeadBucket: TimeoutError/);
      // 3 attempts of 300 ms plus retry backoff; without a timeout this would hang until the test timed out.
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await silent.close();
    }
  });

  it("accepts a bucket with versioning and object lock enabled, caches success per bucket, re-checks after a failure", async () => {
    const stub = await startBucketConfigStub(SHARED, { versioning: "Suspended" });
    try {
      const store = s3Store({ endpoint: stub.endpoint, requireVersioning: true, requireObjectLock: true });
      await expect(store.checkReady()).rejects.toThrow(`bucket ${SHARED} does not have versioning enabled (GetBucketVersioning Status: Suspended)`);
      stub.answers = { versioning: "Enabled" };
      await expect(store.checkReady()).rejects.toThrow(
        `VAULT_LEDGER_REQUIRE_OBJECT_LOCK: bucket ${SHARED} does not have object lock enabled (ObjectLockEnabled: none); create the bucket with object lock enabled or set VAULT_LEDGER_REQUIRE_OBJECT_LOCK=false`,
      );
      stub.answers = { versioning: "Enabled", objectLock: "Enabled" };
      stub.requests.length = 0;
      await store.checkReady();
      await store.checkReady();
      await store.checkReady(TENANT); // same shared bucket: cached
      expect(stub.requests).toEqual([`HEAD /${SHARED}`, `GET /${SHARED}?versioning`, `GET /${SHARED}?object-lock`]);
    } finally {
      await stub.close();
    }
  });

  it("does not ask for versioning or object lock when neither is required", async () => {
    const stub = await startBucketConfigStub(SHARED);
    try {
      await s3Store({ endpoint: stub.endpoint }).checkReady();
      expect(stub.requests).toEqual([`HEAD /${SHARED}`]);
    } finally {
      await stub.close();
    }
  });
});

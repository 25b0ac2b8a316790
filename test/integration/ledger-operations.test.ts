import { CreateBucketCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import S3rver from "s3rver";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AnchorConfig } from "../../src/config/config.js";
import { S3AnchorStore } from "../../src/ledger/anchor/s3-anchor-store.js";
import { openCheckpoint } from "../../src/ledger/core/tlog-checkpoint.js";
import { parseVerifierKey } from "../../src/ledger/core/signed-note.js";
import { S3RVER_CREDENTIALS, startS3TestServer, type S3TestServer } from "../helpers/s3-test-server.js";
import { call, freePort, newDatabase, newKey, refundPolicy, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

const run = promisify(execFile);

/** s3rver on a fixed port with the anchor bucket, so an outage can end on the same endpoint. */
async function startS3rverOn(port: number): Promise<{ close(): Promise<void> }> {
  const directory = await mkdtemp(path.join(os.tmpdir(), "cs-s3-outage-"));
  const server = new S3rver({ address: "127.0.0.1", port, directory, silent: true });
  await server.run();
  const client = new S3Client({ region: "us-east-1", endpoint: `http://127.0.0.1:${port}`, forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
  await client.send(new CreateBucketCommand({ Bucket: "countersign-anchors" }));
  client.destroy();
  return {
    async close() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
const clearance = (v: TestVault, key: string, amount: number) =>
  call(v.url, "POST", "/request-clearance", { key, body: { tool_name: "stripe_refund", tool_args: { amount, currency: "usd" }, agent_id: "ops" } });

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await probe();
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("anchoring to S3 (s3rver)", () => {
  let s3: S3TestServer;
  let db: TestDatabase;
  const s3Config = (requireVersioning: boolean): Extract<AnchorConfig, { kind: "s3" }> => ({
    kind: "s3", bucket: "countersign-anchors", prefix: "audit", region: "us-east-1", endpoint: s3.endpoint, forcePathStyle: true,
    requireVersioning, requireObjectLock: false,
  });
  beforeAll(async () => {
    s3 = await startS3TestServer();
    const client = new S3Client({ region: "us-east-1", endpoint: s3.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
    await client.send(new CreateBucketCommand({ Bucket: "countersign-anchors" }));
    client.destroy();
    db = newDatabase("pglite");
  });
  afterAll(async () => {
    await db?.drop();
    await s3?.close();
  });

  it("exports checkpoints and tiles under <prefix>/<tenant>/ when versioning is not required", async () => {
    const anchorStore = new S3AnchorStore(s3Config(false), { credentials: S3RVER_CREDENTIALS });
    const v = await startTestVault(db, { overrides: { anchorStore } });
    try {
      const agent = await newKey(v, "agent");
      await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy });
      for (const amount of [10, 20, 5000]) expect((await clearance(v, agent, amount)).status).toBe(200);
      await v.vault.ctx.ledgerLoop.drain();
      const [cp] = (await call(v.url, "GET", "/ledger/checkpoints?order=desc&limit=1", { key: agent })).body.checkpoints;
      expect(cp).toMatchObject({ export_status: "exported", export_target: `s3://countersign-anchors/audit/${v.tenantId}/`, tree_size: 3 });
      expect(cp.exported_at).toEqual(expect.any(String));

      const client = new S3Client({ region: "us-east-1", endpoint: s3.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
      const listed = await client.send(new ListObjectsV2Command({ Bucket: "countersign-anchors", Prefix: `audit/${v.tenantId}/` }));
      client.destroy();
      const keys = (listed.Contents ?? []).map((o) => o.Key!.slice(`audit/${v.tenantId}/`.length)).sort();
      expect(keys).toEqual(["checkpoint", "ledgix/checkpoints/1.json", "tile/0/000.p/3", "tile/entries/000.p/3"]);

      const note = Buffer.from((await anchorStore.get(v.tenantId, "checkpoint"))!).toString("utf8");
      const key = parseVerifierKey((await call(v.url, "GET", "/ledger/checkpoint-key", { key: agent })).body);
      const opened = openCheckpoint(note, [key], { origin: key.name });
      expect(opened.checkpoint.size).toBe(3);
      expect(Buffer.from(opened.checkpoint.rootHash).toString("hex")).toBe(cp.root_hash);
    } finally {
      await v.close();
    }
  });

  it("an anchor outage never blocks decisions: exports back off, /readyz and /metrics show the lag, and catch up", async () => {
    const port = await freePort();
    let outage = await startS3rverOn(port);
    const config = { ...s3Config(false), endpoint: `http://127.0.0.1:${port}` };
    const anchorStore = new S3AnchorStore(config, { credentials: S3RVER_CREDENTIALS, timeoutMs: 1_000 });
    const ownDb = newDatabase("pglite");
    const v = await startTestVault(ownDb, { overrides: { anchorStore }, env: { VAULT_LEDGER_ANCHOR_BACKFILL_INTERVAL_SECONDS: "0.2" } });
    try {
      const agent = await newKey(v, "agent");
      await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy });
      await outage.close();
      for (const amount of [10, 20]) expect((await clearance(v, agent, amount)).body.status).toBe("approved");
      const lagging = await until("a failed export in /readyz", async () => {
        const ready = await call(v.url, "GET", "/readyz");
        const status = ready.body.ledger.tenants[v.tenantId];
        return status?.last_export_error && status.unexported_checkpoints > 0 ? ready : undefined;
      });
      expect(lagging.status).toBe(200);
      const metrics = (await call(v.url, "GET", "/metrics")).body as string;
      expect(metrics).toMatch(new RegExp(`countersign_ledger_anchor_lag_seconds\\{tenant="${v.tenantId}"\\} [0-9.]+`));
      expect(metrics).toMatch(/countersign_ledger_anchor_export_failures_total [1-9]/);
      // The newest checkpoint may be made after the failure above and not be tried yet (pending): wait for its own failed try.
      const cp = await until("the newest checkpoint's failed export", async () => {
        const [newest] = (await call(v.url, "GET", "/ledger/checkpoints?order=desc&limit=1", { key: agent })).body.checkpoints;
        return newest?.export_status === "pending" ? undefined : newest;
      });
      expect(cp.export_status).toBe("failed");
      expect(cp.exported_at).toBeUndefined();

      outage = await startS3rverOn(port);
      const recovered = await until("the backlog exported after the outage", async () => {
        const status = (await call(v.url, "GET", "/readyz")).body.ledger.tenants[v.tenantId];
        return status?.unexported_checkpoints === 0 ? status : undefined;
      }, 20_000);
      expect(recovered.anchor_lag_seconds).toBe(0);
      expect(Buffer.from((await anchorStore.get(v.tenantId, "checkpoint"))!).toString("utf8")).toContain(`\n${recovered.tree_size}\n`);
    } finally {
      await v.close();
      await outage.close().catch(() => {}); // already closed when the test failed during the outage
      await ownDb.drop();
    }
  });

  it("start-up refuses a bucket without versioning when versioning is required", async () => {
    const anchorStore = new S3AnchorStore(s3Config(true), { credentials: S3RVER_CREDENTIALS });
    await expect(startTestVault(db, { overrides: { anchorStore } })).rejects.toThrow(/VAULT_LEDGER_REQUIRE_BUCKET_VERSIONING.*countersign-anchors|countersign-anchors.*VAULT_LEDGER_REQUIRE_BUCKET_VERSIONING/);
  });

  it("`countersign serve` configured from the environment exits 1 with that message, not a stack trace", async () => {
    const env = {
      ...process.env,
      DATABASE_URL: "memory://",
      LOG_LEVEL: "silent",
      VAULT_PORT: "0",
      VAULT_LEDGER_ANCHOR_BUCKET: "countersign-anchors",
      VAULT_LEDGER_ANCHOR_ENDPOINT: s3.endpoint,
      VAULT_LEDGER_ANCHOR_FORCE_PATH_STYLE: "true",
      VAULT_LEDGER_ANCHOR_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    };
    const failed = await run("node", ["--import", "tsx", "src/main/cli.ts", "serve"], { env }).then(
      () => undefined,
      (err: { code: number; stderr: string }) => err,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toMatch(/VAULT_LEDGER_REQUIRE_BUCKET_VERSIONING/);
    expect(failed?.stderr).not.toMatch(/\n\s+at /);
  });
});

describe("ledger operations on real PostgreSQL", () => {
  let db: TestDatabase;
  beforeAll(() => {
    db = newDatabase("postgres");
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("two vault processes on one database, both sequencing every 50 ms under concurrent load, never fork the tree", async () => {
    const env = { VAULT_LEDGER_ANCHOR_BACKFILL_INTERVAL_SECONDS: "0.05", VAULT_LEDGER_ANCHOR_BACKFILL_BATCH_SIZE: "7" };
    const a = await startTestVault(db, { env });
    const b = await startTestVault(db, { env, adminKey: a.adminKey });
    try {
      const agent = await newKey(a, "agent");
      await call(a.url, "POST", "/register-policy", { key: a.adminKey, body: refundPolicy });
      const answers = await Promise.all(Array.from({ length: 120 }, (_, i) => clearance(i % 2 ? a : b, agent, i % 3 === 0 ? 5000 : 10)));
      expect(answers.every((r) => r.status === 200)).toBe(true);
      await until("every event in a checkpoint", async () => {
        const [row] = await a.vault.ctx.tenantDbs.get(a.tenantId).then((sql) =>
          sql.query<{ n: number; size: number }>("SELECT (SELECT count(*) FROM ledger_events) AS n, (SELECT max(tree_size) FROM ledger_checkpoints) AS size"),
        );
        return Number(row!.n) === 120 && Number(row!.size) === 120 ? true : undefined;
      });
      const sql = await a.vault.ctx.tenantDbs.get(a.tenantId);
      const [leaves] = await sql.query<{ n: number; distinct_n: number; max: number }>(
        "SELECT count(leaf_index) AS n, count(DISTINCT leaf_index) AS distinct_n, max(leaf_index) AS max FROM ledger_events",
      );
      expect(leaves).toEqual({ n: 120, distinct_n: 120, max: 119 });
      const chain = await sql.query<{ checkpoint_id: number; prev_checkpoint_hash: string; checkpoint_hash: string }>(
        "SELECT checkpoint_id, prev_checkpoint_hash, checkpoint_hash FROM ledger_checkpoints ORDER BY checkpoint_id",
      );
      chain.forEach((cp, i) => expect(cp.prev_checkpoint_hash).toBe(i === 0 ? "" : chain[i - 1]!.checkpoint_hash));
      // The other process serves proofs of the same, single log.
      const bundleViaB = await call(b.url, "GET", `/ledger/proof/bundle?request_id=${answers[0]!.body.request_id}`, { key: agent });
      expect(bundleViaB.status).toBe(200);
      expect(bundleViaB.body.inclusion.tree_size).toBe(120);
    } finally {
      await b.close();
      await a.close();
    }
  });

  it("a sub-second interval puts each decision in a signed checkpoint within about a second, with no drain", async () => {
    const v = await startTestVault(db, { env: { VAULT_LEDGER_ANCHOR_BACKFILL_INTERVAL_SECONDS: "0.2" } });
    try {
      const agent = await newKey(v, "agent");
      const res = await clearance(v, agent, 10);
      const started = Date.now();
      const inclusion = await until("a checkpoint covering the decision", async () => {
        const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
        const [row] = await sql.query<{ covered: boolean }>(
          "SELECT EXISTS (SELECT 1 FROM ledger_events e JOIN ledger_checkpoints c ON c.tree_size > e.leaf_index WHERE e.request_id = $1) AS covered",
          [res.body.request_id],
        );
        return row?.covered ? true : undefined;
      }, 15_000);
      expect(inclusion).toBe(true);
      // The default interval is 30 s: a checkpoint within a few seconds shows the sub-second setting at work.
      // The lag itself is measured by `npm run bench`, not here.
      expect(Date.now() - started).toBeLessThan(5_000);
      const ready = await call(v.url, "GET", "/readyz");
      expect(ready.body.ledger).toMatchObject({ interval_ms: 200, anchor: "local" });
    } finally {
      await v.close();
    }
  });
});

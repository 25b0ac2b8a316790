/**
 * The ledger's own defences beyond the tamper cases: the event type committed by the signed uuid,
 * TRUNCATE refused, a right edge that may only grow and that the sequencer will not sign on top of
 * once altered, a database rolled back behind its anchor, and listings in tree order.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Sql } from "../../src/db/sql.js";
import { trustedKeysFromJwks, verifyProofBundle } from "../../src/ledger/verify/bundle-verifier.js";
import { fsckLedger } from "../../src/ledger/store/fsck.js";
import { asAttacker, buildLedger, fsck, publishedKeys, type BuiltLedger } from "../helpers/ledger-fixture.js";
import { call, newDatabase, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

for (const engine of ["pglite", "postgres"] as Engine[]) {
  describe(`ledger integrity on ${engine}`, () => {
    let db: TestDatabase;
    let v: TestVault;
    let sql: Sql;
    let built: BuiltLedger;
    let anchorDir: string;
    beforeAll(async () => {
      db = newDatabase(engine);
      anchorDir = path.join(await import("node:os").then((os) => os.tmpdir()), `cs-integrity-${Date.now()}-${engine}`);
      v = await startTestVault(db, { env: { VAULT_LEDGER_ANCHOR_BACKFILL_INTERVAL_SECONDS: "3600", VAULT_LEDGER_ANCHOR_DIR: anchorDir } });
      built = await buildLedger(v, [12, 9]);
      sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
    });
    afterAll(async () => {
      await v?.close();
      await db?.drop();
    });

    it("every event_uuid is a UUIDv8 naming its event type; a relabelled type fails fsck and the bundle check", async () => {
      const rows = await sql.query<{ seq: number; event_uuid: string; event_type: string; request_id: string }>("SELECT seq, event_uuid, event_type, request_id FROM ledger_events ORDER BY seq");
      const codes = ["clearance.approved", "clearance.denied", "clearance.pending_review", "review.approved", "review.denied", "review.cancelled_by_agent", "token.minted", "token.consumed"];
      for (const r of rows) expect(r.event_uuid[14]! + codes[parseInt(r.event_uuid[15]!, 16)]).toBe(`8${r.event_type}`);
      const denied = rows.find((r) => r.event_type === "clearance.denied")!;
      await asAttacker(sql, ["ledger_events"], "disable", async (tx) => void (await tx.query("UPDATE ledger_events SET event_type = 'clearance.approved' WHERE seq = $1", [denied.seq])));
      try {
        const report = await fsck(v);
        expect(report.problems).toEqual([
          { kind: "event", where: `event seq ${denied.seq} (${denied.event_uuid})`, detail: "event_type clearance.approved differs from the type its signed event_uuid commits to (clearance.denied)" },
        ]);
        const bundle = (await call(v.url, "GET", `/ledger/proof/bundle?request_id=${denied.request_id}`, { key: built.agent })).body;
        expect(bundle.event.event_type).toBe("clearance.approved");
        const keys = trustedKeysFromJwks((await call(v.url, "GET", "/.well-known/jwks.json")).body);
        const failed = verifyProofBundle(bundle, keys).checks.filter((c) => !c.ok);
        expect(failed.map((c) => c.name)).toEqual(["event type"]);
      } finally {
        await asAttacker(sql, ["ledger_events"], "disable", async (tx) => void (await tx.query("UPDATE ledger_events SET event_type = 'clearance.denied' WHERE seq = $1", [denied.seq])));
      }
      expect((await fsck(v)).ok).toBe(true);
    });

    it("refuses TRUNCATE on every ledger table", async () => {
      for (const table of ["ledger_events", "ledger_tiles", "ledger_partial_tiles", "ledger_state", "ledger_checkpoints"]) {
        await expect(sql.query(`TRUNCATE ${table} CASCADE`), table).rejects.toThrow(/append-only/);
      }
    });

    it("a right-edge tile may only grow, and the sequencer will not sign on top of an altered one", async () => {
      const [edge] = await sql.query<{ idx: number; hashes: Uint8Array }>("SELECT idx, hashes FROM ledger_partial_tiles WHERE level = 0");
      const altered = Buffer.from(edge!.hashes);
      altered[0] = altered[0]! ^ 1;
      await expect(sql.query("UPDATE ledger_partial_tiles SET hashes = $1 WHERE level = 0", [altered])).rejects.toThrow(/append-only/);
      const checkpointsBefore = (await sql.query("SELECT checkpoint_id FROM ledger_checkpoints")).length;
      await asAttacker(sql, ["ledger_partial_tiles"], "disable", async (tx) => void (await tx.query("UPDATE ledger_partial_tiles SET hashes = $1 WHERE level = 0", [altered])));
      try {
        const res = await call(v.url, "POST", "/request-clearance", { key: built.agent, body: { tool_name: "stripe_refund", tool_args: { amount: 45 } } });
        expect(res.body.status).toBe("approved"); // decisions go on; only sequencing stops
        await expect(v.vault.ctx.ledgerLoop.sequenceNow(v.tenantId)).rejects.toThrow(/partial tile tile\/0\/0 differs from the leaf hashes/);
        expect((await sql.query("SELECT checkpoint_id FROM ledger_checkpoints")).length).toBe(checkpointsBefore);
      } finally {
        await asAttacker(sql, ["ledger_partial_tiles"], "disable", async (tx) => void (await tx.query("UPDATE ledger_partial_tiles SET hashes = $1 WHERE level = 0", [edge!.hashes])));
      }
      await v.vault.ctx.ledgerLoop.drain();
      expect((await sql.query("SELECT checkpoint_id FROM ledger_checkpoints")).length).toBe(checkpointsBefore + 1);
      expect((await fsck(v)).ok).toBe(true);
    });

    it("fsck with the anchored checkpoint sees a database rolled back behind its anchor", async () => {
      const note = await readFile(path.join(anchorDir, v.tenantId, "checkpoint"), "utf8");
      const keys = await publishedKeys(v);
      expect(await fsckLedger(sql, keys, undefined, note)).toMatchObject({ ok: true, anchorChecked: true });
      const [newest] = await sql.query<Record<string, unknown>>("SELECT * FROM ledger_checkpoints ORDER BY checkpoint_id DESC LIMIT 1");
      await asAttacker(sql, ["ledger_checkpoints"], "disable", async (tx) => void (await tx.query("DELETE FROM ledger_checkpoints WHERE checkpoint_id = $1", [newest!.checkpoint_id])));
      try {
        expect((await fsckLedger(sql, keys, undefined)).ok).toBe(true); // the rows alone cannot tell
        const report = await fsckLedger(sql, keys, undefined, note);
        expect(report.problems).toEqual([
          { kind: "anchor", where: "anchored checkpoint", detail: expect.stringMatching(/^the anchor holds a signed tree of \d+ leaves that the database has no checkpoint for/) },
        ]);
      } finally {
        const cols = Object.keys(newest!);
        await asAttacker(sql, ["ledger_checkpoints"], "disable", async (tx) => void (await tx.query(`INSERT INTO ledger_checkpoints (${cols.join(", ")}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(", ")})`, cols.map((c) => newest![c]))));
      }
    });

    it("/ledger lists in tree order, so a page of N sequenced events is exactly leaves 0..N-1", async () => {
      const page = (await call(v.url, "GET", "/ledger?limit=10", { key: built.agent })).body.entries;
      expect(page.map((e: { leaf_index: number }) => e.leaf_index)).toEqual([...Array(10).keys()]);
      const next = (await call(v.url, "GET", "/ledger?limit=5&after_leaf_index=9", { key: built.agent })).body.entries;
      expect(next.map((e: { leaf_index: number }) => e.leaf_index)).toEqual([10, 11, 12, 13, 14]);
      const newest = (await call(v.url, "GET", "/ledger?limit=1&order=desc", { key: built.agent })).body.entries;
      const [max] = await sql.query<{ m: number }>("SELECT max(leaf_index) AS m FROM ledger_events");
      expect(newest[0].leaf_index).toBe(Number(max!.m));
    });
  });
}

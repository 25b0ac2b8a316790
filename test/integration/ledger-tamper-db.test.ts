import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sqlState, type Sql } from "../../src/db/sql.js";
import { asAttacker, buildLedger, flipByte, flipChar, fsck } from "../helpers/ledger-fixture.js";
import { CP, expectProblems, leafA, loadLayout, tamperCases, type Layout } from "../helpers/ledger-tamper-cases.js";
import { newDatabase, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

/**
 * Tamper evidence of the ledger tables: the append-only triggers stop an honest mistake; an attacker
 * who switches them off is caught by fsck, which names exactly what was changed and nothing else.
 */

// 21 + (20 + review + consume) + 3 × 100 + 9 = 352 events in six checkpoints: one full 256-leaf tile
// (tile/0/0), a partial level-0 tile of 96 and a level-1 tile of 1.
const ROUNDS = [21, 20, 100, 100, 100, 9];

async function refusal(sql: Sql, text: string, params: unknown[] = []): Promise<unknown> {
  try {
    await sql.query(text, params);
  } catch (err) {
    return err;
  }
  throw new Error(`the database accepted: ${text}`);
}

for (const engine of ["pglite", "postgres"] as Engine[]) {
  describe(`ledger tamper evidence in the database on ${engine}`, () => {
    let db: TestDatabase;
    let v: TestVault;
    let sql: Sql;
    let layout: Layout;

    beforeAll(async () => {
      db = newDatabase(engine);
      // The loop ticks once at start-up and then only when the test drains it.
      v = await startTestVault(db, { env: { VAULT_LEDGER_ANCHOR_BACKFILL_INTERVAL_SECONDS: "3600" } });
      await buildLedger(v, ROUNDS);
      sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
      layout = await loadLayout(sql);
    });
    afterAll(async () => {
      await v?.close();
      await db?.drop();
    });

    it("built a ledger of every event type, several checkpoints and a full tile, all through the vault", async () => {
      const types = await sql.query<{ event_type: string; n: number }>("SELECT event_type, count(*)::int AS n FROM ledger_events GROUP BY 1 ORDER BY 1");
      expect(types.map((t) => t.event_type)).toEqual(["clearance.approved", "clearance.denied", "clearance.pending_review", "review.approved", "token.consumed"]);
      expect(layout.size).toBe(352);
      expect(layout.checkpoints.map((c) => c.size)).toEqual([21, 43, 143, 243, 343, 352]);
      expect(layout.events.map((e) => e.leaf)).toEqual([...Array(352).keys()]);
      const tiles = await sql.query("SELECT level, idx FROM ledger_tiles");
      expect(tiles.map((t) => `${t.level}/${t.idx}`)).toEqual(["0/0"]);
    });

    it("fsck re-derives the untouched ledger cleanly, with the right counts", async () => {
      const report = await fsck(v);
      expect(report).toEqual({ ok: true, anchorChecked: false, events: 352, unsequenced: 0, tiles: 3, checkpoints: 6, treeSize: 352, problems: [] });
    });

    tamperCases.forEach((c, i) => {
      const how = i % 2 === 0 ? "disable" : "replica";
      it(`catches ${c.name} (triggers bypassed by ${how === "disable" ? "ALTER TABLE ... DISABLE TRIGGER USER" : "session_replication_role = replica"})`, async () => {
        let restore: ((tx: Sql) => Promise<void>) | undefined;
        await asAttacker(sql, c.tables, how, async (tx) => {
          restore = await c.apply(tx, layout);
        });
        try {
          const report = await fsck(v);
          expect(report.ok).toBe(false);
          expectProblems(report.problems, c.required(layout), c.allowed?.(layout) ?? []);
        } finally {
          // Put the original bytes back even when an assertion failed, so one case cannot spoil the next.
          await asAttacker(sql, c.tables, how, restore!);
        }
        expect(await fsck(v)).toMatchObject({ ok: true, problems: [], events: 352, checkpoints: 6 });
      });
    });

    it("the append-only triggers refuse plain UPDATEs and DELETEs of events, tiles and checkpoints (and are back on after the bypasses)", async () => {
      const e = layout.events[leafA(layout)]!;
      const cp = layout.checkpoints[CP - 1]!;
      const [tile] = await sql.query<{ hashes: Uint8Array }>("SELECT hashes FROM ledger_tiles WHERE level = 0 AND idx = 0");
      const attempts: Array<[string, unknown[]]> = [
        ["UPDATE ledger_events SET body = $1 WHERE seq = $2", [e.body.replace('"amount":', '"amount": '), e.seq]],
        ["UPDATE ledger_events SET event_hash = $1 WHERE seq = $2", [flipChar(e.event_hash, 3), e.seq]],
        ["UPDATE ledger_events SET receipt_signature = $1 WHERE seq = $2", [flipChar(e.receipt_signature, 30), e.seq]],
        // A sequenced event keeps its leaf index: even rewriting the same value is refused.
        ["UPDATE ledger_events SET leaf_index = leaf_index WHERE seq = $1", [e.seq]],
        ["DELETE FROM ledger_events WHERE seq = $1", [e.seq]],
        ["UPDATE ledger_tiles SET hashes = $1 WHERE level = 0 AND idx = 0", [flipByte(tile!.hashes, 100)]],
        ["DELETE FROM ledger_tiles", []],
        ["UPDATE ledger_checkpoints SET root_hash = $1 WHERE checkpoint_id = $2", [flipChar(cp.root_hash, 3), CP]],
        ["UPDATE ledger_checkpoints SET signature = $1 WHERE checkpoint_id = $2", [flipChar(cp.signature, 30), CP]],
        ["UPDATE ledger_checkpoints SET payload = $1 WHERE checkpoint_id = $2", [flipByte(cp.payload, 40), CP]],
        ["UPDATE ledger_checkpoints SET note = $1 WHERE checkpoint_id = $2", [`${cp.note} `, CP]],
        ["DELETE FROM ledger_checkpoints WHERE checkpoint_id = $1", [layout.checkpoints.length]],
      ];
      for (const [text, params] of attempts) {
        const err = await refusal(sql, text, params);
        const table = /ledger_\w+/.exec(text)![0];
        expect(String((err as Error).message), text).toContain(`ledger table ${table} is append-only`);
        expect(sqlState(err), text).toBe("42501");
      }
      // Export bookkeeping is the one thing that may change on a checkpoint.
      await sql.query("UPDATE ledger_checkpoints SET export_attempts = export_attempts WHERE checkpoint_id = 1");
      expect(await fsck(v)).toMatchObject({ ok: true, problems: [] });
    });
  });
}

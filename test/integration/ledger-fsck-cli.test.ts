import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Sql } from "../../src/db/sql.js";
import { asAttacker, buildLedger, flipChar, runCli } from "../helpers/ledger-fixture.js";
import { newPgDatabase, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

/** `countersign ledger fsck --tenant ID [--json]` as an operator runs it: a separate process on PostgreSQL. */

describe("countersign ledger fsck on real PostgreSQL", () => {
  let db: TestDatabase;
  let v: TestVault;
  let sql: Sql;
  let target: { seq: number; event_uuid: string; receipt_signature: string };
  const fsckCli = (...args: string[]) => runCli(["ledger", "fsck", ...args], { DATABASE_URL: db.url });

  beforeAll(async () => {
    db = newPgDatabase();
    v = await startTestVault(db, { env: { VAULT_LEDGER_ANCHOR_BACKFILL_INTERVAL_SECONDS: "3600" } });
    await buildLedger(v, [15, 10]);
    sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
    const [row] = await sql.query("SELECT seq, event_uuid, receipt_signature FROM ledger_events WHERE leaf_index = 20");
    target = { seq: Number(row!.seq), event_uuid: row!.event_uuid, receipt_signature: row!.receipt_signature };
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it("reports a clean ledger readably, exit 0", async () => {
    const out = await fsckCli("--tenant", v.tenantId);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain(`Ledger fsck for tenant ${v.tenantId}`);
    expect(out.stdout).toMatch(/^ {2}events +27 sequenced, 0 waiting +ok$/m);
    expect(out.stdout).toMatch(/^ {2}tree +27 leaves +ok$/m);
    expect(out.stdout).toMatch(/^ {2}checkpoints +2 checked +ok$/m);
    expect(out.stdout).toMatch(/^Result: OK, every leaf, tile, root and signature re-derived \(\d+\.\d s\)$/m);
    expect(out.stdout).not.toContain("Problems:");
  });

  it("--json gives the whole report as JSON", async () => {
    const out = await fsckCli("--tenant", v.tenantId, "--json");
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ tenant_id: v.tenantId, ok: true, events: 27, unsequenced: 0, treeSize: 27, checkpoints: 2, problems: [] });
  });

  it("after a tamper: exit 1, Result: FAIL and the problem line; --json lists it; clean again once restored", async () => {
    const set = (value: string) => (tx: Sql) => tx.query("UPDATE ledger_events SET receipt_signature = $1 WHERE seq = $2", [value, target.seq]).then(() => {});
    await asAttacker(sql, ["ledger_events"], "disable", set(flipChar(target.receipt_signature, 30)));
    try {
      const [text, json] = await Promise.all([fsckCli("--tenant", v.tenantId), fsckCli("--tenant", v.tenantId, "--json")]);
      expect(text.code, text.stderr).toBe(1);
      expect(text.stdout).toMatch(/^ {2}events +27 sequenced, 0 waiting +FAIL \(1\)$/m);
      expect(text.stdout).toMatch(/^ {2}checkpoints +2 checked +ok$/m);
      expect(text.stdout).toContain(`Problems:\n  event seq ${target.seq} (${target.event_uuid}): receipt signature does not verify\n`);
      expect(text.stdout).toMatch(/^Result: FAIL, 1 problem\(s\) \(\d+\.\d s\)$/m);
      expect(json.code).toBe(1);
      expect(JSON.parse(json.stdout)).toMatchObject({
        ok: false,
        problems: [{ kind: "event", where: `event seq ${target.seq} (${target.event_uuid})`, detail: "receipt signature does not verify" }],
      });
    } finally {
      await asAttacker(sql, ["ledger_events"], "disable", set(target.receipt_signature));
    }
    expect((await fsckCli("--tenant", v.tenantId)).code).toBe(0);
  });

  it("an unknown tenant is a usage error: exit 2, nothing on stdout", async () => {
    const out = await fsckCli("--tenant", "t_00000000000000000000");
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("no tenant t_00000000000000000000");
    expect(out.stdout).toBe("");
  });
});

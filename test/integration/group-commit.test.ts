import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GroupCommit, type GroupCommitSettings } from "../../src/db/group-commit.js";
import { PgDatabase, ensurePgDatabase, databaseNameOf } from "../../src/db/pg-database.js";
import { PgliteDatabase } from "../../src/db/pglite-database.js";
import type { Database } from "../../src/db/sql.js";
import { newDatabase, type Engine, type TestDatabase } from "../helpers/vault.js";

/**
 * Group commit on both engines, against the real databases: units share transactions, each is
 * acknowledged only after its batch committed, a failing unit fails alone, effects registered with
 * onCommit run once for what committed and never for what did not.
 */
async function openDatabase(engine: Engine, target: TestDatabase): Promise<Database> {
  if (engine === "postgres") {
    await ensurePgDatabase(target.url, databaseNameOf(target.url));
    return new PgDatabase(target.url, 4);
  }
  return PgliteDatabase.open(target.url);
}

for (const engine of ["postgres", "pglite"] as const) {
  describe(`group commit (${engine})`, () => {
    let target: TestDatabase;
    let db: Database;
    const batches: { size: number; fellBack: boolean }[] = [];
    const settings = (over: Partial<GroupCommitSettings> = {}): GroupCommitSettings => ({
      max: 16,
      waitMs: 5,
      maxInFlight: engine === "pglite" ? 1 : 2,
      sequential: engine === "pglite",
      lockTimeoutMs: 2000,
      ...over,
    });
    const observer = { batch: (size: number, fellBack: boolean) => void batches.push({ size, fellBack }) };

    beforeAll(async () => {
      target = newDatabase(engine);
      db = await openDatabase(engine, target);
      await db.exec("CREATE TABLE items (id text PRIMARY KEY, n int NOT NULL)");
    });

    afterAll(async () => {
      await db.close();
      await target.drop();
    });

    const insert = (id: string, n = 1) => (tx: Database | Parameters<Parameters<GroupCommit["run"]>[1]>[0]) =>
      tx.query("INSERT INTO items (id, n) VALUES ($1, $2) RETURNING id", [id, n]).then((rows) => (rows[0] as { id: string }).id);

    it("commits concurrent units in few transactions, each acknowledged only once its row is visible to others", async () => {
      batches.length = 0;
      const gc = new GroupCommit(db, settings(), observer);
      // A pooled read outside the transaction sees a row only after its commit (PGlite: one session,
      // so the read runs after the transaction is over whichever way).
      const seenAtAck = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          gc.run(`k${i}`, insert(`a${i}`)).then(async (id) => (await db.query("SELECT 1 FROM items WHERE id = $1", [id])).length),
        ),
      );
      expect(seenAtAck).toEqual(Array(40).fill(1));
      const total = batches.reduce((s, b) => s + b.size, 0);
      expect(total).toBe(40);
      expect(batches.length).toBeLessThan(40);
      expect(Math.max(...batches.map((b) => b.size))).toBeLessThanOrEqual(16);
      expect(batches.some((b) => b.fellBack)).toBe(false);
    });

    it("fails only the unit whose row fails; the others of its batch commit, with their effects run once", async () => {
      batches.length = 0;
      await db.query("INSERT INTO items (id, n) VALUES ('taken', 0)");
      const gc = new GroupCommit(db, settings({ waitMs: 50 }), observer);
      const effects: string[] = [];
      const unit = (id: string) =>
        gc.run(id, async (tx) => {
          const got = await insert(id)(tx);
          tx.onCommit(() => effects.push(id));
          return got;
        });
      const ids = ["b1", "b2", "taken", "b3", "b4"];
      const results = await Promise.allSettled(ids.map(unit));
      expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled", "fulfilled"]);
      expect(String((results[2] as PromiseRejectedResult).reason)).toMatch(/duplicate key|unique/i);
      expect((await db.query<{ id: string }>("SELECT id FROM items WHERE id LIKE 'b%' ORDER BY id")).map((r) => r.id)).toEqual(["b1", "b2", "b3", "b4"]);
      // The rolled-back batch ran no effect; each committed unit's ran exactly once.
      expect(effects.sort()).toEqual(["b1", "b2", "b3", "b4"]);
      expect(batches.some((b) => b.fellBack && b.size === 5)).toBe(true);
    });

    it("runs units with one key in arrival order inside a batch, each seeing the previous one's write", async () => {
      const gc = new GroupCommit(db, settings({ waitMs: 50 }), observer);
      await db.query("INSERT INTO items (id, n) VALUES ('counter', 0)");
      // Read-then-write units: interleaved, two would read the same value and one increment would be lost.
      const bump = () =>
        gc.run("counter", async (tx) => {
          const [row] = await tx.query<{ n: number }>("SELECT n FROM items WHERE id = 'counter' FOR UPDATE");
          await tx.query("UPDATE items SET n = $1 WHERE id = 'counter'", [row!.n + 1]);
          return row!.n;
        });
      const seen = await Promise.all(Array.from({ length: 10 }, bump));
      expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect((await db.query<{ n: number }>("SELECT n FROM items WHERE id = 'counter'"))[0]!.n).toBe(10);
    });

    it("with a batch size of 1, every unit is its own transaction", async () => {
      batches.length = 0;
      const gc = new GroupCommit(db, settings({ max: 1 }), observer);
      await Promise.all(["s1", "s2", "s3"].map((id) => gc.run(id, insert(id))));
      expect(batches).toEqual([]);
      expect((await db.query("SELECT id FROM items WHERE id LIKE 's%'")).length).toBe(3);
    });

    it("metrics that throw leave every unit settled", async () => {
      const gc = new GroupCommit(db, settings({ waitMs: 20 }), { batch: () => { throw new Error("observer broke"); } });
      await expect(Promise.all(["m1", "m2"].map((id) => gc.run(id, insert(id))))).resolves.toEqual(["m1", "m2"]);
    });

    // PostgreSQL only: PGlite has one session, so no other transaction can hold a lock meanwhile.
    if (engine === "postgres") it("a unit stuck behind another transaction's row lock holds its batch back only until the lock timeout", async () => {
      await db.query("INSERT INTO items (id, n) VALUES ('locked', 0)");
      const other = new pg.Client({ connectionString: target.url });
      await other.connect();
      try {
        await other.query("BEGIN");
        await other.query("SELECT * FROM items WHERE id = 'locked' FOR UPDATE");
        const gc = new GroupCommit(db, settings({ max: 2, waitMs: 20, lockTimeoutMs: 100 }), observer);
        const started = Date.now();
        const blocked = gc.run("locked", (tx) => tx.query("UPDATE items SET n = n + 1 WHERE id = 'locked'")).then(() => Date.now() - started);
        const unrelated = gc.run("free", insert("free")).then(() => Date.now() - started);
        // The unrelated unit commits on its own once the batch gave up on the lock; the other still waits.
        expect(await unrelated).toBeLessThan(700);
        await new Promise((r) => setTimeout(r, 800 - (Date.now() - started)));
        await other.query("COMMIT");
        expect(await blocked).toBeGreaterThanOrEqual(790);
        expect((await db.query<{ n: number }>("SELECT n FROM items WHERE id = 'locked'"))[0]!.n).toBe(1);
      } finally {
        await other.end();
      }
    });

    it("onCommit outside a transaction is refused, so an effect cannot precede its commit", async () => {
      expect(() => db.onCommit(() => {})).toThrow(/outside a transaction/);
      const ran: string[] = [];
      await expect(
        db.transaction(async (tx) => {
          await insert("d1")(tx);
          tx.onCommit(() => ran.push("d1"));
          throw new Error("changed my mind");
        }),
      ).rejects.toThrow("changed my mind");
      expect(ran).toEqual([]);
      expect((await db.query("SELECT id FROM items WHERE id = 'd1'")).length).toBe(0);
    });
  });
}

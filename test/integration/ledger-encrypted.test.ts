import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Sql } from "../../src/db/sql.js";
import { trustedKeysFromJwks, verifyProofBundle } from "../../src/ledger/verify/bundle-verifier.js";
import { asAttacker, buildLedger, flipChar, fsck, type BuiltLedger } from "../helpers/ledger-fixture.js";
import { expectProblems, type Matcher } from "../helpers/ledger-tamper-cases.js";
import { call, newDatabase, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

/**
 * VAULT_TRANSPORT_KEY_BASE64: ledger bodies are AES-256-GCM at rest, while hashes, receipts, proofs
 * and fsck keep working because they commit to the plaintext. Without the key the vault must say
 * so (503 ledger_key_unavailable), never fail with a 500 or serve ciphertext.
 */

const PREFIX = "aes256gcm:v1:";

for (const engine of ["pglite", "postgres"] as Engine[]) {
  describe(`encrypted ledger bodies on ${engine}`, () => {
    const sealingKey = randomBytes(32);
    const env = { VAULT_LEDGER_ANCHOR_BACKFILL_INTERVAL_SECONDS: "3600" };
    let db: TestDatabase;
    let v: TestVault;
    let sql: Sql;
    let built: BuiltLedger;
    let rows: Array<{ seq: number; event_uuid: string; body: string }>;

    beforeAll(async () => {
      db = newDatabase(engine);
      v = await startTestVault(db, { env: { ...env, VAULT_TRANSPORT_KEY_BASE64: sealingKey.toString("base64") } });
      built = await buildLedger(v, [9, 6, 4]);
      sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
      rows = (await sql.query<{ seq: number; event_uuid: string; body: string }>("SELECT seq, event_uuid, body FROM ledger_events ORDER BY seq")).map((r) => ({ ...r, seq: Number(r.seq) }));
    });
    afterAll(async () => {
      await v?.close();
      await db?.drop();
    });

    const eventAt = (r: { seq: number; event_uuid: string }, detail: RegExp): Matcher => ({ kind: "event", where: `event seq ${r.seq} (${r.event_uuid})`, detail });

    it("stores every body sealed, with no plaintext arguments in the column, and serves them decrypted", async () => {
      expect(rows).toHaveLength(21);
      for (const r of rows) {
        expect(r.body.startsWith(PREFIX), r.body.slice(0, 40)).toBe(true);
        expect(r.body).not.toMatch(/tool_args|amount|stripe_refund|order_id|r0-/);
      }
      // Same plaintext, fresh IV: two sealed bodies never repeat.
      expect(new Set(rows.map((r) => r.body)).size).toBe(rows.length);
      const ledger = await call(v.url, "GET", "/ledger?limit=100", { key: built.agent });
      expect(ledger.status).toBe(200);
      expect(ledger.body.entries).toHaveLength(21);
      // Tree order is commit order, which parallel requests do not fix: find the first request by its order id.
      const first = ledger.body.entries.find((e: { tool_args: { order_id?: string } }) => e.tool_args.order_id === "r0-0");
      expect(first.tool_args).toEqual({ amount: 45, order_id: "r0-0" });
    });

    it("proof bundles still verify against the JWKS, with a consistency proof for an older event", async () => {
      const jwks = (await call(v.url, "GET", "/.well-known/jwks.json")).body;
      const bundle = await call(v.url, "GET", `/ledger/proof/bundle?request_id=${built.rounds[0]![0]}`, { key: built.agent });
      expect(bundle.status, JSON.stringify(bundle.body)).toBe(200);
      expect(bundle.body.consistency).toBeDefined();
      expect(bundle.body.event.tool_args).toEqual({ amount: 45, order_id: "r0-0" });
      const report = verifyProofBundle(bundle.body, trustedKeysFromJwks(jwks));
      expect(report.checks.filter((c) => !c.ok)).toEqual([]);
      expect(report.ok).toBe(true);
      expect(report.checks.map((c) => c.name)).toEqual(expect.arrayContaining(["event hash", "receipt signature", "inclusion proof", "consistency proof", "c2sp checkpoint"]));
    });

    it("fsck is clean with the key, and without it reports every body unreadable but nothing else", async () => {
      expect(await fsck(v, sealingKey)).toMatchObject({ ok: true, events: 21, checkpoints: 3, problems: [] });
      const keyless = await fsck(v);
      expect(keyless.ok).toBe(false);
      expectProblems(keyless.problems, rows.map((r) => eventAt(r, /^body unreadable: this ledger entry is encrypted and VAULT_TRANSPORT_KEY_BASE64 is not set$/)));
      // A wrong key is not a missing one: the ciphertext fails to authenticate.
      const wrong = await fsck(v, randomBytes(32));
      expectProblems(wrong.problems, rows.map((r) => eventAt(r, /^body unreadable: encrypted ledger body does not authenticate/)));
    });

    it("a flipped ciphertext character, or a body moved onto another row, makes fsck report that body unreadable", async () => {
      const [target, donor] = [rows[4]!, rows[5]!];
      const at = PREFIX.length + 40;
      const tampered = flipChar(target.body, at);
      expect(tampered).not.toBe(target.body);
      const setBody = (body: string) => (tx: Sql) => tx.query("UPDATE ledger_events SET body = $1 WHERE seq = $2", [body, target.seq]).then(() => {});
      for (const [label, body] of [["flipped", tampered], ["moved", donor.body]] as const) {
        await asAttacker(sql, ["ledger_events"], "disable", setBody(body));
        try {
          const report = await fsck(v, sealingKey);
          expect(report.ok, label).toBe(false);
          // The stored hashes still agree with each other, so only the body is reported: no tile or checkpoint.
          expectProblems(report.problems, [eventAt(target, /^body unreadable: encrypted ledger body does not authenticate \(wrong key or altered ciphertext\)$/)]);
        } finally {
          await asAttacker(sql, ["ledger_events"], "disable", setBody(target.body));
        }
      }
      expect(await fsck(v, sealingKey)).toMatchObject({ ok: true, problems: [] });
    });

    it("a vault without the key refuses to start (it would write plaintext beside ciphertext)", async () => {
      await v.close();
      await expect(startTestVault(db, { env })).rejects.toThrow(/VAULT_TRANSPORT_KEY_BASE64: tenant .*'s ledger is encrypted/);
      v = await startTestVault(db, { env: { ...env, VAULT_TRANSPORT_KEY_BASE64: sealingKey.toString("base64") } });
    });

    it("a vault on the same database with another key answers 503 ledger_key_unavailable, never 500", async () => {
      await v.close();
      v = await startTestVault(db, { env: { ...env, VAULT_TRANSPORT_KEY_BASE64: randomBytes(32).toString("base64") } });
      const check = async (path: string) => {
        const res = await call(v.url, "GET", path, { key: built.agent });
        expect(res.status, `${path}: ${JSON.stringify(res.body)}`).toBe(503);
        expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
        expect(res.body).toMatchObject({ code: "ledger_key_unavailable", status: 503 });
        expect(JSON.stringify(res.body)).not.toContain(PREFIX);
      };
      await check("/ledger");
      await check(`/ledger/proof/bundle?request_id=${built.rounds[0]![0]}`);
      // What holds no body is still served: checkpoints and the signed note.
      const cps = await call(v.url, "GET", "/ledger/checkpoints", { key: built.agent });
      expect(cps.status).toBe(200);
      expect(cps.body.checkpoints).toHaveLength(3);
      expect((await call(v.url, "GET", "/ledger/checkpoint", { key: built.agent })).status).toBe(200);
    });
  });
}

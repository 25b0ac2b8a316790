import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { readdir } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { leafHash, rootFromLeafHashes, treeRootFrom } from "../../src/ledger/core/merkle.js";
import { parseVerifierKey } from "../../src/ledger/core/signed-note.js";
import { decodeEntryBundle, decodeTile, entriesPath, tilePath } from "../../src/ledger/core/tile-codec.js";
import { TileIndex } from "../../src/ledger/core/tiles.js";
import { openCheckpoint } from "../../src/ledger/core/tlog-checkpoint.js";
import { asAttacker, buildLedger, clearances, type BuiltLedger } from "../helpers/ledger-fixture.js";
import { call, newDatabase, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

/**
 * The local anchor directory is a C2SP tlog-tiles log an auditor can check with nothing but the
 * files and the verifier key: the signed `checkpoint` opens, and its root re-derives both from the
 * hash tiles and from the entry bundles. Full tiles are written once and never touched again.
 */

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

for (const engine of ["pglite", "postgres"] as Engine[]) {
  describe(`local anchor export on ${engine}`, () => {
    let db: TestDatabase;
    let v: TestVault;
    let built: BuiltLedger;
    let anchors: string;
    let tenantDir: string;
    const file = (p: string) => new Uint8Array(readFileSync(path.join(tenantDir, p)));
    const stamp = (p: string) => {
      const s = statSync(path.join(tenantDir, p));
      return { ino: s.ino, mtimeMs: s.mtimeMs, bytes: hex(file(p)) };
    };
    const newest = async () => (await call(v.url, "GET", "/ledger/checkpoints?order=desc&limit=1", { key: built.agent })).body.checkpoints[0];

    /** The root of a tree of `size` from the exported hash tiles alone (each read at the width that size implies). */
    const rootFromTiles = (size: number) =>
      hex(treeRootFrom(size, new TileIndex(size, (level, index, width) => decodeTile(file(tilePath(level, index, width)), width)).hashAt));

    /** The root of a tree of `size` from the exported entry bundles alone: leaf = SHA-256(0x00 || entry). */
    const entries = (size: number) =>
      Array.from({ length: Math.ceil(size / 256) }, (_, n) => {
        const width = Math.min(256, size - n * 256);
        return decodeEntryBundle(file(entriesPath(n, width)), width);
      }).flat();

    beforeAll(async () => {
      db = newDatabase(engine);
      anchors = mkdtempSync(path.join(os.tmpdir(), "cs-anchor-dir-"));
      v = await startTestVault(db, { env: { VAULT_LEDGER_ANCHOR_BACKFILL_INTERVAL_SECONDS: "3600", VAULT_LEDGER_ANCHOR_DIR: anchors } });
      tenantDir = path.join(anchors, v.tenantId);
      // 20, then 250 + review + consume: checkpoint 2 (272 leaves) closes the first full tile.
      built = await buildLedger(v, [20, 250]);
    });
    afterAll(async () => {
      await v?.close();
      await db?.drop();
      if (anchors) rmSync(anchors, { recursive: true, force: true });
    });

    it("exports every checkpoint, in the tlog-tiles layout, with no temporary files left", async () => {
      const cps = (await call(v.url, "GET", "/ledger/checkpoints", { key: built.agent })).body.checkpoints;
      expect(cps.map((c: any) => [c.checkpoint_id, c.tree_size, c.export_status])).toEqual([[1, 20, "exported"], [2, 272, "exported"]]);
      const files = (await readdir(tenantDir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => path.relative(tenantDir, path.join(e.parentPath, e.name)));
      expect(files.sort()).toEqual(
        ["checkpoint", "ledgix/checkpoints/1.json", "ledgix/checkpoints/2.json", "tile/0/000", "tile/0/000.p/20", "tile/0/001.p/16", "tile/1/000.p/1", "tile/entries/000", "tile/entries/000.p/20", "tile/entries/001.p/16"].sort(),
      );
      for (const cp of cps) {
        const exported = JSON.parse(Buffer.from(file(`ledgix/checkpoints/${cp.checkpoint_id}.json`)).toString("utf8"));
        expect(exported).toMatchObject({ checkpoint_id: cp.checkpoint_id, checkpoint_hash: cp.checkpoint_hash, root_hash: cp.root_hash, checkpoint_signature: cp.checkpoint_signature });
      }
    });

    it("the exported checkpoint opens with the published verifier key and is the newest checkpoint", async () => {
      const keyText: string = (await call(v.url, "GET", "/ledger/checkpoint-key", { key: built.agent })).body;
      const verifier = parseVerifierKey(keyText);
      const origin = verifier.name;
      const note = Buffer.from(file("checkpoint")).toString("utf8");
      const opened = openCheckpoint(note, [verifier], { origin });
      const latest = await newest();
      expect(opened.checkpoint.size).toBe(latest.tree_size);
      expect(hex(opened.checkpoint.rootHash)).toBe(latest.root_hash);
      expect(note).toBe((await call(v.url, "GET", "/ledger/checkpoint", { key: built.agent })).body);
      // The origin is pinned: the same key does not make another log's checkpoint acceptable.
      expect(() => openCheckpoint(note, [verifier], { origin: `${origin}-other` })).toThrow(/origin/);
    });

    it("re-derives every exported checkpoint's root from the hash tiles alone and from the entry bundles alone", async () => {
      const cps = (await call(v.url, "GET", "/ledger/checkpoints", { key: built.agent })).body.checkpoints;
      const events = (await call(v.url, "GET", "/ledger?limit=1000", { key: built.agent })).body.entries;
      const byLeaf = [...events].sort((a: any, b: any) => a.leaf_index - b.leaf_index).map((e: any) => e.event_hash);
      for (const cp of cps) {
        expect(rootFromTiles(cp.tree_size), `tiles, checkpoint ${cp.checkpoint_id}`).toBe(cp.root_hash);
        const bundleEntries = entries(cp.tree_size);
        expect(bundleEntries.every((e) => e.length === 32)).toBe(true);
        expect(bundleEntries.map(hex)).toEqual(byLeaf.slice(0, cp.tree_size));
        expect(hex(rootFromLeafHashes(bundleEntries.map((e) => leafHash(e)))), `entries, checkpoint ${cp.checkpoint_id}`).toBe(cp.root_hash);
      }
      // A smaller tree's partial tile is a prefix of the full tile that replaced it.
      expect(hex(file("tile/0/000")).startsWith(hex(file("tile/0/000.p/20")))).toBe(true);
    });

    it("never rewrites a full tile or entry bundle as the log grows, and moves the checkpoint forward", async () => {
      const immutable = ["tile/0/000", "tile/entries/000", "tile/0/000.p/20", "tile/entries/000.p/20", "ledgix/checkpoints/1.json"];
      const before = immutable.map(stamp);
      const oldNote = Buffer.from(file("checkpoint")).toString("utf8");
      await new Promise((resolve) => setTimeout(resolve, 20)); // so a rewrite would show in mtime
      await clearances(v, built.agent, 30, "grow");
      await v.vault.ctx.ledgerLoop.drain();
      expect(immutable.map(stamp)).toEqual(before);
      const latest = await newest();
      expect(latest).toMatchObject({ checkpoint_id: 3, tree_size: 302, export_status: "exported" });
      const note = Buffer.from(file("checkpoint")).toString("utf8");
      expect(note).not.toBe(oldNote);
      const verifier = parseVerifierKey((await call(v.url, "GET", "/ledger/checkpoint-key", { key: built.agent })).body);
      expect(hex(openCheckpoint(note, [verifier], { origin: verifier.name }).checkpoint.rootHash)).toBe(latest.root_hash);
      expect(rootFromTiles(302)).toBe(latest.root_hash);
      expect(hex(rootFromLeafHashes(entries(302).map((e) => leafHash(e))))).toBe(latest.root_hash);
    });

    it("a database rolled back behind the anchor cannot be exported over it: the forked checkpoint is refused", async () => {
      const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
      const note = Buffer.from(file("checkpoint")).toString("utf8");
      const exported3 = stamp("ledgix/checkpoints/3.json");
      // An attacker deletes the newest checkpoint; the next pass signs a different checkpoint 3.
      await asAttacker(sql, ["ledger_checkpoints"], "disable", (tx) => tx.query("DELETE FROM ledger_checkpoints WHERE checkpoint_id = 3").then(() => {}));
      await v.vault.ctx.ledgerLoop.drain();
      const [row] = await sql.query<{ export_status: string; export_error: string }>("SELECT export_status, export_error FROM ledger_checkpoints WHERE checkpoint_id = 3");
      expect(row!.export_status).toBe("failed");
      expect(row!.export_error).toMatch(/ledgix\/checkpoints\/3\.json already exists with different bytes/);
      expect(stamp("ledgix/checkpoints/3.json")).toEqual(exported3);
      expect(Buffer.from(file("checkpoint")).toString("utf8")).toBe(note);
      const ready = await call(v.url, "GET", "/readyz");
      expect(JSON.stringify(ready.body)).toContain("already exists with different bytes");
    });
  });
}

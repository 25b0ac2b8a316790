import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/ledger-fixture.js";
import { newSp, publicKeysets } from "../helpers/stepauth-sp.js";
import { newDatabase, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

/** `countersign stepauth senders add|list|remove` and `countersign stepauth hub show|rotate`, against a running vault. */
describe("countersign stepauth", () => {
  let db: TestDatabase;
  let v: TestVault;
  let dir: string;
  let env: Record<string, string>;
  const cli = async (args: string[]) => {
    const out = await runCli(["stepauth", ...args], env);
    return { ...out, json: out.code === 0 && args.includes("--json") ? JSON.parse(out.stdout) : undefined };
  };

  beforeAll(async () => {
    db = newDatabase("pglite");
    v = await startTestVault(db);
    dir = mkdtempSync(path.join(os.tmpdir(), "cs-stepauth-cli-"));
    env = { COUNTERSIGN_URL: v.url, COUNTERSIGN_API_KEY: v.adminKey };
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("adds, lists and removes a sender from keyset files", async () => {
    const sp = newSp("cli-sp.example.com");
    const file = path.join(dir, "keyset.json");
    writeFileSync(file, JSON.stringify(publicKeysets(sp)[0]));
    const added = await cli(["senders", "add", "--entity", sp.entity, "--keyset", file, "--callback-pattern", "https://cli-sp.example.com/cb/*", "--json"]);
    expect(added.code, added.stderr).toBe(0);
    expect(added.json).toMatchObject({ entity: sp.entity, callback_pattern: "https://cli-sp.example.com/cb/*", keysets: [{ keysetId: sp.keyset.keysetId }] });
    const listed = await cli(["senders", "list"]);
    expect(listed.stdout).toContain(`${added.json.id}  cli-sp.example.com  keysets ${sp.keyset.keysetId}  callback https://cli-sp.example.com/cb/*`);
    const removed = await cli(["senders", "remove", added.json.id]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toMatch(/removed .* removed$/m);
    // A keyset in the wrong order is the vault's 400, printed as an error (exit 1).
    const bad = path.join(dir, "bad.json");
    const ks = publicKeysets(newSp())[0]!;
    writeFileSync(bad, JSON.stringify({ ...ks, keys: [...ks.keys].reverse() }));
    const refused = await cli(["senders", "add", "--entity", "other.example.com", "--keyset", bad]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("validation_failed");
  });

  it("shows and rotates the hub keyset", async () => {
    const shown = await cli(["hub", "show", "--json"]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.json.keysets).toHaveLength(1);
    const rotated = await cli(["hub", "rotate"]);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.stdout).toMatch(/current, published/);
    expect(rotated.stdout).toContain(`${shown.json.keysets[0].keyset.keysetId}  retired`);
  });
});

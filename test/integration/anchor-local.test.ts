import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AnchorConfigError, AnchorConflictError, type AnchorObject } from "../../src/ledger/anchor/anchor-store.js";
import { createAnchorStore } from "../../src/ledger/anchor/create-anchor-store.js";
import { LocalAnchorStore } from "../../src/ledger/anchor/local-anchor-store.js";
import { entriesPath, tilePath } from "../../src/ledger/core/tile-codec.js";

const TENANT = "t_0123456789abcdef0123";
const bytes = (text: string) => new TextEncoder().encode(text);
const tile = (p: string, body: string, immutable = true): AnchorObject => ({ path: p, body: bytes(body), contentType: "application/octet-stream", immutable });
const checkpoint = (body: string): AnchorObject => ({ path: "checkpoint", body: bytes(body), contentType: "text/plain; charset=utf-8", immutable: false });

/** Every file under dir, relative, sorted (temporary files included, so leftovers show up). */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

let root: string;
let store: LocalAnchorStore;

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "anchor-local-test-"));
  store = new LocalAnchorStore(path.join(root, "anchors"));
});

afterEach(async () => {
  await store.close();
  await fs.rm(root, { recursive: true, force: true });
});

describe("local anchor store layout", () => {
  it("writes the C2SP tlog-tiles layout under <dir>/<tenant>/ and returns file URIs", async () => {
    const objects = [tile(tilePath(0, 0), "full"), tile(tilePath(0, 1, 5), "partial", false), tile(entriesPath(0, 5), "bundle"), tile(tilePath(1, 1234067), "deep"), checkpoint("cp1\n")];
    const last = await store.put(TENANT, objects);

    const tenantDir = path.join(root, "anchors", TENANT);
    expect(await listFiles(path.join(root, "anchors"))).toEqual(
      [`${TENANT}/checkpoint`, `${TENANT}/tile/0/000`, `${TENANT}/tile/0/001.p/5`, `${TENANT}/tile/1/x001/x234/067`, `${TENANT}/tile/entries/000.p/5`].sort(),
    );
    expect(await fs.readFile(path.join(tenantDir, "tile/0/001.p/5"), "utf8")).toBe("partial");
    expect(await fs.readFile(path.join(tenantDir, "checkpoint"), "utf8")).toBe("cp1\n");
    expect(last).toBe(pathToFileURL(path.join(tenantDir, "checkpoint")).href);
    expect(store.target(TENANT)).toBe(`${pathToFileURL(tenantDir).href}/`);
    expect(store.kind).toBe("local");
  });

  it("keeps tenants apart and returns the target for an empty batch", async () => {
    await store.put("t_aaaa", [checkpoint("a")]);
    await store.put("t_bbbb", [checkpoint("b")]);
    expect(new TextDecoder().decode(await store.get("t_aaaa", "checkpoint"))).toBe("a");
    expect(new TextDecoder().decode(await store.get("t_bbbb", "checkpoint"))).toBe("b");
    expect(await store.put("t_cccc", [])).toBe(store.target("t_cccc"));
  });
});

describe("atomic writes", () => {
  it("replaces a mutable file by rename: a reader holding the old file still sees all of the old bytes", async () => {
    await store.put(TENANT, [checkpoint("first checkpoint\n")]);
    const file = path.join(root, "anchors", TENANT, "checkpoint");
    const oldReader = await fs.open(file, "r");
    try {
      await store.put(TENANT, [checkpoint("second, longer checkpoint\n")]);
      // An in-place rewrite (truncate + write) would show the new or a truncated content through this descriptor.
      expect((await oldReader.readFile()).toString()).toBe("first checkpoint\n");
    } finally {
      await oldReader.close();
    }
    expect(await fs.readFile(file, "utf8")).toBe("second, longer checkpoint\n");
  });

  it("never lets a concurrent reader see a torn or empty checkpoint", async () => {
    const size = 1 << 20;
    const a = checkpoint("a".repeat(size));
    const b = checkpoint("b".repeat(size));
    await store.put(TENANT, [a]);
    const file = path.join(root, "anchors", TENANT, "checkpoint");
    let writing = true;
    const writer = (async () => {
      for (let i = 0; i < 20; i++) await store.put(TENANT, [i % 2 ? a : b]);
      writing = false;
    })();
    let reads = 0;
    while (writing) {
      const text = await fs.readFile(file, "latin1");
      reads++;
      expect(text.length).toBe(size);
      expect(text === "a".repeat(size) || text === "b".repeat(size)).toBe(true);
    }
    await writer;
    expect(reads).toBeGreaterThan(0);
    expect(await listFiles(path.join(root, "anchors"))).toEqual([`${TENANT}/checkpoint`]);
  });

  it("removes its temporary file when the final rename fails", async () => {
    await fs.mkdir(path.join(root, "anchors", TENANT, "checkpoint"), { recursive: true });
    await expect(store.put(TENANT, [checkpoint("x")])).rejects.toThrow(/EISDIR|EEXIST|ENOTEMPTY|directory/);
    expect(await listFiles(path.join(root, "anchors"))).toEqual([]);
  });
});

describe("immutable objects", () => {
  it("skips an identical rewrite without touching the file", async () => {
    await store.put(TENANT, [tile("tile/0/000", "same bytes")]);
    const file = path.join(root, "anchors", TENANT, "tile/0/000");
    const before = await fs.stat(file);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await store.put(TENANT, [tile("tile/0/000", "same bytes")]);
    const after = await fs.stat(file);
    expect(after.ino).toBe(before.ino);
    expect(after.mtimeMs).toBe(before.mtimeMs);
    expect(await listFiles(path.join(root, "anchors", TENANT))).toEqual(["tile/0/000"]);
  });

  it("throws AnchorConflictError on different bytes, keeps the original and stops the batch before the checkpoint", async () => {
    await store.put(TENANT, [tile("tile/0/000", "original"), checkpoint("cp1")]);
    const attempt = store.put(TENANT, [tile("tile/0/000", "rewritten"), checkpoint("cp2")]);
    await expect(attempt).rejects.toBeInstanceOf(AnchorConflictError);
    await expect(attempt).rejects.toThrow(/tile\/0\/000.*different bytes/);
    expect(new TextDecoder().decode(await store.get(TENANT, "tile/0/000"))).toBe("original");
    expect(new TextDecoder().decode(await store.get(TENANT, "checkpoint"))).toBe("cp1");
  });

  it("lets exactly one of two racing writers of different bytes win", async () => {
    for (let round = 0; round < 10; round++) {
      const p = `tile/entries/${String(round).padStart(3, "0")}`;
      const results = await Promise.allSettled([store.put(TENANT, [tile(p, "writer one")]), store.put(TENANT, [tile(p, "writer two")])]);
      const won = results.filter((r) => r.status === "fulfilled");
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(lost[0]!.reason).toBeInstanceOf(AnchorConflictError);
      const winner = results[0]!.status === "fulfilled" ? "writer one" : "writer two";
      expect(new TextDecoder().decode(await store.get(TENANT, p))).toBe(winner);
    }
    expect((await listFiles(path.join(root, "anchors"))).filter((f) => f.includes(".tmp"))).toEqual([]);
  });
});

describe("path and tenant validation", () => {
  const badPaths = ["", "/etc/passwd", "../escape", "tile/../../escape", "tile/./0", "tile//0", "tile/0/", ".hidden", "tile/.0", "a b", "tile/0/000%2f", "tile\\0", "t\u00e9", "x".repeat(513)];
  it.each(badPaths)("refuses object path %j in put and get, writing nothing", async (bad) => {
    await expect(store.put(TENANT, [checkpoint("ok"), tile(bad, "evil")])).rejects.toThrow(/invalid anchor object path/);
    await expect(store.get(TENANT, bad)).rejects.toThrow(/invalid anchor object path/);
    await expect(fs.readdir(root)).resolves.toEqual([]);
  });

  it.each(["", ".", "..", "a/b", "../x", ".x", "t x", "x".repeat(129)])("refuses tenant id %j", async (bad) => {
    await expect(store.put(bad, [checkpoint("ok")])).rejects.toThrow(/invalid anchor tenant id/);
    await expect(store.get(bad, "checkpoint")).rejects.toThrow(/invalid anchor tenant id/);
    expect(() => store.target(bad)).toThrow(/invalid anchor tenant id/);
    await expect(fs.readdir(root)).resolves.toEqual([]);
  });
});

describe("get", () => {
  it("returns the stored bytes, and undefined for absent objects", async () => {
    const body = new Uint8Array([0, 1, 2, 255]);
    await store.put(TENANT, [{ path: "tile/0/000", body, contentType: "application/octet-stream", immutable: true }]);
    expect(await store.get(TENANT, "tile/0/000")).toEqual(body);
    expect(await store.get(TENANT, "tile/0/001")).toBeUndefined();
    expect(await store.get("t_other", "checkpoint")).toBeUndefined();
    // A path running through a file (ENOTDIR) is absent too, not an error.
    expect(await store.get(TENANT, "tile/0/000/x")).toBeUndefined();
  });
});

describe("checkReady and createAnchorStore", () => {
  it("creates the directory and passes when it is writable", async () => {
    await store.checkReady();
    await store.checkReady(TENANT);
    expect((await fs.stat(path.join(root, "anchors", TENANT))).isDirectory()).toBe(true);
    expect(await listFiles(path.join(root, "anchors"))).toEqual([]);
  });

  it("throws AnchorConfigError naming VAULT_LEDGER_ANCHOR_DIR when the directory cannot be created", async () => {
    await fs.writeFile(path.join(root, "a-file"), "not a directory");
    const blocked = new LocalAnchorStore(path.join(root, "a-file", "anchors"));
    const check = blocked.checkReady();
    await expect(check).rejects.toBeInstanceOf(AnchorConfigError);
    await expect(check).rejects.toThrow(/^VAULT_LEDGER_ANCHOR_DIR: .*a-file\/anchors is not writable \(ENOTDIR/);
  });

  it("uses the configured directory, and a fresh temporary one for memory:// that close removes", async () => {
    const dir = path.join(root, "configured");
    const configured = await createAnchorStore({ kind: "local", dir });
    expect(configured.kind).toBe("local");
    expect(configured.target(TENANT)).toBe(`${pathToFileURL(path.join(dir, TENANT)).href}/`);
    await configured.close();

    const memory = await createAnchorStore({ kind: "local", dir: "memory://" });
    const other = await createAnchorStore({ kind: "local", dir: "memory://" });
    const memoryDir = (memory as LocalAnchorStore).dir;
    expect(memoryDir.startsWith(os.tmpdir())).toBe(true);
    expect(memoryDir).not.toBe((other as LocalAnchorStore).dir);
    await memory.put(TENANT, [checkpoint("in memory")]);
    expect(new TextDecoder().decode(await memory.get(TENANT, "checkpoint"))).toBe("in memory");
    await memory.close();
    await other.close();
    await expect(fs.stat(memoryDir)).rejects.toThrow(/ENOENT/);
  });
});

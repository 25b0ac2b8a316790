import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { sealBody, openBody, LedgerBodyError } from "../../src/ledger/core/body-cipher.js";
import { eventTypeOfUuid, eventUuidFor } from "../../src/ledger/core/event-uuid.js";
import { consistencyPlan, consistencyProof, inclusionPlan, inclusionProof, proofFromPlan } from "../../src/ledger/core/merkle.js";
import { TileCache } from "../../src/ledger/store/tile-cache.js";
import { appendLeaves, TileIndex, type Tile } from "../../src/ledger/core/tiles.js";
import { LEDGER_EVENT_TYPES } from "../../src/ledger/core/wire.js";

const leaf = (i: number) => new Uint8Array(createHash("sha256").update(`leaf ${i}`).digest());

describe("event uuids commit to the event type", () => {
  it.each(LEDGER_EVENT_TYPES.map((t) => [t]))("%s round-trips through a valid RFC 9562 UUIDv8", (type) => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const uuid = eventUuidFor(type);
      expect(uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(eventTypeOfUuid(uuid)).toBe(type);
      seen.add(uuid);
    }
    expect(seen.size).toBe(50);
  });

  it("other uuids commit to no type", () => {
    expect(eventTypeOfUuid("00000000-0000-4000-8000-000000000001")).toBeUndefined();
    expect(eventTypeOfUuid("00000000-0000-8f00-8000-000000000001")).toBeUndefined(); // code 15: no such type
    expect(eventTypeOfUuid("00000000-0000-8000-c000-000000000001")).toBeUndefined(); // wrong variant
    expect(eventTypeOfUuid("not a uuid")).toBeUndefined();
  });
});

describe("tile cache", () => {
  const build = (n: number) => {
    const all = new Map<string, Tile>();
    const state = appendLeaves({ treeSize: 0, rightEdgeTiles: [] }, Array.from({ length: n }, (_, i) => leaf(i)));
    for (const t of state.changed) all.set(`${t.level}/${t.index}`, t);
    return (level: number, index: number) => all.get(`${level}/${index}`)?.hashes ?? [];
  };

  it("proofs through cached inner nodes equal proofs from the leaves, for every shape up to two tile levels", () => {
    const leaves = Array.from({ length: 70_000 }, (_, i) => leaf(i));
    const getTile = build(70_000);
    const cache = new TileCache(8);
    for (const [m, n] of [[1, 1], [255, 256], [256, 257], [1000, 65_536], [65_535, 65_537], [12_345, 70_000], [69_999, 70_000]] as const) {
      const cached = new TileIndex(n, getTile, (tile, hashes) => {
        cache.put("t", tile, hashes);
        return cache.levels("t", tile, hashes);
      });
      expect(proofFromPlan(inclusionPlan(m - 1, n), cached.hashAt)).toEqual(inclusionProof(leaves, m - 1, n));
      if (m < n) expect(proofFromPlan(consistencyPlan(m, n), cached.hashAt)).toEqual(consistencyProof(leaves, m, n));
    }
  });

  it("stays within its bound and keeps the most recently used tiles", () => {
    const cache = new TileCache(2);
    const ref = (index: number) => ({ level: 0, index, width: 256 });
    const hashes = Array.from({ length: 256 }, (_, i) => leaf(i));
    cache.put("t", ref(0), hashes);
    cache.put("t", ref(1), hashes);
    expect(cache.get("t", ref(0))).toBeDefined(); // refreshes tile 0
    cache.put("t", ref(2), hashes);
    expect(cache.get("t", ref(1))).toBeUndefined();
    expect(cache.get("t", ref(0))).toBeDefined();
    expect(cache.get("other-tenant", ref(0))).toBeUndefined();
    expect(cache.get("t", { level: 0, index: 0, width: 255 })).toBeUndefined(); // another width is another tile
  });
});

describe("ledger body encryption", () => {
  const key = Buffer.alloc(32, 7);
  it("round-trips, binds the ciphertext to its event, and refuses a wrong key or a flipped byte", () => {
    const sealed = sealBody('{"a":1}', "uuid-1", key);
    expect(sealed.startsWith("aes256gcm:v1:")).toBe(true);
    expect(sealed).not.toContain('"a"');
    expect(openBody(sealed, "uuid-1", key)).toBe('{"a":1}');
    expect(() => openBody(sealed, "uuid-2", key)).toThrow(LedgerBodyError);
    expect(() => openBody(sealed, "uuid-1", Buffer.alloc(32, 8))).toThrow(LedgerBodyError);
    expect(() => openBody(sealed, "uuid-1", undefined)).toThrow(/VAULT_TRANSPORT_KEY_BASE64 is not set/);
    const raw = Buffer.from(sealed.slice("aes256gcm:v1:".length), "base64");
    raw[20] = raw[20]! ^ 1;
    expect(() => openBody(`aes256gcm:v1:${raw.toString("base64")}`, "uuid-1", key)).toThrow(/does not authenticate/);
    expect(sealBody('{"a":1}', "uuid-1", undefined)).toBe('{"a":1}');
    expect(sealBody("x", "u", key)).not.toBe(sealBody("x", "u", key)); // a fresh nonce every time
  });
});

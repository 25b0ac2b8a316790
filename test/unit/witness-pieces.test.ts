import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { verifierKeyString } from "../../src/ledger/core/signed-note.js";
import { cosignatureVerifierKey } from "../../src/ledger/core/tlog-cosignature.js";
import { generateWitnessKey, parseWitnessKey, readWitnessKey, WitnessKeyError } from "../../src/witness/witness-key.js";
import { parseTrustedLogs, WitnessLogError } from "../../src/witness/witness-logs.js";

const tmp = mkdtempSync(path.join(os.tmpdir(), "witness-pieces-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const TESSERA_KEY = "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx";
const key = (fill: number) => new Uint8Array(32).fill(fill);

describe("the witness's --log values", () => {
  it("takes a vkey (origin = its name) or '<origin> <vkey>', and several keys per origin", () => {
    const a = verifierKeyString("vault.example.com/ledger/t1", key(1));
    const b = verifierKeyString("vault.example.com/ledger/t1", key(2));
    const logs = parseTrustedLogs([TESSERA_KEY, a, b, a, `other origin line ${verifierKeyString("k", key(3))}`]);
    expect([...logs.keys()]).toEqual(["example.com/log/testdata", "vault.example.com/ledger/t1", "other origin line"]);
    expect(logs.get("vault.example.com/ledger/t1")!.map((k) => k.publicKey[0])).toEqual([1, 2]);
    expect(logs.get("other origin line")![0]!.name).toBe("k");
  });

  it("refuses no logs, a malformed key, and a witness (cosignature) key given as a log key", () => {
    expect(() => parseTrustedLogs([])).toThrow(WitnessLogError);
    for (const bad of ["nonsense", `${TESSERA_KEY}x`, cosignatureVerifierKey("w.example/1", key(4)), `  ${verifierKeyString("a", key(1)).replace("+", "+0")}`]) {
      expect(() => parseTrustedLogs([bad]), bad).toThrow(WitnessLogError);
    }
  });
});

describe("the witness key file", () => {
  it("is written 0600, never overwritten, and reads back to the same vkey", async () => {
    const file = path.join(tmp, "w.key");
    const made = await generateWitnessKey("w.example/1", file);
    expect(made.vkey).toBe(cosignatureVerifierKey("w.example/1", made.publicKey));
    expect(readFileSync(file, "utf8")).toMatch(/^PRIVATE\+KEY\+w\.example\/1\+[0-9a-f]{8}\+B[A-Za-z0-9+/]{43}\n$/);
    expect((await readWitnessKey(file)).vkey).toBe(made.vkey);
    await expect(generateWitnessKey("w.example/1", file)).rejects.toThrow(/never overwritten/);
    chmodSync(file, 0o644);
    await expect(readWitnessKey(file)).rejects.toThrow(/chmod 600/);
    await expect(readWitnessKey(path.join(tmp, "missing.key"))).rejects.toThrow(WitnessKeyError);
    await expect(generateWitnessKey("bad name", path.join(tmp, "x.key"))).rejects.toThrow(WitnessKeyError);
  });

  it("refuses a file whose name, key ID or type do not belong together, without echoing the key", async () => {
    const text = readFileSync(path.join(tmp, "w.key"), "utf8");
    // PRIVATE+KEY+<name>+<id>+<base64>: the base64 may itself hold "+", so split at the first four only.
    const m = /^PRIVATE\+KEY\+([^+]+)\+([0-9a-f]{8})\+(\S+)\n$/.exec(text)!;
    const [name, id, b64] = [m[1]!, m[2]!, m[3]!];
    expect(parseWitnessKey(text).name).toBe(name);
    const seedB64 = b64;
    const cases = [
      "",
      "PRIVATE+KEY+",
      text.replace("w.example/1", "w.example/2"),
      text.replace(`+${id}+`, "+00000000+"),
      `PRIVATE+KEY+${name}+${id}+${Buffer.concat([Buffer.of(1), Buffer.from(seedB64, "base64").subarray(1)]).toString("base64")}`,
      `PRIVATE+KEY+${name}+${id}+${b64}==`,
      `${text}extra\n`,
    ];
    for (const bad of cases) {
      let err: unknown;
      try {
        parseWitnessKey(bad);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(bad.slice(0, 30))).toBeInstanceOf(WitnessKeyError);
      expect((err as Error).message).not.toContain(seedB64);
    }
    writeFileSync(path.join(tmp, "bad.key"), "PRIVATE+KEY+x+00000000+AA==\n", { mode: 0o600 });
    await expect(readWitnessKey(path.join(tmp, "bad.key"))).rejects.toThrow(WitnessKeyError);
  });
});

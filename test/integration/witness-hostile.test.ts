/**
 * `countersign witness` (in process, real HTTP and a real state directory) against what an outsider or
 * a sloppy log can send, and the corners of C2SP tlog-witness / tlog-cosignature that the main suite
 * (witness-server.test.ts) does not reach: request targets that are not paths, evidence an outsider
 * tries to multiply, notes with extension lines or several signatures, odd origins, equal sizes with
 * proof lines, and a lock file that a second witness reads while the first is still creating it.
 * Cosignatures are checked with the test-local C2SP verifier (node:crypto, from the spec text).
 */
import { generateKeyPairSync, randomBytes, sign as edSign } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consistencyProof, leafHash, rootFromLeafHashes } from "../../src/ledger/core/merkle.js";
import { signNote, verifierKeyString } from "../../src/ledger/core/signed-note.js";
import { formatCheckpoint } from "../../src/ledger/core/tlog-checkpoint.js";
import { formatAddCheckpoint } from "../../src/ledger/core/tlog-witness.js";
import { generateWitnessKey } from "../../src/witness/witness-key.js";
import { startWitness, type RunningWitness } from "../../src/witness/start.js";
import { WitnessStateError, WitnessStateStore } from "../../src/witness/witness-state.js";
import { c2spCosignaturesBy, c2spSplitNote } from "../helpers/c2sp-cosignature-verifier.js";

const silent = pino({ level: "silent" });
const tmp = mkdtempSync(path.join(os.tmpdir(), "witness-hostile-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A log: an Ed25519 note key named `keyName` (the origin unless given), and its leaves. */
class Log {
  readonly leaves: Uint8Array[] = [];
  private readonly key = generateKeyPairSync("ed25519");
  readonly publicKey = new Uint8Array(Buffer.from(this.key.publicKey.export({ format: "jwk" }).x as string, "base64url"));
  constructor(
    readonly origin: string,
    readonly keyName = origin,
  ) {
    for (let i = 0; i < 40; i++) this.leaves.push(leafHash(Buffer.from(`${origin} leaf ${i}`)));
  }
  get vkey(): string {
    return verifierKeyString(this.keyName, this.publicKey);
  }
  body(size: number, opts: { root?: Uint8Array; extensions?: string[] } = {}): string {
    const root = opts.root ?? rootFromLeafHashes(this.leaves.slice(0, size));
    // By hand when the origin is not a key name (spaces): formatCheckpoint only writes our own logs' form.
    if (/\s/.test(this.origin)) return [this.origin, String(size), Buffer.from(root).toString("base64"), ...(opts.extensions ?? [])].join("\n") + "\n";
    return formatCheckpoint({ origin: this.origin, size, rootHash: root, extensions: opts.extensions });
  }
  sign(body: string): Promise<string> {
    return signNote(body, this.keyName, (m) => new Uint8Array(edSign(null, m, this.key.privateKey)), this.publicKey);
  }
  proof(m: number, n: number): Uint8Array[] {
    return consistencyProof(this.leaves, m, n);
  }
}

async function post(url: string, body: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${url}/add-checkpoint`, { method: "POST", body });
  return { status: res.status, body: await res.text() };
}

/** The status line of a raw HTTP/1.1 request with `target` as its request target. */
function rawStatus(url: string, target: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(`POST ${target} HTTP/1.1\r\nHost: w\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`));
    let got = "";
    socket.on("data", (d) => (got += d.toString("latin1")));
    socket.on("error", reject);
    socket.on("close", () => resolve(got.split("\r\n")[0] ?? ""));
  });
}

describe("countersign witness against hostile and unusual submissions", () => {
  const log = new Log("vault.example.com/ledger/hostile");
  const odd = new Log("logs.example/ünïcode ✓ with spaces", "logs.example/odd-key");
  const second = generateKeyPairSync("ed25519");
  const secondPublic = new Uint8Array(Buffer.from(second.publicKey.export({ format: "jwk" }).x as string, "base64url"));
  const stateDir = path.join(tmp, "state");
  let w: RunningWitness;
  let vkey: string;

  beforeAll(async () => {
    const keyFile = path.join(tmp, "witness.key");
    vkey = (await generateWitnessKey("witness.example.org/hostile", keyFile)).vkey;
    // The first log also trusts a second key (a log rotating keys); the odd log's origin is not its key name.
    const logs = [log.vkey, `${log.origin} ${verifierKeyString(log.origin, secondPublic)}`, `${odd.origin} ${odd.vkey}`];
    w = await startWitness({ host: "127.0.0.1", port: 0, keyFile, stateDir, logs, log: silent });
  });
  afterAll(async () => w?.close());

  it("answers request targets that are not paths with a 4xx, never a 500", async () => {
    for (const target of ["//[", "http://[::1", "//elsewhere.example/add-checkpoint", "*", "/add-checkpoint/..%2f"]) {
      const status = await rawStatus(w.url, target);
      expect(status, target).toMatch(/^HTTP\/1\.1 4\d\d /);
    }
    expect((await post(w.url, "")).status).toBe(400);
  });

  it("cosigns a checkpoint with extension lines over its whole body, extensions included", async () => {
    const body = log.body(5, { extensions: ["ext line one", "ünïcode extension"] });
    const note = await log.sign(body);
    const a = await post(w.url, formatAddCheckpoint({ oldSize: 0, proof: [], note }));
    expect(a.status, a.body).toBe(200);
    const [cosignature] = c2spCosignaturesBy(note + a.body, vkey);
    expect(cosignature).toMatchObject({ valid: true });
    // The same line over the body without the extensions does not verify: they are part of the message.
    const bare = `${log.body(5)}\n${c2spSplitNote(note).lines.join("\n")}\n${a.body}`;
    expect(c2spCosignaturesBy(bare, vkey)[0]).toMatchObject({ valid: false });
  });

  it("takes a note signed by several keys (trusted, rotated-in and unknown), and refuses one whose trusted signature is bad", async () => {
    const body = log.body(8);
    const bySecond = await signNote(body, log.origin, (m) => new Uint8Array(edSign(null, m, second.privateKey)), secondPublic);
    const stranger = generateKeyPairSync("ed25519");
    const strangerPublic = new Uint8Array(Buffer.from(stranger.publicKey.export({ format: "jwk" }).x as string, "base64url"));
    const byStranger = await signNote(body, "stranger.example/key", (m) => new Uint8Array(edSign(null, m, stranger.privateKey)), strangerPublic);
    const lines = [await log.sign(body), bySecond, byStranger].map((n) => c2spSplitNote(n).lines[0]!);
    const note = `${body}\n${lines[2]}\n${lines[0]}\n${lines[1]}\n`;
    expect((await post(w.url, formatAddCheckpoint({ oldSize: 5, proof: log.proof(5, 8), note }))).status).toBe(200);
    // A trusted key's line that does not verify spoils the note (signed-note: clients SHOULD reject it), even beside a good one.
    const body9 = log.body(9);
    const good = c2spSplitNote(await log.sign(body9)).lines[0]!;
    const badSecond = c2spSplitNote(bySecond).lines[0]!; // the second key's signature over size 8, not 9
    expect((await post(w.url, formatAddCheckpoint({ oldSize: 8, proof: log.proof(8, 9), note: `${body9}\n${good}\n${badSecond}\n` }))).status).toBe(403);
  });

  it("holds to the spec on sizes: proof lines with old 0 are a 400, equal sizes need an empty proof, a rollback is refused", async () => {
    const note8 = await log.sign(log.body(8));
    expect((await post(w.url, `old 0\n${Buffer.alloc(32).toString("base64")}\n\n${note8}`)).status).toBe(400);
    // Same size and root as held, but "proof" lines: not an RFC 6962 proof from 8 to 8, not cosigned.
    expect((await post(w.url, formatAddCheckpoint({ oldSize: 8, proof: [new Uint8Array(32)], note: note8 }))).status).toBe(422);
    expect((await post(w.url, formatAddCheckpoint({ oldSize: 8, proof: [], note: note8 }))).status).toBe(200);
    // Back to 6: old 8 is above 6 (400); old 6 is not what it holds (409 naming 8).
    const note6 = await log.sign(log.body(6));
    expect((await post(w.url, formatAddCheckpoint({ oldSize: 8, proof: [], note: note6 }))).status).toBe(400);
    expect(await post(w.url, formatAddCheckpoint({ oldSize: 6, proof: [], note: note6 }))).toEqual({ status: 409, body: "8\n" });
    expect(w.state.get(log.origin)!.size).toBe(8);
  });

  it("witnesses an origin with non-ASCII bytes and spaces, given as '<origin> <vkey>', and refuses control characters in it", async () => {
    const note = await odd.sign(odd.body(3));
    const a = await post(w.url, formatAddCheckpoint({ oldSize: 0, proof: [], note }));
    expect(a.status, a.body).toBe(200);
    expect(c2spCosignaturesBy(note + a.body, vkey)).toEqual([expect.objectContaining({ valid: true })]);
    expect(w.state.get(odd.origin)!.size).toBe(3);
    const tabbed = note.replace("with spaces", "with\tspaces");
    expect((await post(w.url, formatAddCheckpoint({ oldSize: 3, proof: [], note: tabbed }))).status).toBe(404);
  });

  it("keeps one bounded evidence file per signed checkpoint, however often an outsider replays it with junk", async () => {
    // The log signed size 20 (public, e.g. in its anchor) before this witness saw it. Anyone can replay it
    // with garbage proofs and padding lines of unknown keys: every replay is a 422 from a validly signed
    // checkpoint. They must not multiply the evidence files or their size (the cap would then drop real
    // evidence, and the disk would fill).
    const note20 = await log.sign(log.body(20));
    const evidenceDir = path.join(stateDir, "evidence");
    const before = new Set(readdirSync(evidenceDir));
    for (let i = 0; i < 12; i++) {
      const padding = Array.from({ length: 40 }, (_, j) => `\u2014 pad${i}-${j}.example ${randomBytes(6000).toString("base64")}`).join("\n");
      const padded = `${note20}${padding}\n`;
      const junk = Array.from({ length: 5 }, () => new Uint8Array(randomBytes(32)));
      expect((await post(w.url, formatAddCheckpoint({ oldSize: 8, proof: junk, note: padded }))).status).toBe(422);
    }
    const added = readdirSync(evidenceDir).filter((f) => !before.has(f));
    expect(added).toHaveLength(1);
    const kept = readFileSync(path.join(evidenceDir, added[0]!), "utf8");
    expect(statSync(path.join(evidenceDir, added[0]!)).size).toBeLessThan(2048);
    expect(kept).toContain(note20); // the log's own signed statement is what is kept
    expect(kept).not.toContain("pad0-0.example");
    // The real growth is still cosigned afterwards.
    expect((await post(w.url, formatAddCheckpoint({ oldSize: 8, proof: log.proof(8, 20), note: note20 }))).status).toBe(200);
  });
});

describe("the witness state directory's lock", () => {
  it("never takes over a lock file another witness is still writing (an empty one)", async () => {
    const dir = path.join(tmp, "lock-empty");
    mkdirSync(dir, { mode: 0o700 });
    // What a second witness starting at the same moment sees between the first one's create and write.
    writeFileSync(path.join(dir, "witness.lock"), "", { mode: 0o600 });
    await expect(WitnessStateStore.open(dir)).rejects.toThrow(WitnessStateError);
    expect(readFileSync(path.join(dir, "witness.lock"), "utf8")).toBe("");
  });

  it("takes over a lock left by a process that is gone, and the lock it writes is never empty", async () => {
    const dir = path.join(tmp, "lock-stale");
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(path.join(dir, "witness.lock"), "999999999\n", { mode: 0o600 });
    const store = await WitnessStateStore.open(dir);
    expect(readFileSync(path.join(dir, "witness.lock"), "utf8")).toBe(`${process.pid}\n`);
    await expect(WitnessStateStore.open(dir)).rejects.toThrow(/in use by another witness/);
    await store.close();
    expect(readdirSync(dir).filter((f) => f.startsWith(".witness.lock"))).toEqual([]);
    // Two opens at once: exactly one holds the directory.
    const both = await Promise.allSettled([WitnessStateStore.open(dir), WitnessStateStore.open(dir)]);
    expect(both.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of both) if (r.status === "fulfilled") await r.value.close();
  });
});

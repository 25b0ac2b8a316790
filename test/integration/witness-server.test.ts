import { execFile, spawn } from "node:child_process";
import { generateKeyPairSync, sign as edSign } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { consistencyProof, leafHash, rootFromLeafHashes } from "../../src/ledger/core/merkle.js";
import { noteVerifier, parseVerifierKey, signNote, verifierKeyString } from "../../src/ledger/core/signed-note.js";
import { formatCheckpoint, openCheckpoint } from "../../src/ledger/core/tlog-checkpoint.js";
import { formatAddCheckpoint, parseSizeResponse, TLOG_SIZE_CONTENT_TYPE } from "../../src/ledger/core/tlog-witness.js";
import { generateWitnessKey } from "../../src/witness/witness-key.js";
import { WitnessStateError, WitnessStateStore } from "../../src/witness/witness-state.js";
import { startWitness, type RunningWitness } from "../../src/witness/start.js";
import { buildProgram } from "../../src/main/cli/program.js";
import { c2spCosignaturesBy, c2spCosigners } from "../helpers/c2sp-cosignature-verifier.js";

const silent = pino({ level: "silent" });
const tmp = mkdtempSync(path.join(os.tmpdir(), "witness-test-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A log of our own: an Ed25519 note key named after its origin, and leaves we choose. */
class TestLog {
  readonly leaves: Uint8Array[] = [];
  private readonly key = generateKeyPairSync("ed25519");
  readonly publicKey = new Uint8Array(Buffer.from(this.key.publicKey.export({ format: "jwk" }).x as string, "base64url"));
  constructor(readonly origin: string) {}
  get vkey(): string {
    return verifierKeyString(this.origin, this.publicKey);
  }
  grow(n: number): this {
    for (let i = 0; i < n; i++) this.leaves.push(leafHash(Buffer.from(`${this.origin} leaf ${this.leaves.length}`)));
    return this;
  }
  /** The signed checkpoint of the first `size` leaves; `root` overrides the real root (a fork). */
  async checkpoint(size: number, root?: Uint8Array, sign = (m: Uint8Array) => new Uint8Array(edSign(null, m, this.key.privateKey))): Promise<string> {
    const body = formatCheckpoint({ origin: this.origin, size, rootHash: root ?? rootFromLeafHashes(this.leaves.slice(0, size)) });
    return signNote(body, this.origin, sign, this.publicKey);
  }
  proof(m: number, n: number): Uint8Array[] {
    return m === 0 ? [] : consistencyProof(this.leaves, m, n);
  }
}

interface Answer {
  status: number;
  type: string;
  body: string;
}

async function post(url: string, body: string | Uint8Array, pathName = "/add-checkpoint"): Promise<Answer> {
  const res = await fetch(`${url}${pathName}`, { method: "POST", body: typeof body === "string" ? body : Buffer.from(body) });
  return { status: res.status, type: res.headers.get("content-type") ?? "", body: await res.text() };
}

async function add(w: RunningWitness, log: TestLog, oldSize: number, size: number, opts: { proof?: Uint8Array[]; note?: string } = {}): Promise<Answer> {
  const note = opts.note ?? (await log.checkpoint(size));
  const proof = opts.proof ?? (oldSize === 0 || oldSize === size ? [] : log.proof(oldSize, size));
  return post(w.url, formatAddCheckpoint({ oldSize, proof, note }));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

describe("countersign witness (in process): the C2SP tlog-witness add-checkpoint checks", () => {
  const clock = new ManualClock(Date.UTC(2026, 5, 1, 12, 0, 0));
  const log = new TestLog("vault.example.com/ledger/acme").grow(40);
  const stranger = new TestLog("elsewhere.example/log").grow(3);
  const stateDir = path.join(tmp, "state");
  const keyFile = path.join(tmp, "witness.key");
  let w: RunningWitness;
  let vkey: string;

  const start = () => startWitness({ host: "127.0.0.1", port: 0, keyFile, stateDir, logs: [log.vkey], log: silent, clock });

  beforeAll(async () => {
    vkey = (await generateWitnessKey("witness.example.org/w1", keyFile)).vkey;
    w = await start();
  });
  afterAll(async () => w?.close());

  it("cosigns a first checkpoint (old 0), timestamped now, verifiable by the C2SP text's verifier and the log's key", async () => {
    const note = await log.checkpoint(3);
    const a = await post(w.url, formatAddCheckpoint({ oldSize: 0, proof: [], note }));
    expect(a.status).toBe(200);
    expect(a.type).toMatch(/^text\/plain/);
    expect(a.body).toMatch(/^\u2014 witness\.example\.org\/w1 \S+\n$/);
    const cosigned = note + a.body;
    expect(c2spCosignaturesBy(cosigned, vkey)).toEqual([{ name: "witness.example.org/w1", timestamp: BigInt(Math.floor(clock.nowMs() / 1000)), valid: true }]);
    expect(openCheckpoint(cosigned, [parseVerifierKey(log.vkey)]).checkpoint.size).toBe(3);
  });

  it("cosigns growth with a valid consistency proof, and the same tree head again with a fresher timestamp", async () => {
    expect((await add(w, log, 3, 10)).status).toBe(200);
    clock.advance(60_000);
    const again = await add(w, log, 10, 10, { proof: [] });
    expect(again.status).toBe(200);
    expect(c2spCosignaturesBy((await log.checkpoint(10)) + again.body, vkey)[0]!.timestamp).toBe(BigInt(Math.floor(clock.nowMs() / 1000)));
  });

  it("answers a stale or invented old size with 409 text/x.tlog.size carrying its size", async () => {
    for (const old of [0, 3, 9, 11]) {
      const a = await add(w, log, old, 12, { proof: old === 0 ? [] : log.proof(old, 12) });
      expect([a.status, a.type, parseSizeResponse(a.body)]).toEqual([409, TLOG_SIZE_CONTENT_TYPE, 10]);
    }
  });

  it("refuses an old size above the checkpoint's size with 400", async () => {
    const a = await post(w.url, formatAddCheckpoint({ oldSize: 10, proof: [], note: await log.checkpoint(9) }));
    expect(a.status).toBe(400);
    expect(a.body).toContain("larger than the checkpoint's size");
  });

  it("refuses a bad consistency proof with 422 (flipped hash, missing hash, extra hash, proof for other sizes)", async () => {
    const good = log.proof(10, 20);
    const flipped = good.map((h, i) => (i === 1 ? Uint8Array.from(h, (b, j) => (j === 0 ? b ^ 1 : b)) : h));
    for (const proof of [flipped, good.slice(1), [...good, good[0]!], log.proof(9, 20), log.proof(10, 19)]) {
      expect((await add(w, log, 10, 20, { proof })).status).toBe(422);
    }
    // After all those refusals the stored head is still 10: the right proof is cosigned.
    expect((await add(w, log, 10, 20)).status).toBe(200);
  });

  it("refuses a fork (same size, different root, signed by the log) with a plain-text 409 and keeps the evidence", async () => {
    const forged = await log.checkpoint(20, new Uint8Array(32).fill(0xab));
    const a = await post(w.url, formatAddCheckpoint({ oldSize: 20, proof: [], note: forged }));
    expect(a.status).toBe(409);
    expect(a.type).toMatch(/^text\/plain/);
    expect(a.type).not.toContain(TLOG_SIZE_CONTENT_TYPE);
    expect(a.body).toMatch(/^fork: /);
    const evidence = readdirSync(path.join(stateDir, "evidence"));
    expect(evidence.some((f) => f.includes("-fork-"))).toBe(true);
    expect(readFileSync(path.join(stateDir, "evidence", evidence.find((f) => f.includes("-fork-"))!), "utf8")).toContain(forged);
    // A fork at a larger size cannot be proven consistent: 422, also kept.
    const forkedLarger = await log.checkpoint(25, new Uint8Array(32).fill(0xcd));
    expect((await post(w.url, formatAddCheckpoint({ oldSize: 20, proof: log.proof(20, 25), note: forkedLarger }))).status).toBe(422);
    // The stored head is untouched: the real log carries on.
    expect((await add(w, log, 20, 25)).status).toBe(200);
  });

  it("answers 404 for an origin it does not witness, 403 when no trusted key signed", async () => {
    expect((await add(w, stranger, 0, 3)).status).toBe(404);
    // Signed by a key with the log's name but not the trusted key.
    const impostor = new TestLog(log.origin).grow(30);
    const a = await add(w, impostor, 25, 30);
    expect(a.status).toBe(403);
    // Signed only by an unknown key name.
    const unsigned = (await log.checkpoint(30)).replace(/\u2014 vault\.example\.com\/ledger\/acme /, "\u2014 someone.else ");
    expect((await post(w.url, formatAddCheckpoint({ oldSize: 25, proof: log.proof(25, 30), note: unsigned }))).status).toBe(403);
    // A trusted key's signature that does not verify (body changed after signing).
    const tampered = (await log.checkpoint(30)).replace("\n30\n", "\n31\n");
    expect((await post(w.url, formatAddCheckpoint({ oldSize: 25, proof: log.proof(25, 30), note: tampered }))).status).toBe(403);
  });

  it("answers malformed bodies with 400 and oversized ones with 413; other methods and paths are refused", async () => {
    for (const body of ["", "hello", "old 1\n\n", `old 01\n\n${await log.checkpoint(25)}`, `old 25\n${"A".repeat(44)}\n\n${await log.checkpoint(25)}`, `old 25\n\n${log.origin}\n25\n\n\u2014 x AAAA\n`]) {
      expect((await post(w.url, body)).status, JSON.stringify(body.slice(0, 30))).toBe(400);
    }
    expect((await post(w.url, new Uint8Array(2 << 20))).status).toBe(413);
    expect((await fetch(`${w.url}/add-checkpoint`)).status).toBe(405);
    expect((await post(w.url, "x", "/other")).status).toBe(404);
    const health = await (await fetch(`${w.url}/healthz`)).json();
    expect(health).toMatchObject({ status: "ok", name: "witness.example.org/w1", vkey });
  });

  it("serializes concurrent submissions per origin: of many checked against the same old size, exactly one is cosigned", async () => {
    const sizes = [26, 27, 28, 29, 30, 31, 32, 33];
    const answers = await Promise.all(sizes.map((n) => add(w, log, 25, n)));
    const won = answers.flatMap((a, i) => (a.status === 200 ? [sizes[i]!] : []));
    expect(won).toHaveLength(1);
    for (const a of answers.filter((x) => x.status !== 200)) expect([a.status, parseSizeResponse(a.body)]).toEqual([409, won[0]]);
    // The stored size is the winner's, never rolled back by a loser.
    expect(w.state.get(log.origin)!.size).toBe(won[0]);
    expect((await add(w, log, won[0]!, 40)).status).toBe(200);
  });

  it("keeps its state across a restart, in a private directory, and refuses a second process on it", async () => {
    await w.close();
    const file = readdirSync(path.join(stateDir, "logs")).find((f) => f.endsWith(".json"))!;
    expect(statSync(path.join(stateDir, "logs", file)).mode & 0o077).toBe(0);
    expect(statSync(stateDir).mode & 0o077).toBe(0);
    w = await start();
    const a = await add(w, log, 0, 40, { proof: [] });
    expect([a.status, parseSizeResponse(a.body)]).toEqual([409, 40]);
    await expect(WitnessStateStore.open(stateDir)).rejects.toThrow(WitnessStateError);
    // Rolling back to a smaller tree is impossible: old must be 40, and 40 > 39 is a 400.
    expect((await post(w.url, formatAddCheckpoint({ oldSize: 40, proof: [], note: await log.checkpoint(39) }))).status).toBe(400);
  });

  it("refuses to start on a state file it cannot read rather than forgetting that log", async () => {
    await w.close();
    const dir = path.join(stateDir, "logs");
    const file = readdirSync(dir).find((f) => f.endsWith(".json"))!;
    const saved = readFileSync(path.join(dir, file), "utf8");
    const { writeFileSync } = await import("node:fs");
    writeFileSync(path.join(dir, file), saved.slice(0, 20));
    await expect(start()).rejects.toThrow(/not a readable witness state file/);
    writeFileSync(path.join(dir, file), saved);
    w = await start();
    expect(w.state.get(log.origin)!.size).toBe(40);
  });
});

describe("countersign witness and the real Tessera test log (transparency-dev/tessera testdata)", () => {
  const dir = new URL("../vectors/c2sp-tessera-log/", import.meta.url);
  const tesseraKey = /^public key \(C2SP note verifier\): (\S+)$/m.exec(readFileSync(new URL("KEY.txt", dir), "utf8"))![1]!;
  // Leaf hashes from Tessera's own level-0 tile, not recomputed from the leaves.
  const tile = readFileSync(new URL("tile/0/000.p/15", dir));
  const leafHashes = Array.from({ length: 15 }, (_, i) => new Uint8Array(tile.subarray(i * 32, (i + 1) * 32)));
  let w: RunningWitness;
  let vkey: string;

  beforeAll(async () => {
    const keyFile = path.join(tmp, "tessera-witness.key");
    vkey = (await generateWitnessKey("witness.example.org/tessera", keyFile)).vkey;
    w = await startWitness({ host: "127.0.0.1", port: 0, keyFile, stateDir: path.join(tmp, "tessera-state"), logs: [tesseraKey], log: silent });
  });
  afterAll(async () => w?.close());

  it("witnesses checkpoint.0 to checkpoint.15 in order with proofs from the tile; every cosigned note verifies with Tessera's key and the C2SP verifier", async () => {
    let old = 0;
    for (let n = 0; n <= 15; n++) {
      const note = readFileSync(new URL(`checkpoint.${n}`, dir), "utf8");
      const proof = old === 0 || old === n ? [] : consistencyProof(leafHashes, old, n);
      const a = await post(w.url, formatAddCheckpoint({ oldSize: old, proof, note }));
      expect(a.status, `checkpoint.${n}: ${a.body}`).toBe(200);
      const cosigned = note + a.body;
      expect(openCheckpoint(cosigned, [parseVerifierKey(tesseraKey)], { origin: "example.com/log/testdata" }).checkpoint.size).toBe(n);
      expect(c2spCosigners(cosigned, [vkey])).toEqual(["witness.example.org/tessera"]);
      old = n;
    }
    // The tile is Tessera's, and the roots in its checkpoints are reproduced from it.
    expect(Buffer.from(rootFromLeafHashes(leafHashes)).toString("base64")).toBe(readFileSync(new URL("checkpoint.15", dir), "utf8").split("\n")[2]);
    // Going back is refused: checkpoint.7 with old 15 is a 400, with old 7 a 409 carrying 15.
    const seven = readFileSync(new URL("checkpoint.7", dir), "utf8");
    expect((await post(w.url, formatAddCheckpoint({ oldSize: 15, proof: [], note: seven }))).status).toBe(400);
    const stale = await post(w.url, formatAddCheckpoint({ oldSize: 7, proof: [], note: seven }));
    expect([stale.status, parseSizeResponse(stale.body)]).toEqual([409, 15]);
  });
});

describe("countersign witness keygen / serve as processes", () => {
  it("keygen writes a 0600 key and prints its vkey; serve cosigns for the --log it was given and stops on SIGTERM", async () => {
    const keyFile = path.join(tmp, "cli.key");
    const env = { ...process.env, LOG_LEVEL: "warn" };
    const keygen = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile("node", ["--import", "tsx", "src/main/cli.ts", "witness", "keygen", "--name", "w.example/cli", "--out", keyFile], { env }, (err, stdout, stderr) =>
        resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
      ),
    );
    expect(keygen.code, keygen.stderr).toBe(0);
    const vkey = keygen.stdout.trim();
    expect(vkey).toMatch(/^w\.example\/cli\+[0-9a-f]{8}\+B[A-P][A-Za-z0-9+/]{42}$/); // base64 of 0x04 || 32 bytes
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const again = await new Promise<number>((resolve) =>
      execFile("node", ["--import", "tsx", "src/main/cli.ts", "witness", "keygen", "--name", "w.example/cli", "--out", keyFile], { env }, (err) => resolve(err ? Number(err.code) : 0)),
    );
    expect(again).toBe(1);

    const log = new TestLog("cli.example/log").grow(5);
    const port = await freePort();
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "src/main/cli.ts", "witness", "serve", "--listen", `127.0.0.1:${port}`, "--key-file", keyFile, "--state-dir", path.join(tmp, "cli-state"), "--log", log.vkey, "--name", "w.example/cli"],
      { env, stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    child.stdout.on("data", (b: Buffer) => (output += b.toString()));
    child.stderr.on("data", (b: Buffer) => (output += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      const url = `http://127.0.0.1:${port}`;
      const deadline = Date.now() + 20_000;
      while (!(await fetch(`${url}/readyz`).then((r) => r.ok, () => false))) {
        if (Date.now() > deadline) throw new Error(`witness did not start:\n${output}`);
        await new Promise((r) => setTimeout(r, 150));
      }
      const note = await log.checkpoint(5);
      const a = await post(url, formatAddCheckpoint({ oldSize: 0, proof: [], note }));
      expect(a.status, output).toBe(200);
      expect(c2spCosigners(note + a.body, [vkey])).toEqual(["w.example/cli"]);
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
  }, 60_000);

  it("noteVerifier of the log key is what --log takes (the vault's GET /ledger/checkpoint-key string)", () => {
    const log = new TestLog("vault.example.com/ledger/t1");
    expect(parseVerifierKey(log.vkey)).toEqual(noteVerifier(log.origin, log.publicKey));
  });
});

describe("docs/witness.md", () => {
  it("uses only witness subcommands and options that exist", () => {
    const doc = readFileSync(path.join(process.cwd(), "docs/witness.md"), "utf8");
    const blocks = [...doc.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!.replace(/\\\n\s*/g, " "));
    const commands = blocks.flatMap((b) => b.split("\n")).filter((l) => l.trim().startsWith("countersign witness"));
    expect(commands.length).toBeGreaterThanOrEqual(2);
    const witness = buildProgram().commands.find((c) => c.name() === "witness")!;
    for (const line of commands) {
      const [, , sub, ...rest] = line.trim().split(/\s+/);
      const command = witness.commands.find((c) => c.name() === sub);
      expect(command, line).toBeDefined();
      const known = new Set(command!.options.map((o) => o.long));
      for (const word of rest.filter((w) => w.startsWith("--"))) expect(known.has(word), `${line}: ${word}`).toBe(true);
      for (const required of command!.options.filter((o) => o.mandatory).map((o) => o.long)) expect(rest, `${line} lacks ${required}`).toContain(required);
    }
  });
});

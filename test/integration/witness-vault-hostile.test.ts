/**
 * The vault's side of C2SP tlog-witness against witnesses that misbehave: a cosignature copied from
 * another witness (one witness counted twice), another witness's signature relabelled, a cosignature
 * over another checkpoint, duplicated lines, a redirect, an oversized answer and one that never comes.
 * Two witnesses here are test servers (node:http) holding keys of the test's own, signing with the
 * test-local C2SP code; the vault (PGlite, in process) needs both (quorum 2).
 *
 * Also the Ledgix SDK path once bundles are proven in the newest WITNESSED checkpoint, which may be
 * older than the newest one: the SDK-faithful verifier (test/helpers/ledgix-ledger-verifier.ts) must
 * still accept every bundle, and our verifier with a witness policy must tell the two apart.
 */
import { generateKeyPairSync } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { trustedKeysFromJwks, verifyProofBundle } from "../../src/ledger/verify/bundle-verifier.js";
import { c2spCosign, c2spCosigners, c2spSplitNote, c2spWitnessVkey } from "../helpers/c2sp-cosignature-verifier.js";
import { clearances } from "../helpers/ledger-fixture.js";
import { fetchJwks, fetchLedger, fetchLedgerCheckpoints, fetchLedgerProofBundle, verifyLedgerProof, verifyLedgerProofBundle } from "../helpers/ledgix-ledger-verifier.js";
import { metricValue } from "../helpers/outbox-receivers.js";
import { call, newDatabase, newKey, refundPolicy, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

type Mode = "honest" | "copy-other" | "relabel-other" | "other-body" | "duplicated" | "redirect" | "huge" | "hang";

/** A witness under the test's control: answers every add-checkpoint as `mode` says. */
class FakeWitness {
  readonly key = generateKeyPairSync("ed25519").privateKey;
  readonly vkey: string;
  mode: Mode = "honest";
  requests = 0;
  private server!: http.Server;
  url = "";
  private readonly hanging = new Set<http.ServerResponse>();
  constructor(
    readonly name: string,
    private readonly peer?: FakeWitness,
    private readonly catcher?: { url: string },
  ) {
    this.vkey = c2spWitnessVkey(name, this.key);
  }
  cosign(body: string): string {
    return c2spCosign(body, this.name, this.key, BigInt(Math.floor(Date.now() / 1000)));
  }
  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => this.answer(Buffer.concat(chunks).toString("utf8"), res));
    });
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  private answer(request: string, res: http.ServerResponse): void {
    this.requests++;
    const note = request.slice(request.indexOf("\n\n") + 2);
    const { body } = c2spSplitNote(note);
    const text = (s: string): void => void res.writeHead(200, { "content-type": "text/plain; charset=utf-8" }).end(s);
    switch (this.mode) {
      case "honest":
        return text(this.cosign(body));
      case "copy-other": // the peer's genuine cosignature of this very checkpoint, passed off as an answer
        return text(this.peer!.cosign(body));
      case "relabel-other": {
        // The peer's signature bytes under this witness's name and key ID: the message does not commit to the name.
        const peerLine = this.peer!.cosign(body);
        const sig = Buffer.from(peerLine.trimEnd().split(" ").pop()!, "base64");
        Buffer.from(this.vkey.split("+")[1]!, "hex").copy(sig, 0);
        return text(`\u2014 ${this.name} ${sig.toString("base64")}\n`);
      }
      case "other-body": // a valid cosignature of another tree head of the same log
        return text(this.cosign(body.replace(/\n(\d+)\n/, (_m, n: string) => `\n${Number(n) + 1}\n`)));
      case "duplicated": {
        const line = this.cosign(body);
        const stranger = generateKeyPairSync("ed25519").privateKey;
        return text(`${line}${line}${c2spCosign(body, "stranger.example/w", stranger, 1n)}`);
      }
      case "redirect":
        return void res.writeHead(307, { location: `${this.catcher!.url}/add-checkpoint` }).end();
      case "huge":
        return text(`${this.cosign(body)}${"\u2014 x AAAA\n".repeat(120_000)}`);
      case "hang":
        this.hanging.add(res);
        return;
    }
  }
  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

let db: TestDatabase;
let v: TestVault;
let agent: string;
let origin: string;
let catcher: http.Server;
let caught = 0;
let w1: FakeWitness;
let w2: FakeWitness;

const view = async () => (await call(v.url, "GET", "/ledger/witnesses", { key: agent })).body;
const checkpointNote = async () => (await call(v.url, "GET", "/ledger/checkpoint", { key: agent })).body as string;
const oneRequest = async (tag: string) => (await clearances(v, agent, 1, tag))[0].request_id as string;
const refusals = (reason: string) => metricValue(v, "countersign_ledger_witness_refusals_total", `witness="${w2.name}",reason="${reason}"`);

beforeAll(async () => {
  catcher = http.createServer((_req, res) => {
    caught++;
    res.writeHead(200).end("caught\n");
  });
  await new Promise<void>((resolve) => catcher.listen(0, "127.0.0.1", resolve));
  w1 = new FakeWitness("witness.test/one");
  w2 = new FakeWitness("witness.test/two", w1, { url: `http://127.0.0.1:${(catcher.address() as AddressInfo).port}` });
  await Promise.all([w1.start(), w2.start()]);
  db = newDatabase("pglite");
  v = await startTestVault(db, {
    env: {
      VAULT_LEDGER_ORIGIN: "vault.hostile-witness.test",
      VAULT_LEDGER_WITNESSES: JSON.stringify([w1, w2].map((w) => ({ url: w.url, key: w.vkey }))),
      VAULT_LEDGER_WITNESS_QUORUM: "2",
      VAULT_LEDGER_WITNESS_TIMEOUT_MS: "4000",
    },
  });
  agent = await newKey(v, "agent");
  origin = ((await call(v.url, "GET", "/ledger/checkpoint-key", { key: agent })).body as string).split("+")[0]!;
  expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy })).status).toBe(200);
}, 120_000);

afterAll(async () => {
  await v?.close();
  await db?.drop();
  await Promise.all([w1?.close(), w2?.close()]);
  await new Promise((resolve) => catcher?.close(resolve));
});

describe("the vault against misbehaving witnesses (quorum 2)", () => {
  let witnessedRequest: string;

  it("is witnessed when both cosign", async () => {
    witnessedRequest = await oneRequest("honest");
    await v.vault.ctx.ledgerLoop.drain();
    const now = await view();
    expect(now.latest).toMatchObject({ status: "witnessed", cosigned_by: [w1.name, w2.name] });
    expect(c2spCosigners(await checkpointNote(), [w1.vkey, w2.vkey])).toEqual([w1.name, w2.name]);
  });

  it.each([
    ["copy-other", "a cosignature by another configured witness (one witness counted twice)"],
    ["relabel-other", "another witness's signature relabelled with its own name and key ID"],
    ["other-body", "its own valid cosignature of another tree head"],
  ] as const)("does not count %s: %s", async (mode, _what) => {
    w2.mode = mode;
    const before = await refusals("bad_cosignature");
    await oneRequest(mode);
    await v.vault.ctx.ledgerLoop.drain();
    const now = await view();
    expect(now.latest).toMatchObject({ status: "unwitnessed", cosigned_by: [w1.name] });
    expect(now.latest.error).toMatch(/^1 of 2 required cosignatures; witness\.test\/two: refused \(bad_cosignature/);
    expect(now.witnesses[1]).toMatchObject({ name: w2.name, refusal: "bad_cosignature" });
    expect(await refusals("bad_cosignature")).toBe(before + 1);
    expect(c2spCosigners(await checkpointNote(), [w1.vkey, w2.vkey])).toEqual([]);
  });

  it("counts a witness whose answer repeats its line (and adds a stranger's) once, and serves its line once", async () => {
    w2.mode = "duplicated";
    await oneRequest("duplicated");
    await v.vault.ctx.ledgerLoop.drain();
    const now = await view();
    expect(now.latest).toMatchObject({ status: "witnessed", cosigned_by: [w1.name, w2.name] });
    expect(now.witnesses[1]).toMatchObject({ refusal: null });
    const note = await checkpointNote();
    expect(note.split("\n").filter((l) => l.startsWith(`\u2014 ${w2.name} `))).toHaveLength(1);
    expect(note).not.toContain("stranger.example");
  });

  it("follows no redirect, reads no oversized answer, and gives up on one that never comes; decisions and proofs go on meanwhile", async () => {
    for (const mode of ["redirect", "huge"] as const) {
      w2.mode = mode;
      await oneRequest(mode);
      await v.vault.ctx.ledgerLoop.drain();
      const now = await view();
      expect(now.latest).toMatchObject({ status: "unwitnessed", cosigned_by: [w1.name] });
      expect(now.witnesses[1].last_error).toMatch(mode === "redirect" ? /redirect/ : /larger than/);
      expect(now.witnesses[1].refusal).toBe(null); // a transport problem, retried: not an alert
    }
    expect(caught).toBe(0);

    w2.mode = "hang";
    const hangsBefore = w2.requests;
    const id = await oneRequest("hang");
    // A proof for a brand-new event signs a checkpoint on demand and is served at once: witnessing runs beside it.
    const started = Date.now();
    const res = await call(v.url, "GET", `/ledger/proof/bundle?request_id=${id}`, { key: agent });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(Date.now() - started).toBeLessThan(3000);
    await v.vault.ctx.ledgerLoop.drain();
    expect(w2.requests).toBeGreaterThan(hangsBefore);
    const now = await view();
    expect(now.latest).toMatchObject({ status: "unwitnessed", cosigned_by: [w1.name] });
    expect(now.witnesses[1].last_error).toMatch(/timed out/);
  }, 60_000);

  it("bundles stay verifiable the Ledgix SDK's way whether proven in the newest checkpoint or an older witnessed one", async () => {
    w2.mode = "hang";
    const unwitnessedRequest = await oneRequest("late");
    await v.vault.ctx.ledgerLoop.drain();
    const now = await view();
    expect(now.latest.status).toBe("unwitnessed");
    const witnessedId = now.latest_witnessed.checkpoint_id;
    expect(witnessedId).toBeLessThan(now.latest.checkpoint_id);

    const jwks = await fetchJwks(v.url, agent);
    const policy = { keys: [w1.vkey, w2.vkey], require: 2, origin };
    const wire = async (id: string) => (await call(v.url, "GET", `/ledger/proof/bundle?request_id=${id}`, { key: agent })).body;

    // An event the witnessed checkpoint holds: proven there (not in the newest), with its consistency from the first.
    const sdkOld = await fetchLedgerProofBundle(v.url, agent, witnessedRequest);
    expect(sdkOld.inclusion.checkpoint.checkpointId).toBe(witnessedId);
    expect(verifyLedgerProofBundle(sdkOld, jwks)).toMatchObject({ intact: true, verifiedEntries: 1 });
    expect(verifyLedgerProofBundle(sdkOld, undefined)).toMatchObject({ intact: true });
    const oldReport = verifyProofBundle(await wire(witnessedRequest), trustedKeysFromJwks(jwks), { witnesses: policy });
    expect(oldReport.checks.filter((c) => !c.ok)).toEqual([]);

    // An event only the newest (unwitnessed) checkpoint holds: proven there; the SDK accepts it, a policy of 2 does not.
    const sdkNew = await fetchLedgerProofBundle(v.url, agent, unwitnessedRequest);
    expect(sdkNew.inclusion.checkpoint.checkpointId).toBe(now.latest.checkpoint_id);
    expect(verifyLedgerProofBundle(sdkNew, jwks)).toMatchObject({ intact: true });
    const newReport = verifyProofBundle(await wire(unwitnessedRequest), trustedKeysFromJwks(jwks), { witnesses: policy });
    expect(newReport.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(["witness cosignatures"]);

    // The whole ledger with its checkpoints (witness columns and all) verifies the SDK's way too.
    const entries = await fetchLedger(v.url, agent, 100);
    const checkpoints = await fetchLedgerCheckpoints(v.url, agent, 100);
    expect(verifyLedgerProof(entries, checkpoints, jwks)).toMatchObject({ intact: true });
  }, 60_000);
});

/**
 * Witness cosigning end to end: three `countersign witness serve` PROCESSES, a vault (in process, on
 * PostgreSQL) with VAULT_LEDGER_WITNESS_QUORUM=2. Every cosignature the vault serves is checked again
 * with the test-local C2SP verifier (test/helpers/c2sp-cosignature-verifier.ts, node:crypto from the
 * spec text), and `countersign verify-bundle --witness … --require-witnesses N` runs as the real CLI.
 *
 *   all up → cosigned by all three, served, anchored, bundled;
 *   one down → still the quorum;
 *   two down → published unwitnessed, retried with backoff, witnessed once they return;
 *   a fork shown to one witness → it refuses the vault's real checkpoint: status, webhook, metric.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildProgram } from "../../src/main/cli/program.js";
import { consistencyProof, rootFromLeafHashes } from "../../src/ledger/core/merkle.js";
import { parseVerifierKey, signNote } from "../../src/ledger/core/signed-note.js";
import { formatCheckpoint, openCheckpoint } from "../../src/ledger/core/tlog-checkpoint.js";
import { formatAddCheckpoint } from "../../src/ledger/core/tlog-witness.js";
import { c2spCosigners, c2spWitnessVkey } from "../helpers/c2sp-cosignature-verifier.js";
import { clearances, runCli } from "../helpers/ledger-fixture.js";
import { register } from "../helpers/outbox-api.js";
import { HttpReceiver, metricValue } from "../helpers/outbox-receivers.js";
import { call, newDatabase, newKey, refundPolicy, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";
import { newWitness, type WitnessProcess } from "../helpers/witness-process.js";

const ORIGIN_BASE = "vault.witness-test";
let db: TestDatabase;
let v: TestVault;
let w: WitnessProcess[];
let anchors: string;
let files: string;
let agent: string;
let logKey: string;
let jwksFile: string;
let receiver: HttpReceiver | undefined;
const names = () => w.map((x) => x.name);
const vkeys = () => w.map((x) => x.vkey);

const view = async () => {
  const res = await call(v.url, "GET", "/ledger/witnesses", { key: agent });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
};
const servedNote = async () => (await call(v.url, "GET", "/ledger/checkpoint", { key: agent })).body as string;
const anchoredNote = () => readFileSync(path.join(anchors, v.tenantId, "checkpoint"), "utf8");
const requests = async (count: number, tag: string) => (await clearances(v, agent, count, tag)).map((b) => b.request_id as string);
const metric = (name: string, labels: string) => metricValue(v, `countersign_ledger_witness_${name}`, labels);

async function bundleFile(requestId: string): Promise<{ file: string; bundle: any }> {
  const res = await call(v.url, "GET", `/ledger/proof/bundle?request_id=${requestId}`, { key: agent });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const file = path.join(files, `${requestId}.json`);
  writeFileSync(file, JSON.stringify(res.body));
  return { file, bundle: res.body };
}

const verifyBundle = (file: string, witnessKeys: string[], require?: number) =>
  runCli(["verify-bundle", file, "--jwks", jwksFile, ...witnessKeys.flatMap((k) => ["--witness", k]), ...(require === undefined ? [] : ["--require-witnesses", String(require)])]);

/** Polls GET /ledger/witnesses until it satisfies `done`. */
async function waitUntil(done: (view: any) => boolean, withinMs = 45_000): Promise<any> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const now = await view();
    if (done(now)) return now;
    if (Date.now() > deadline) throw new Error(`witnessing did not get there: ${JSON.stringify(now, null, 2)}\n${w.map((x) => x.output()).join("\n")}`);
    await sleep(300);
  }
}

describe("witness cosigning with three witness processes and quorum 2", () => {
beforeAll(async () => {
  w = await Promise.all(["w1", "w2", "w3"].map((n) => newWitness(`witness.test/${n}`)));
  db = newDatabase("postgres");
  anchors = mkdtempSync(path.join(os.tmpdir(), "cs-witness-anchors-"));
  files = mkdtempSync(path.join(os.tmpdir(), "cs-witness-files-"));
  v = await startTestVault(db, {
    env: {
      VAULT_LEDGER_ANCHOR_DIR: anchors,
      VAULT_LEDGER_ORIGIN: ORIGIN_BASE,
      VAULT_LEDGER_WITNESSES: JSON.stringify(w.map((x) => ({ url: x.url, key: x.vkey }))),
      VAULT_LEDGER_WITNESS_QUORUM: "2",
      VAULT_LEDGER_WITNESS_TIMEOUT_MS: "3000",
      VAULT_WEBHOOK_ALLOW_PRIVATE_TARGETS: "true",
    },
  });
  agent = await newKey(v, "agent");
  logKey = (await call(v.url, "GET", "/ledger/checkpoint-key", { key: agent })).body;
  // Each witness trusts the vault's log key for this tenant's origin, as an operator would configure it.
  await Promise.all(w.map((x) => x.start(logKey)));
  expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy })).status).toBe(200);
  jwksFile = path.join(files, "jwks.json");
  writeFileSync(jwksFile, JSON.stringify((await call(v.url, "GET", "/.well-known/jwks.json")).body));
}, 120_000);

afterAll(async () => {
  await receiver?.close();
  await Promise.all((w ?? []).map((x) => x.stop()));
  await v?.close();
  await db?.drop();
  for (const dir of [anchors, files, ...(w ?? []).map((x) => path.dirname(x.stateDir))]) if (dir) rmSync(dir, { recursive: true, force: true });
});

  it("cosigns with every witness; the cosigned note is served, anchored and carried by bundles", async () => {
    const cosignedBefore = await metric("cosignatures_total", `witness="${w[0]!.name}"`);
    const ids = await requests(3, "a");
    await v.vault.ctx.ledgerLoop.drain();
    const now = await view();
    expect(now.quorum).toBe(2);
    expect(now.witnesses.map((x: any) => x.key)).toEqual(vkeys());
    expect(now.latest).toMatchObject({ status: "witnessed", attempts: 1, error: null, next_attempt_at: null });
    expect(now.latest.cosigned_by).toEqual(names());
    expect(now.latest_witnessed.checkpoint_id).toBe(now.latest.checkpoint_id);

    const note = await servedNote();
    // The test's own C2SP verifier agrees: three valid cosignatures over the checkpoint body.
    expect(c2spCosigners(note, vkeys())).toEqual(names());
    const opened = openCheckpoint(note, [parseVerifierKey(logKey)]);
    expect(opened.checkpoint.size).toBe(now.latest.tree_size);
    expect(anchoredNote()).toBe(note);
    const { file, bundle } = await bundleFile(ids[0]!);
    expect(bundle.c2sp_checkpoint).toBe(note);
    expect(await metric("cosignatures_total", `witness="${w[0]!.name}"`)).toBe(cosignedBefore + 1);

    const all = await verifyBundle(file, vkeys(), 3);
    expect(all.code, all.stdout + all.stderr).toBe(0);
    expect(all.stdout).toContain(`ok   witness cosignatures (3 of 3 trusted witness(es) cosigned: ${names().join(", ")}; 3 required)`);
    for (const name of names()) expect(all.stdout).toMatch(new RegExp(`^witness ${name}\\+[0-9a-f]{8}: cosigned at \\d{4}-`, "m"));
    // A witness the auditor trusts but the vault never used counts for nothing.
    const stranger = c2spWitnessVkey("witness.test/stranger", (await import("node:crypto")).generateKeyPairSync("ed25519").privateKey);
    const short = await verifyBundle(file, [w[0]!.vkey, stranger], 2);
    expect(short.code, short.stdout).toBe(1);
    expect(short.stdout).toMatch(/^FAIL witness cosignatures: 1 of 2 trusted witness\(es\) cosigned: witness\.test\/w1; 2 required$/m);
  });

  it("the database refuses to change a cosigned note or un-witness a checkpoint", async () => {
    const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
    const id = (await view()).latest_witnessed.checkpoint_id;
    for (const change of [
      "cosigned_note = cosigned_note || 'x'",
      "cosigned_note = NULL",
      "witness_status = 'unwitnessed'",
      "cosigned_note = replace(cosigned_note, 'witness.test/w1', 'witness.test/wX')",
    ]) {
      await expect(sql.query(`UPDATE ledger_checkpoints SET ${change} WHERE checkpoint_id = $1`, [id]), change).rejects.toThrow(/append-only/);
    }
  });

  it("keeps the quorum with one witness down", async () => {
    await w[2]!.crash();
    const unavailableBefore = await metric("unavailable_total", `witness="${w[2]!.name}"`);
    await requests(2, "b");
    await v.vault.ctx.ledgerLoop.drain();
    const now = await view();
    expect(now.latest).toMatchObject({ status: "witnessed", cosigned_by: [w[0]!.name, w[1]!.name] });
    const down = now.witnesses.find((x: any) => x.name === w[2]!.name);
    expect(down.last_error).toMatch(/ECONNREFUSED|fetch failed/);
    expect(down.last_cosigned_checkpoint).toBeLessThan(now.latest.checkpoint_id);
    expect(c2spCosigners(await servedNote(), vkeys())).toEqual([w[0]!.name, w[1]!.name]);
    expect(await metric("unavailable_total", `witness="${w[2]!.name}"`)).toBe(unavailableBefore + 1);
  });

  it("publishes unwitnessed below the quorum, retries with backoff, and is witnessed once the witnesses return", async () => {
    await w[1]!.crash();
    const before = await view();
    const ids = await requests(2, "c");
    await v.vault.ctx.ledgerLoop.drain();
    const below = await view();
    expect(below.latest.checkpoint_id).toBeGreaterThan(before.latest.checkpoint_id);
    expect(below.latest).toMatchObject({ status: "unwitnessed", cosigned_by: [w[0]!.name], attempts: 1 });
    expect(below.latest.error).toMatch(/^1 of 2 required cosignatures; witness\.test\/w2: unavailable/);
    expect(Date.parse(below.latest.next_attempt_at)).toBeGreaterThan(Date.now() - 1000);
    expect(below.latest_witnessed.checkpoint_id).toBe(before.latest.checkpoint_id);
    // Nor can it be marked witnessed by hand: not without a cosigned note, not with one that is not its own note plus lines.
    const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
    for (const change of ["witness_status = 'witnessed'", "witness_status = 'witnessed', cosigned_note = 'forged'", "cosigned_note = 'forged'"]) {
      await expect(sql.query(`UPDATE ledger_checkpoints SET ${change} WHERE checkpoint_id = $1`, [below.latest.checkpoint_id]), change).rejects.toThrow(/append-only/);
    }

    // Still published: signed by the vault alone, served and anchored as such; operators see it in /readyz.
    const plain = await servedNote();
    expect(openCheckpoint(plain, [parseVerifierKey(logKey)]).checkpoint.size).toBe(below.latest.tree_size);
    expect(c2spCosigners(plain, vkeys())).toEqual([]);
    expect(anchoredNote()).toBe(plain);
    const ready = (await call(v.url, "GET", "/readyz")).body;
    expect(ready.degraded).toContain(`witnessing of tenant ${v.tenantId} is below the quorum (see ledger.tenants)`);
    expect(ready.ledger.witnesses).toEqual({ names: names(), quorum: 2 });
    expect(ready.ledger.tenants[v.tenantId].witnessing).toMatchObject({ checkpoint_id: below.latest.checkpoint_id, status: "unwitnessed", cosignatures: 1, quorum: 2 });

    // Its events are only in the unwitnessed checkpoint: an auditor requiring two witnesses refuses the bundle.
    const early = await bundleFile(ids[0]!);
    expect(early.bundle.inclusion.checkpoint.checkpoint_id).toBe(below.latest.checkpoint_id);
    const refused = await verifyBundle(early.file, vkeys(), 2);
    expect(refused.code, refused.stdout).toBe(1);
    expect(refused.stdout).toMatch(/^FAIL witness cosignatures: 0 of 3 trusted witness\(es\) cosigned; 2 required$/m);

    await Promise.all([w[1]!.start(logKey), w[2]!.start(logKey)]);
    // No drain: the retry is the vault's own, on its backoff timer (the loop's interval here is an hour).
    const after = await waitUntil((x) => x.latest.status === "witnessed");
    await v.vault.ctx.ledgerLoop.drain();
    expect(after.latest.checkpoint_id).toBe(below.latest.checkpoint_id);
    expect(after.latest.attempts).toBeGreaterThanOrEqual(2);
    // w1's cosignature from the first attempt is kept; the returning witnesses caught up from the sizes they held.
    expect(after.latest.cosigned_by).toEqual(names());
    const note = await servedNote();
    expect(c2spCosigners(note, vkeys())).toEqual(names());
    expect(anchoredNote()).toBe(note);
    expect((await call(v.url, "GET", "/readyz")).body.degraded ?? []).not.toContain(`witnessing of tenant ${v.tenantId} is below the quorum (see ledger.tenants)`);

    const late = await bundleFile(ids[0]!);
    expect(late.bundle.c2sp_checkpoint).toBe(note);
    const accepted = await verifyBundle(late.file, vkeys(), 2);
    expect(accepted.code, accepted.stdout).toBe(0);
  });

  it("a witness shown a fork refuses the vault's real checkpoint: status, webhook and metric, once per change", async () => {
    receiver = await HttpReceiver.start();
    await register(v, `${receiver.url}/hooks`, { events: ["ledger.witness_refused"] });
    const forkBefore = await metric("refusals_total", `witness="${w[0]!.name}",reason="fork"`);
    const inconsistentBefore = await metric("refusals_total", `witness="${w[0]!.name}",reason="inconsistent"`);
    const tenantSql = await v.vault.ctx.tenantDbs.get(v.tenantId);
    const held = Number((await view()).latest.tree_size);

    // The next checkpoint will cover every event written so far. Show w1 another tree of exactly that size,
    // same first `held` leaves, different later ones, signed with the vault's own checkpoint key (a
    // compromised or equivocating log), with a valid consistency proof from what w1 holds.
    await requests(1, "d");
    const size = Number((await tenantSql.query<{ n: string }>("SELECT count(*) AS n FROM ledger_events"))[0]!.n);
    expect(size).toBeGreaterThan(held);
    const real = (await tenantSql.query<{ leaf_hash: string }>("SELECT leaf_hash FROM ledger_events WHERE leaf_index < $1 ORDER BY leaf_index", [held])).map(
      (r) => new Uint8Array(Buffer.from(r.leaf_hash, "hex")),
    );
    const forged = [...real, ...Array.from({ length: size - held }, () => new Uint8Array(randomBytes(32)))];
    const origin = parseVerifierKey(logKey).name;
    const ledgerPublic = new Uint8Array(Buffer.from(v.vault.ctx.ledgerSigner.publicJwk.x, "base64url"));
    const forgedNote = await signNote(formatCheckpoint({ origin, size, rootHash: rootFromLeafHashes(forged) }), origin, (m) => v.vault.ctx.ledgerSigner.sign(m), ledgerPublic);
    const shown = await fetch(`${w[0]!.url}/add-checkpoint`, { method: "POST", body: formatAddCheckpoint({ oldSize: held, proof: consistencyProof(forged, held, size), note: forgedNote }) });
    expect(shown.status, await shown.clone().text()).toBe(200);

    await v.vault.ctx.ledgerLoop.drain();
    const now = await view();
    expect(now.latest.tree_size).toBe(size);
    // The two honest witnesses still make the quorum; w1's refusal is on record.
    expect(now.latest).toMatchObject({ status: "witnessed", cosigned_by: [w[1]!.name, w[2]!.name] });
    expect(now.witnesses[0]).toMatchObject({ name: w[0]!.name, refusal: "fork", tree_size: size });
    expect(c2spCosigners(await servedNote(), vkeys())).toEqual([w[1]!.name, w[2]!.name]);
    expect(await metric("refusals_total", `witness="${w[0]!.name}",reason="fork"`)).toBe(forkBefore + 1);

    await v.vault.ctx.outboxWorker.drain();
    expect(receiver.requests).toHaveLength(1);
    const alert = JSON.parse(receiver.requests[0]!.raw.toString("utf8"));
    expect(receiver.requests[0]!.headers["x-countersign-event"]).toBe("ledger.witness_refused");
    expect(alert).toMatchObject({
      type: "ledger.witness_refused",
      data: { witness: w[0]!.name, witness_key: w[0]!.vkey, reason: "fork", http_status: 409, checkpoint_id: now.latest.checkpoint_id, tree_size: size, origin },
    });

    // The next checkpoint extends the real tree, not the forged one: w1 finds the proof inconsistent (a new reason, a new alert)...
    await requests(1, "e");
    await v.vault.ctx.ledgerLoop.drain();
    expect((await view()).witnesses[0]).toMatchObject({ refusal: "inconsistent" });
    await v.vault.ctx.outboxWorker.drain();
    expect(receiver.requests).toHaveLength(2);
    expect(JSON.parse(receiver.requests[1]!.raw.toString("utf8")).data).toMatchObject({ reason: "inconsistent", http_status: 422 });
    // ...and keeps refusing: counted every time, alerted once.
    await requests(1, "f");
    await v.vault.ctx.ledgerLoop.drain();
    await v.vault.ctx.outboxWorker.drain();
    expect(receiver.requests).toHaveLength(2);
    expect(await metric("refusals_total", `witness="${w[0]!.name}",reason="inconsistent"`)).toBe(inconsistentBefore + 2);
    expect((await view()).latest).toMatchObject({ status: "witnessed", cosigned_by: [w[1]!.name, w[2]!.name] });
  });

  it("verify-bundle refuses a witness policy it cannot apply (exit 2)", async () => {
    const { file } = await bundleFile((await requests(1, "g"))[0]!);
    const noKeys = await runCli(["verify-bundle", file, "--jwks", jwksFile, "--require-witnesses", "2"]);
    expect(noKeys.code).toBe(2);
    expect(noKeys.stderr).toMatch(/--require-witnesses needs the witnesses' keys/);
    const logKeyAsWitness = await verifyBundle(file, [logKey], 1);
    expect(logKeyAsWitness.code).toBe(2);
    expect(logKeyAsWitness.stderr).toMatch(/is not a witness cosignature key/);
    const tooMany = await verifyBundle(file, [w[0]!.vkey], 2);
    expect(tooMany.code).toBe(2);
    expect(tooMany.stderr).toMatch(/--require-witnesses 2 is more than the 1 witness key\(s\) given/);
  });
});

describe("docs/witness.md, Cosigning a vault's checkpoints", () => {
  it("uses only verify-bundle options that exist, and the JSON form the vault accepts", () => {
    const doc = readFileSync(path.join(process.cwd(), "docs/witness.md"), "utf8");
    const section = doc.slice(doc.indexOf("## Cosigning a vault's checkpoints"));
    const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!.replace(/\\\n\s*/g, " "));
    const lines = blocks.flatMap((b) => b.split("\n")).filter((l) => l.trim().startsWith("countersign verify-bundle"));
    expect(lines.length).toBeGreaterThanOrEqual(1);
    const known = new Set(buildProgram().commands.find((c) => c.name() === "verify-bundle")!.options.map((o) => o.long));
    for (const line of lines) for (const word of line.split(/\s+/).filter((x) => x.startsWith("--"))) expect(known.has(word), `${line}: ${word}`).toBe(true);
    // The configuration example is the shape loadConfig takes (its keys are placeholders, so only the shape is checked).
    const example = /VAULT_LEDGER_WITNESSES='([\s\S]*?)'/.exec(section)![1]!;
    const parsed = JSON.parse(example) as { url: string; key: string }[];
    expect(parsed.map((x) => Object.keys(x).sort())).toEqual(parsed.map(() => ["key", "url"]));
  });
});

describe("witness cosigning on the embedded database (PGlite)", () => {
  let lite: TestDatabase;
  let vault: TestVault;
  let witnessProc: WitnessProcess;
  let liteAnchors: string;

  beforeAll(async () => {
    witnessProc = await newWitness("witness.test/lite");
    lite = newDatabase("pglite");
    liteAnchors = mkdtempSync(path.join(os.tmpdir(), "cs-witness-lite-"));
    vault = await startTestVault(lite, {
      env: { VAULT_LEDGER_ANCHOR_DIR: liteAnchors, VAULT_LEDGER_ORIGIN: ORIGIN_BASE, VAULT_LEDGER_WITNESSES: JSON.stringify([{ url: witnessProc.url, key: witnessProc.vkey }]) },
    });
    await witnessProc.start((await call(vault.url, "GET", "/ledger/checkpoint-key", { key: vault.adminKey })).body);
    expect((await call(vault.url, "POST", "/register-policy", { key: vault.adminKey, body: refundPolicy })).status).toBe(200);
  }, 120_000);

  afterAll(async () => {
    await witnessProc?.stop();
    await vault?.close();
    await lite?.drop();
    for (const dir of [liteAnchors, witnessProc && path.dirname(witnessProc.stateDir)]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("witnesses with the default quorum of one, across checkpoints, and anchors the cosigned note", async () => {
    const key = await newKey(vault, "agent");
    for (const round of ["x", "y"]) {
      await clearances(vault, key, 2, round);
      await vault.vault.ctx.ledgerLoop.drain();
      const now = (await call(vault.url, "GET", "/ledger/witnesses", { key })).body;
      expect(now.quorum).toBe(1);
      expect(now.latest).toMatchObject({ status: "witnessed", cosigned_by: [witnessProc.name] });
      expect(now.witnesses[0]).toMatchObject({ tree_size: now.latest.tree_size, last_cosigned_checkpoint: now.latest.checkpoint_id, refusal: null });
      const note = (await call(vault.url, "GET", "/ledger/checkpoint", { key })).body as string;
      expect(c2spCosigners(note, [witnessProc.vkey])).toEqual([witnessProc.name]);
      expect(readFileSync(path.join(liteAnchors, vault.tenantId, "checkpoint"), "utf8")).toBe(note);
    }
  });
});

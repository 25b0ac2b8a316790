/**
 * The bundle verifier's witness policy ("witness cosignatures") against cosignatures made by the
 * test-local C2SP code (test/helpers/c2sp-cosignature-verifier.ts, node:crypto from the spec text),
 * with hostile options and notes: every problem is a failed check, never a throw or a pass.
 */
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { describe, expect, it } from "vitest";
import { signNote, verifierKeyString } from "../../src/ledger/core/signed-note.js";
import { verifyProofBundle, trustedKeysFromJwks, trustedKeysFromKeyString, type BundleReport } from "../../src/ledger/verify/bundle-verifier.js";
import { verifyBundleWith } from "../../src/sdk/bundle.js";
import { c2spCosign, c2spSplitNote, c2spWitnessVkey } from "../helpers/c2sp-cosignature-verifier.js";
import { fullBundle, ORIGIN, PUBLIC_KEY, signer } from "../helpers/proof-bundle-fixture.js";

interface TestWitness {
  name: string;
  key: KeyObject;
  vkey: string;
}
const witness = (name: string): TestWitness => {
  const key = generateKeyPairSync("ed25519").privateKey;
  return { name, key, vkey: c2spWitnessVkey(name, key) };
};
const [w1, w2, w3] = [witness("witness.example/w1"), witness("witness.example/w2"), witness("witness.example/w3")];
const TIME = 1_767_225_600n;
const logKey = verifierKeyString(ORIGIN, PUBLIC_KEY);

/** The bundle's note with cosignature lines appended by the given witnesses. */
async function cosignedBundle(by: TestWitness[], edit: (line: string, w: TestWitness) => string = (l) => l) {
  const bundle = await fullBundle();
  const note = bundle.c2sp_checkpoint!;
  const { body } = c2spSplitNote(note);
  bundle.c2sp_checkpoint = note + by.map((w) => edit(c2spCosign(body, w.name, w.key, TIME), w)).join("");
  return bundle;
}

function witnessCheckOf(report: BundleReport) {
  return report.checks.find((c) => c.name === "witness cosignatures");
}

const verify = (bundle: unknown, witnesses: unknown) => verifyProofBundle(bundle, trustedKeysFromKeyString(logKey), { witnesses: witnesses as never });

describe("bundle verifier: witness cosignatures", () => {
  it("passes when the required number of trusted witnesses cosigned, and reports each with its timestamp", async () => {
    const report = verify(await cosignedBundle([w1, w2]), { keys: [w1.vkey, w2.vkey, w3.vkey], require: 2 });
    expect(report.ok).toBe(true);
    expect(witnessCheckOf(report)).toEqual({ name: "witness cosignatures", ok: true, detail: "2 of 3 trusted witness(es) cosigned: witness.example/w1, witness.example/w2; 2 required" });
    expect(report.witnesses).toEqual([
      { name: w1.name, key_id: w1.vkey.split("+")[1], cosigned: true, timestamp: Number(TIME) },
      { name: w2.name, key_id: w2.vkey.split("+")[1], cosigned: true, timestamp: Number(TIME) },
      { name: w3.name, key_id: w3.vkey.split("+")[1], cosigned: false },
    ]);
    // The log's own signature check still passes with the cosignature lines present (unknown keys are ignored).
    expect(report.checks.find((c) => c.name === "c2sp checkpoint")?.ok).toBe(true);
  });

  it("fails below the requirement, and defaults to requiring one", async () => {
    const one = await cosignedBundle([w1]);
    expect(witnessCheckOf(verify(one, { keys: [w1.vkey, w2.vkey], require: 2 }))).toMatchObject({ ok: false, detail: expect.stringMatching(/^1 of 2 .*; 2 required$/) });
    expect(verify(one, { keys: [w1.vkey, w2.vkey] }).ok).toBe(true);
    const none = await fullBundle();
    const report = verify(none, { keys: [w1.vkey] });
    expect(report.ok).toBe(false);
    expect(witnessCheckOf(report)?.detail).toBe("0 of 1 trusted witness(es) cosigned; 1 required");
  });

  it("ignores cosignatures of witnesses the caller does not trust", async () => {
    const report = verify(await cosignedBundle([w2, w3]), { keys: [w1.vkey], require: 1 });
    expect(witnessCheckOf(report)?.ok).toBe(false);
    expect(report.witnesses).toEqual([{ name: w1.name, key_id: w1.vkey.split("+")[1], cosigned: false }]);
  });

  it("refuses a forged, altered or transplanted cosignature of a trusted witness", async () => {
    // One base64 digit inside the Ed25519 signature (after the 16 digits of key ID and timestamp).
    const flipped = await cosignedBundle([w1], (line, w) => {
      const at = `\u2014 ${w.name} `.length + 40;
      return line.slice(0, at) + (line[at] === "A" ? "B" : "A") + line.slice(at + 1);
    });
    expect(witnessCheckOf(verify(flipped, { keys: [w1.vkey] }))).toMatchObject({ ok: false, detail: expect.stringMatching(/bad_signature/) });
    // A valid cosignature of another tree head, moved onto this note.
    const other = await fullBundle();
    const foreign = c2spCosign("vault.example.com/ledger/tenant-1\n99\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", w1.name, w1.key, TIME);
    other.c2sp_checkpoint += foreign;
    expect(witnessCheckOf(verify(other, { keys: [w1.vkey] }))).toMatchObject({ ok: false, detail: expect.stringMatching(/bad_signature/) });
    // Signed by another key under w1's name: its key ID differs, so it is not w1's cosignature at all.
    const impostor = witness(w1.name);
    const fake = await cosignedBundle([impostor]);
    expect(witnessCheckOf(verify(fake, { keys: [w1.vkey] }))).toMatchObject({ ok: false, detail: expect.stringMatching(/^0 of 1/) });
  });

  it("counts one Ed25519 key once, even when the policy gives it under two names", async () => {
    // The signed message does not commit to the name: w1's one signature, relabelled with another name and
    // that name's key ID, verifies as a second "witness". Two names, one key, one cosigner.
    const alias = { name: "witness.example/w1-again", key: w1.key, vkey: c2spWitnessVkey("witness.example/w1-again", w1.key) };
    const bundle = await cosignedBundle([w1, alias]);
    const report = verify(bundle, { keys: [w1.vkey, alias.vkey, w2.vkey], require: 2 });
    expect(report.ok).toBe(false);
    expect(witnessCheckOf(report)).toMatchObject({ ok: false, detail: expect.stringMatching(/^1 of 2 trusted witness\(es\) cosigned: .*counted once\); 2 required$/) });
    expect(witnessCheckOf(verify(bundle, { keys: [w1.vkey, alias.vkey], require: 2 }))).toMatchObject({ ok: false, detail: expect.stringMatching(/only 1 distinct witness key/) });
    expect(verifyBundleWith(bundle, { key: logKey }, { witnesses: { keys: [w1.vkey, alias.vkey], require: 2 } }).ok).toBe(false);
    // With a second, really distinct witness it is met.
    expect(verify(await cosignedBundle([w1, alias, w2]), { keys: [w1.vkey, alias.vkey, w2.vkey], require: 2 }).ok).toBe(true);
  });

  it("binds the cosignatures to the log audited: another origin's checkpoint with the same tree head does not stand in", async () => {
    // The vault runs a second log ("tenant-2") under the same key, holding the very tree it shows this
    // auditor, and has the witnesses (told to witness tenant-2 too) cosign it there. Vault-signed, witnessed,
    // same size and root: everything checks out except that the witnesses spoke about another log.
    const other = "vault.example.com/ledger/tenant-2";
    const bundle = await fullBundle();
    const { body } = c2spSplitNote(bundle.c2sp_checkpoint!);
    const otherBody = body.replace(ORIGIN, other);
    const noteSigner = (m: Uint8Array) => signer.sign(m);
    bundle.c2sp_checkpoint = (await signNote(otherBody, other, noteSigner, PUBLIC_KEY)) + c2spCosign(otherBody, w1.name, w1.key, TIME) + c2spCosign(otherBody, w2.name, w2.key, TIME);
    bundle.c2sp_verifier_key = verifierKeyString(other, PUBLIC_KEY);
    const policy = { keys: [w1.vkey, w2.vkey], require: 2 };
    // Pinned by the C2SP key the auditor trusts (its name is the log's origin)...
    const byKey = verify(bundle, policy);
    expect(byKey.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(["witness cosignatures"]);
    expect(witnessCheckOf(byKey)).toMatchObject({ ok: false, detail: expect.stringMatching(/is of the log "vault\.example\.com\/ledger\/tenant-2", not "vault\.example\.com\/ledger\/tenant-1"/) });
    // ...or by the origin given with the policy (JWKS carries no origin), in the SDK as in the verifier.
    const jwks = { keys: [signer.publicJwk] };
    expect(witnessCheckOf(verifyProofBundle(bundle, trustedKeysFromJwks(jwks), { witnesses: { ...policy, origin: ORIGIN } }))).toMatchObject({ ok: false });
    expect(verifyBundleWith(bundle, { jwks }, { witnesses: { ...policy, origin: ORIGIN } }).ok).toBe(false);
    // Unpinned, the report says which log the witnesses spoke about.
    const unpinned = verifyProofBundle(bundle, trustedKeysFromJwks(jwks), { witnesses: policy });
    expect(unpinned.notes).toContainEqual(expect.stringMatching(/statements about the log with origin "vault\.example\.com\/ledger\/tenant-2"; pin the origin/));
    // The genuine bundle passes pinned either way.
    const genuine = await cosignedBundle([w1, w2]);
    expect(verify(genuine, policy).ok).toBe(true);
    expect(verifyBundleWith(genuine, { jwks }, { witnesses: { ...policy, origin: ORIGIN } }).ok).toBe(true);
    expect(witnessCheckOf(verify(genuine, { ...policy, origin: "" }))).toMatchObject({ ok: false, detail: expect.stringMatching(/origin must be one non-empty line/) });
  });

  it("refuses cosignatures of a tree head other than the one the inclusion proof leads to", async () => {
    const bundle = await fullBundle();
    // The consistency proof's "from" head, validly cosigned: real signatures, wrong checkpoint.
    const from = bundle.consistency!.from_checkpoint;
    const body = `${ORIGIN}\n${from.tree_size}\n${Buffer.from(from.root_hash, "hex").toString("base64")}\n`;
    bundle.c2sp_checkpoint = `${body}\n${c2spCosign(body, w1.name, w1.key, TIME)}`;
    expect(witnessCheckOf(verify(bundle, { keys: [w1.vkey] }))).toMatchObject({ ok: false, detail: expect.stringMatching(/cosigned tree size 3 is not the inclusion checkpoint's 7/) });
  });

  it.each([
    ["no keys", { keys: [] }, /no witness key given/],
    ["keys that are not a list", { keys: "x" }, /no witness key given/],
    ["a missing policy object", null, /no witness key given/],
    ["a negative requirement", { keys: [w1.vkey], require: -1 }, /non-negative integer/],
    ["a fractional requirement", { keys: [w1.vkey], require: 1.5 }, /non-negative integer/],
    ["a requirement above the keys", { keys: [w1.vkey, w2.vkey], require: 3 }, /3 cosignatures required but only 2 distinct/],
    ["the same key twice", { keys: [w1.vkey, w1.vkey], require: 2 }, /only 1 distinct/],
    ["a log key as a witness key", { keys: [logKey] }, /witness key 1 is unusable: .*unsupported_algorithm/],
    ["garbage", { keys: ["+++"] }, /witness key 1 is unusable/],
    ["a key that is not a string", { keys: [42] }, /witness key 1 is unusable/],
    ["a huge list", { keys: Array.from({ length: 10_000 }, () => w1.vkey) }, /10000 witness keys, at most 256/],
  ])("fails, never throws, on %s", async (_what, policy, message) => {
    const report = verify(await cosignedBundle([w1]), policy);
    expect(report.ok).toBe(false);
    expect(witnessCheckOf(report)).toMatchObject({ ok: false, detail: expect.stringMatching(message) });
  });

  it("fails on a hostile note: no C2SP checkpoint, a broken signature line, a timestamp beyond 2^53", async () => {
    const bare = await fullBundle();
    delete bare.c2sp_checkpoint;
    expect(witnessCheckOf(verify(bare, { keys: [w1.vkey] }))?.detail).toMatch(/no C2SP checkpoint/);
    const broken = await cosignedBundle([w1]);
    broken.c2sp_checkpoint += "\u2014 witness.example/w1 not-base64!\n";
    expect(witnessCheckOf(verify(broken, { keys: [w1.vkey] }))).toMatchObject({ ok: false });
    const future = await fullBundle();
    future.c2sp_checkpoint += c2spCosign(c2spSplitNote(future.c2sp_checkpoint!).body, w1.name, w1.key, 2n ** 60n);
    expect(witnessCheckOf(verify(future, { keys: [w1.vkey] }))).toMatchObject({ ok: false, detail: expect.stringMatching(/bad_timestamp/) });
  });

  it("adds nothing without a witness policy, and the SDK passes the same policy through", async () => {
    const bundle = await cosignedBundle([w1, w2]);
    const plain = verifyProofBundle(bundle, trustedKeysFromKeyString(logKey));
    expect(witnessCheckOf(plain)).toBeUndefined();
    expect(plain.witnesses).toBeUndefined();
    const sdk = verifyBundleWith(bundle, { key: logKey }, { witnesses: { keys: [w1.vkey, w2.vkey], require: 2 } });
    expect(sdk.ok).toBe(true);
    expect(sdk.witnesses?.map((w) => w.cosigned)).toEqual([true, true]);
    expect(verifyBundleWith(bundle, { key: logKey }, { witnesses: { keys: [w3.vkey], require: 1 } }).ok).toBe(false);
  });
});

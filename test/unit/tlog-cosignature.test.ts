import { generateKeyPairSync, sign as edSign, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LedgerError, type LedgerErrorCode } from "../../src/ledger/core/ledger-error.js";
import { noteVerifier, openNote, parseVerifierKey } from "../../src/ledger/core/signed-note.js";
import { openCheckpoint } from "../../src/ledger/core/tlog-checkpoint.js";
import {
  cosignatureKeyId,
  cosignatureMessage,
  cosignatureVerifier,
  cosignatureVerifierKey,
  parseCosignatureVerifierKey,
  signCosignature,
  verifyCosignatures,
} from "../../src/ledger/core/tlog-cosignature.js";
import { c2spCosign, c2spCosignaturesBy, c2spCosigners, c2spWitnessVkey } from "../helpers/c2sp-cosignature-verifier.js";

const TESSERA = new URL("../vectors/c2sp-tessera-log/", import.meta.url);
const tessera = (file: string) => readFileSync(new URL(file, TESSERA), "utf8");
const TESSERA_KEY = /^public key \(C2SP note verifier\): (\S+)$/m.exec(tessera("KEY.txt"))![1]!;

interface TestWitness {
  name: string;
  privateKey: KeyObject;
  publicKey: Uint8Array;
  sign: (m: Uint8Array) => Uint8Array;
}

function witness(name: string): TestWitness {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const raw = new Uint8Array(Buffer.from(publicKey.export({ format: "jwk" }).x as string, "base64url"));
  return { name, privateKey, publicKey: raw, sign: (m) => new Uint8Array(edSign(null, m, privateKey)) };
}

function caught(fn: () => unknown): LedgerError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(LedgerError);
    return err as LedgerError;
  }
  throw new Error("expected a LedgerError");
}
const code = (fn: () => unknown): LedgerErrorCode => caught(fn).code;
async function asyncCode(p: Promise<unknown>): Promise<LedgerErrorCode> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(LedgerError);
  return (err as LedgerError).code;
}

const body15 = () => tessera("checkpoint.15").slice(0, tessera("checkpoint.15").lastIndexOf("\n\n") + 1);

describe("C2SP tlog-cosignature: the signed message and keys", () => {
  it("builds the spec's example message byte for byte", () => {
    const body = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    expect(Buffer.from(cosignatureMessage(body, 1679315147)).toString("utf8")).toBe(
      "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
    );
    expect(Buffer.from(cosignatureMessage(body, 0)).toString("utf8")).toMatch(/^cosignature\/v1\ntime 0\n/);
  });

  it("refuses to sign or frame what is not a checkpoint, and timestamps that are not integers in range", () => {
    expect(code(() => cosignatureMessage("not a checkpoint\n", 1))).toBe("malformed_checkpoint");
    expect(code(() => cosignatureMessage("o\n01\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", 1))).toBe("malformed_checkpoint");
    for (const ts of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) expect(code(() => cosignatureMessage(body15(), ts))).toBe("bad_timestamp");
  });

  it("derives the key ID and vkey exactly as the independent helper does (type 0x04)", () => {
    const w = witness("witness.example.com/w1");
    expect(cosignatureVerifierKey(w.name, w.publicKey)).toBe(c2spWitnessVkey(w.name, w.privateKey));
    const parsed = parseCosignatureVerifierKey(cosignatureVerifierKey(w.name, w.publicKey));
    expect(parsed).toEqual({ name: w.name, keyId: cosignatureKeyId(w.name, w.publicKey), publicKey: w.publicKey });
    // Not the note (log) key ID of the same key: 0x01 and 0x04 separate the two uses.
    expect(cosignatureKeyId(w.name, w.publicKey)).not.toBe(noteVerifier(w.name, w.publicKey).keyId);
  });

  it("refuses log keys, wrong key IDs and malformed vkeys", () => {
    expect(code(() => parseCosignatureVerifierKey(TESSERA_KEY))).toBe("unsupported_algorithm");
    expect(caught(() => parseCosignatureVerifierKey(TESSERA_KEY)).message).toMatch(/log's note key/);
    const w = witness("w.example/1");
    const vkey = cosignatureVerifierKey(w.name, w.publicKey);
    const [name, id, key] = [vkey.slice(0, vkey.indexOf("+")), vkey.split("+")[1]!, vkey.slice(vkey.indexOf("+", vkey.indexOf("+") + 1) + 1)];
    expect(code(() => parseCosignatureVerifierKey(`${name}x+${id}+${key}`))).toBe("key_id_mismatch");
    expect(code(() => parseCosignatureVerifierKey(`${name}+${id.replace(/.$/, (c) => (c === "0" ? "1" : "0"))}+${key}`))).toBe("key_id_mismatch");
    for (const bad of ["", "a+b", "+00000000+BA==", `${name}+zzzzzzzz+${key}`, `${name}+${id}+${key}=`, `${name}+${id}+`, `a b+${id}+${key}`, 42 as unknown as string, "x".repeat(5000)]) {
      expect(["invalid_key", "key_id_mismatch"]).toContain(code(() => parseCosignatureVerifierKey(bad)));
    }
  });
});

describe("C2SP tlog-cosignature: signing and verifying", () => {
  it("our cosignature verifies with the verifier written from the spec text, and its timestamp reads back", async () => {
    const w = witness("witness.example.com/w1");
    const line = await signCosignature(body15(), w.name, 1_767_225_600, w.sign, w.publicKey);
    expect(line).toMatch(/^\u2014 witness\.example\.com\/w1 [A-Za-z0-9+/]{102}==\n$/); // 4 + 8 + 64 = 76 bytes
    const note = tessera("checkpoint.15") + line;
    expect(c2spCosignaturesBy(note, c2spWitnessVkey(w.name, w.privateKey))).toEqual([{ name: w.name, timestamp: 1_767_225_600n, valid: true }]);
    // The log's own signature still verifies: the cosignature is just another line.
    expect(openCheckpoint(note, [parseVerifierKey(TESSERA_KEY)], { origin: "example.com/log/testdata" }).checkpoint.size).toBe(15);
  });

  it("verifies a cosignature made by the independent helper, ignoring the log's and unknown lines", () => {
    const w = witness("witness.example.com/w1");
    const other = witness("other.example/w9");
    const note = tessera("checkpoint.15") + c2spCosign(body15(), other.name, other.privateKey, 5n) + c2spCosign(body15(), w.name, w.privateKey, 1_700_000_000n);
    const result = verifyCosignatures(note, [cosignatureVerifier(w.name, w.publicKey)]);
    expect(result.cosigned).toEqual([{ name: w.name, keyId: cosignatureKeyId(w.name, w.publicKey), timestamp: 1_700_000_000 }]);
    expect(result.checkpoint.size).toBe(15);
    expect(result.body).toBe(body15());
    // Only the log signature, or none we trust: an empty list, not an error (the caller counts).
    expect(verifyCosignatures(tessera("checkpoint.15"), [cosignatureVerifier(w.name, w.publicKey)]).cosigned).toEqual([]);
    expect(verifyCosignatures(note, []).cosigned).toEqual([]);
  });

  it("reports each witness once, with its latest timestamp", async () => {
    const w = witness("w.example/1");
    const a = await signCosignature(body15(), w.name, 100, w.sign, w.publicKey);
    const b = await signCosignature(body15(), w.name, 200, w.sign, w.publicKey);
    const note = tessera("checkpoint.15") + b + a;
    expect(verifyCosignatures(note, [cosignatureVerifier(w.name, w.publicKey)]).cosigned.map((c) => c.timestamp)).toEqual([200]);
  });

  it("refuses a note whose trusted witness's line does not verify: tampered body, signature, timestamp or length", async () => {
    const w = witness("w.example/1");
    const trusted = [cosignatureVerifier(w.name, w.publicKey)];
    const line = await signCosignature(body15(), w.name, 1_700_000_000, w.sign, w.publicKey);
    const raw = Buffer.from(line.slice(line.lastIndexOf(" ") + 1, -1), "base64");
    const relined = (bytes: Buffer) => `\u2014 ${w.name} ${bytes.toString("base64")}\n`;
    const flip = (i: number) => {
      const b = Buffer.from(raw);
      b[i]! ^= 1;
      return b;
    };
    const note = tessera("checkpoint.15");
    expect(code(() => verifyCosignatures(note.replace("\n15\n", "\n16\n") + line, trusted))).toBe("bad_signature");
    expect(code(() => verifyCosignatures(note + relined(flip(75)), trusted))).toBe("bad_signature"); // signature byte
    expect(code(() => verifyCosignatures(note + relined(flip(11)), trusted))).toBe("bad_signature"); // timestamp byte
    expect(code(() => verifyCosignatures(note + relined(raw.subarray(0, 75)), trusted))).toBe("bad_signature");
    expect(code(() => verifyCosignatures(note + relined(Buffer.concat([raw, Buffer.of(0)])), trusted))).toBe("bad_signature");
    // A flipped key-ID byte makes it a line of an unknown key: ignored.
    expect(verifyCosignatures(note + relined(flip(0)), trusted).cosigned).toEqual([]);
    // Each verifier also refuses the other's tampering.
    expect(c2spCosignaturesBy(note + relined(flip(75)), c2spWitnessVkey(w.name, w.privateKey))[0]!.valid).toBe(false);
  });

  it("takes timestamps up to 2^53 - 1 and refuses larger ones as bad_timestamp (the spec's 2^63 - 1 bound is checked by the helper)", () => {
    const w = witness("w.example/1");
    const trusted = [cosignatureVerifier(w.name, w.publicKey)];
    const max = BigInt(Number.MAX_SAFE_INTEGER);
    expect(verifyCosignatures(tessera("checkpoint.15") + c2spCosign(body15(), w.name, w.privateKey, max), trusted).cosigned[0]!.timestamp).toBe(Number.MAX_SAFE_INTEGER);
    expect(code(() => verifyCosignatures(tessera("checkpoint.15") + c2spCosign(body15(), w.name, w.privateKey, max + 1n), trusted))).toBe("bad_timestamp");
    const beyondSpec = tessera("checkpoint.15") + c2spCosign(body15(), w.name, w.privateKey, 2n ** 63n);
    expect(c2spCosignaturesBy(beyondSpec, c2spWitnessVkey(w.name, w.privateKey))[0]!.valid).toBe(false);
    expect(code(() => verifyCosignatures(beyondSpec, trusted))).toBe("bad_timestamp");
  });

  it("keeps cosignatures and note signatures apart (domain separation by type byte and message)", async () => {
    const w = witness("example.com/log/testdata");
    const line = await signCosignature(body15(), w.name, 7, w.sign, w.publicKey);
    // The same raw key trusted as a log key (0x01) has another key ID: the cosignature is not its signature.
    expect(code(() => openNote(body15() + "\n" + line, [noteVerifier(w.name, w.publicKey)]))).toBe("no_verified_signature");
    // A log (note) signature of the same key is not a cosignature either.
    const logLine = `\u2014 ${w.name} ${Buffer.concat([Buffer.from(cosignatureKeyId(w.name, w.publicKey), "hex"), Buffer.from(w.sign(Buffer.from(body15())))]).toString("base64")}\n`;
    expect(code(() => verifyCosignatures(body15() + "\n" + logLine, [cosignatureVerifier(w.name, w.publicKey)]))).toBe("bad_signature");
  });

  it("refuses to emit a cosignature the key does not verify, or for bad names and bodies", async () => {
    const w = witness("w.example/1");
    const other = witness("w.example/2");
    expect(await asyncCode(signCosignature(body15(), w.name, 1, other.sign, w.publicKey))).toBe("signer_mismatch");
    expect(await asyncCode(signCosignature(body15(), w.name, 1, () => new Uint8Array(63), w.publicKey))).toBe("signer_mismatch");
    expect(await asyncCode(signCosignature(body15(), "a b", 1, w.sign, w.publicKey))).toBe("invalid_key_name");
    expect(await asyncCode(signCosignature(body15(), w.name, 1, w.sign, new Uint8Array(31)))).toBe("invalid_key");
    expect(await asyncCode(signCosignature("hello\n", w.name, 1, w.sign, w.publicKey))).toBe("malformed_checkpoint");
    expect(await asyncCode(signCosignature(body15(), w.name, -5, w.sign, w.publicKey))).toBe("bad_timestamp");
  });

  it("refuses two different trusted keys under one name and key ID", () => {
    const w = witness("w.example/1");
    const forged = { ...cosignatureVerifier(w.name, w.publicKey), publicKey: new Uint8Array(32).fill(7) };
    expect(code(() => verifyCosignatures(tessera("checkpoint.15"), [cosignatureVerifier(w.name, w.publicKey), forged]))).toBe("ambiguous_verifier");
  });

  it("throws nothing but LedgerError on hostile notes (property test over mutations of a cosigned note)", async () => {
    const w = witness("w.example/1");
    const trusted = [cosignatureVerifier(w.name, w.publicKey)];
    const note = Buffer.from(tessera("checkpoint.15") + (await signCosignature(body15(), w.name, 42, w.sign, w.publicKey)));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(note.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.boolean(), (edits, truncate) => {
        const bytes = Buffer.from(note);
        for (const [at, value] of edits) bytes[at] = value;
        const input = truncate ? bytes.subarray(0, edits[0]![0]) : bytes;
        try {
          const result = verifyCosignatures(new Uint8Array(input), trusted);
          // Whatever survives must be what the independent verifier also accepts.
          if (result.cosigned.length > 0) expect(c2spCosigners(input.toString("utf8"), [c2spWitnessVkey(w.name, w.privateKey)])).toEqual([w.name]);
        } catch (err) {
          expect(err).toBeInstanceOf(LedgerError);
        }
      }),
      { numRuns: 400 },
    );
    for (const hostile of [null, 42, {}, "", "\n\n", "a\n\n\u2014 x AAAAAA==\n", "x".repeat(2 << 20)]) {
      expect(() => verifyCosignatures(hostile as string, trusted)).toThrow(LedgerError);
    }
  });
});

import { createHash, generateKeyPairSync, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  isValidKeyName,
  keyId,
  MAX_SIGNATURES,
  noteVerifier,
  openNote,
  parseVerifierKey,
  signNote,
  verifierKeyString,
} from "../../src/ledger/core/signed-note.js";
import { LedgerError, type LedgerErrorCode } from "../../src/ledger/core/ledger-error.js";
import { formatCheckpoint, openCheckpoint, parseCheckpoint } from "../../src/ledger/core/tlog-checkpoint.js";
import { LocalSigner, parseEd25519PrivateKey } from "../../src/tokens/signer.js";

const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");
const sha256 = (data: Uint8Array | string) => createHash("sha256").update(data).digest();

function noteError(fn: () => unknown): LedgerError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(LedgerError);
    return err as LedgerError;
  }
  throw new Error("expected a LedgerError, nothing was thrown");
}
const code = (fn: () => unknown): LedgerErrorCode => noteError(fn).code;
async function asyncCode(p: Promise<unknown>): Promise<LedgerErrorCode> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LedgerError);
  return (err as LedgerError).code;
}

// ---- the real Tessera test log (transparency-dev/tessera testdata/log, Apache-2.0) -----------------------

const TESSERA = new URL("../vectors/c2sp-tessera-log/", import.meta.url);
const tessera = (file: string) => readFileSync(new URL(file, TESSERA), "utf8");
const TESSERA_ORIGIN = "example.com/log/testdata";
// Leaves in order; each checkpoint.N commits to the first N.
const LEAVES = "one two three four five six seven eit nain ten ileven twelf threeten fourten fivten".split(" ");

/** RFC 6962 §2.1 MTH, naive and recursive: the reference the roots must match. */
function mth(leaves: string[]): Buffer {
  if (leaves.length === 0) return sha256(new Uint8Array());
  if (leaves.length === 1) return sha256(Buffer.concat([Buffer.of(0), Buffer.from(leaves[0]!)]));
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return sha256(Buffer.concat([Buffer.of(1), mth(leaves.slice(0, k)), mth(leaves.slice(k))]));
}

function tesseraKey(): string {
  const m = /^public key \(C2SP note verifier\): (\S+)$/m.exec(tessera("KEY.txt"));
  if (!m) throw new Error("KEY.txt has no verifier key line");
  return m[1]!;
}

describe("C2SP signed notes: the Tessera test log", () => {
  const vkey = tesseraKey();
  const verifier = parseVerifierKey(vkey);

  it("parses KEY.txt; the key ID recomputed from name and key is the one in the string", () => {
    expect(vkey).toBe("example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx");
    expect(verifier.name).toBe(TESSERA_ORIGIN);
    expect(verifier.keyId).toBe("33d7b496");
    expect(verifier.publicKey).toHaveLength(32);
    expect(keyId(verifier.name, verifier.publicKey)).toBe("33d7b496");
    // By hand, straight from the spec: SHA-256(name || 0x0A || 0x01 || key)[:4].
    const byHand = sha256(Buffer.concat([Buffer.from(TESSERA_ORIGIN), Buffer.of(0x0a, 0x01), verifier.publicKey])).subarray(0, 4);
    expect(byHand.toString("hex")).toBe("33d7b496");
    expect(verifierKeyString(verifier.name, verifier.publicKey)).toBe(vkey);
  });

  it("verifies checkpoint.0 to checkpoint.15 and `checkpoint`; sizes parse and roots are the RFC 6962 roots of the leaves", () => {
    for (let n = 0; n <= 15; n++) {
      const text = tessera(`checkpoint.${n}`);
      for (const input of [text, new Uint8Array(Buffer.from(text))]) {
        const opened = openNote(input, [verifier]);
        expect(opened.verifiedBy).toEqual([{ name: TESSERA_ORIGIN, keyId: "33d7b496" }]);
        expect(opened.unverified).toEqual([]);
        expect(text.startsWith(opened.body)).toBe(true);
      }
      const { checkpoint } = openCheckpoint(text, [verifier], { origin: TESSERA_ORIGIN });
      expect(checkpoint.origin).toBe(TESSERA_ORIGIN);
      expect(checkpoint.size).toBe(n);
      expect(checkpoint.extensions).toEqual([]);
      expect(b64(checkpoint.rootHash)).toBe(b64(mth(LEAVES.slice(0, n))));
      // Our formatter writes the same bytes Tessera signed.
      expect(formatCheckpoint(checkpoint)).toBe(openNote(text, [verifier]).body);
    }
    expect(tessera("checkpoint")).toBe(tessera("checkpoint.15"));
    expect(openCheckpoint(tessera("checkpoint"), [verifier]).checkpoint.size).toBe(15);
    expect(b64(parseCheckpoint(openNote(tessera("checkpoint.0"), [verifier]).body).rootHash)).toBe(b64(sha256("")));
  });

  it("rejects every one-byte change (+1 and high-bit flip) to checkpoint.15", () => {
    const bytes = Buffer.from(tessera("checkpoint.15"));
    const bodyEnd = bytes.indexOf("\n\n") + 1;
    const codes = new Set<LedgerErrorCode>();
    for (const change of [(b: number) => (b + 1) & 0xff, (b: number) => b ^ 0x80]) {
      for (let i = 0; i < bytes.length; i++) {
        const copy = Buffer.from(bytes);
        copy[i] = change(copy[i]!);
        const c = code(() => openNote(copy, [verifier]));
        codes.add(c);
        // A changed body byte that is still valid text can only fail the signature.
        if (i < bodyEnd && bytes[i] !== 0x0a && copy[i]! >= 0x20 && copy[i]! < 0x7f) expect(c).toBe("bad_signature");
      }
    }
    expect([...codes].sort()).toEqual(["bad_signature", "control_character", "invalid_utf8", "malformed_signature_line", "no_verified_signature"]);
  });

  it("names the failure: body byte, signature byte, key name, origin", () => {
    const text = tessera("checkpoint.15");
    expect(code(() => openNote(text.replace("\n15\n", "\n16\n"), [verifier]))).toBe("bad_signature");
    // Change a base64 character past the key ID (the first 6 characters encode 4.5 bytes).
    const line = text.slice(text.indexOf("\u2014"));
    const sig = line.slice(line.lastIndexOf(" ") + 1, -1);
    const i = 20;
    const flipped = sig.slice(0, i) + (sig[i] === "A" ? "B" : "A") + sig.slice(i + 1);
    expect(code(() => openNote(text.replace(sig, flipped), [verifier]))).toBe("bad_signature");
    // The key ID bytes changed: an unknown key, ignored, so nothing known verifies.
    const idFlipped = (sig[0] === "A" ? "B" : "A") + sig.slice(1);
    expect(code(() => openNote(text.replace(sig, idFlipped), [verifier]))).toBe("no_verified_signature");
    // Another key name: also an unknown key.
    const renamed = text.replace(`\u2014 ${TESSERA_ORIGIN} `, "\u2014 example.com/log/other ");
    expect(noteError(() => openNote(renamed, [verifier])).message).toMatch(/no_verified_signature: no signature from a known key \(1 from unknown/);
    expect(code(() => openCheckpoint(text, [verifier], { origin: "example.com/log/other" }))).toBe("origin_mismatch");
    expect(code(() => openNote(text, []))).toBe("no_verified_signature");
  });
});

// ---- the Go reference implementation's documented example (golang.org/x/mod/sumdb/note) ---------------

describe("C2SP signed notes: golang.org/x/mod/sumdb/note example, byte for byte", () => {
  const VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
  const SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
  const TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
  const SIG = "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
  const NOTE = `${TEXT}\n${SIG}`;
  const verifier = parseVerifierKey(VKEY);
  // The skey is "PRIVATE+KEY+<name>+<id>+base64(0x01 || seed)"; the base64 itself contains "+".
  const skeyBytes = Buffer.from(SKEY.split("+").slice(4).join("+"), "base64");
  const signer = new LocalSigner("peter", parseEd25519PrivateKey(skeyBytes.subarray(1).toString("base64"), "test"));
  const publicKey = Buffer.from(signer.publicJwk.x, "base64url");

  it("derives the documented key ID and key string, and reproduces the documented note", async () => {
    expect(skeyBytes[0]).toBe(0x01);
    expect(verifier).toMatchObject({ name: "PeterNeumann", keyId: "c74f20a3" });
    expect(b64(verifier.publicKey)).toBe(b64(publicKey));
    expect(keyId("PeterNeumann", publicKey)).toBe("c74f20a3");
    expect(verifierKeyString("PeterNeumann", publicKey)).toBe(VKEY);
    expect(await signNote(TEXT, "PeterNeumann", (m) => signer.sign(m), publicKey)).toBe(NOTE);
    expect(openNote(NOTE, [verifier])).toEqual({ body: TEXT, verifiedBy: [{ name: "PeterNeumann", keyId: "c74f20a3" }], unverified: [] });
  });

  it("rejects the reference implementation's malformed notes", () => {
    const cases: [string, LedgerErrorCode][] = [
      [TEXT, "malformed_note"],
      [`${TEXT}\n`, "malformed_note"],
      [`${TEXT}\n${SIG.slice(0, -1)}`, "malformed_note"],
      [`\u0001${TEXT}\n${SIG}`, "control_character"],
      [`${TEXT}\n${SIG.replace("PeterNeumann", "Bad Name")}`, "malformed_signature_line"],
      [`${TEXT}\n${SIG}Unexpected line.\n`, "malformed_signature_line"],
    ];
    for (const [note, want] of cases) expect(code(() => openNote(note, [verifier])), JSON.stringify(note.slice(-30))).toBe(want);
    expect(code(() => openNote(Buffer.concat([Buffer.of(0xff), Buffer.from(NOTE)]), [verifier]))).toBe("invalid_utf8");
  });

  it("rejects the reference implementation's bad verifier keys and other mangled key strings", () => {
    const cases: [string, LedgerErrorCode][] = [
      ["PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==", "invalid_key"], // wrong length, adjusted ID
      ["PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "unsupported_algorithm"], // type 0x65, adjusted ID
      ["PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "key_id_mismatch"],
      ["Peter+Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "invalid_key"],
      ["Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "invalid_key"],
      ["+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "invalid_key"],
      ["PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "invalid_key"],
      ["PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq_LDE4izWy10TW", "invalid_key"], // URL-safe alphabet
      ["PeterNeumann+c74f20a3", "invalid_key"],
      ["PeterNeumann+c74f20a3+", "invalid_key"],
      [`${"a".repeat(5000)}+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW`, "invalid_key"],
    ];
    for (const [key, want] of cases) expect(code(() => parseVerifierKey(key)), key.slice(0, 40)).toBe(want);
    // Every truncation of the key string is refused.
    for (let i = 0; i < VKEY.length; i++) expect(code(() => parseVerifierKey(VKEY.slice(0, i))), `${i}`).toMatch(/^(invalid_key|key_id_mismatch)$/);
    // Uppercase hex is accepted (Go parses it with ParseUint) and normalised.
    expect(parseVerifierKey(VKEY.replace("c74f20a3", "C74F20A3")).keyId).toBe("c74f20a3");
  });

  it("verifies every known signature line (a corrupted repeat rejects the note) and caps the count at 100", () => {
    const corrupted = SIG.replace("RyyBwJnAM=", "RyyBwJnBM=");
    expect(code(() => openNote(`${TEXT}\n${SIG}${corrupted}`, [verifier]))).toBe("bad_signature");
    expect(code(() => openNote(`${TEXT}\n${corrupted}${SIG}`, [verifier]))).toBe("bad_signature");
    expect(openNote(`${TEXT}\n${SIG.repeat(MAX_SIGNATURES)}`, [verifier]).verifiedBy).toHaveLength(1);
    expect(code(() => openNote(`${TEXT}\n${SIG.repeat(MAX_SIGNATURES + 1)}`, [verifier]))).toBe("too_many_signatures");
    expect(code(() => openNote(`${TEXT}\n${SIG.repeat(3)}`, [verifier], { maxSignatures: 2 }))).toBe("too_many_signatures");
  });

  it("treats a duplicated verifier as one, two different keys with the same name and ID as ambiguous", () => {
    expect(openNote(NOTE, [verifier, parseVerifierKey(VKEY)]).verifiedBy).toHaveLength(1);
    const impostor = { ...verifier, publicKey: new Uint8Array(32).fill(7) };
    expect(code(() => openNote(NOTE, [verifier, impostor]))).toBe("ambiguous_verifier");
  });
});

// ---- the C2SP specs' own examples (no keys published: structure only) ----------------------------------

describe("C2SP spec examples", () => {
  it("splits the signed-note example at the last blank line and ignores its unknown signature", () => {
    const note =
      "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n\n" +
      "\u2014 quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";
    const err = noteError(() => openNote(note, []));
    expect(err.code).toBe("no_verified_signature");
    expect(err.message).toMatch(/1 from unknown/);
  });

  it("parses the tlog-checkpoint example body", () => {
    const body = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    const note = `${body}\n\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n`;
    expect(code(() => openNote(note, []))).toBe("no_verified_signature");
    const cp = parseCheckpoint(body);
    expect(cp).toMatchObject({ origin: "example.com/behind-the-sofa", size: 20852163, extensions: [] });
    expect(formatCheckpoint(cp)).toBe(body);
  });
});

// ---- our own keys ---------------------------------------------------------------------------------------

function newKey() {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const signer = new LocalSigner("ledger", privateKey);
  return { signer, publicKeyObject: publicKey, raw: new Uint8Array(Buffer.from(signer.publicJwk.x, "base64url")) };
}

describe("signing checkpoints with our own key", () => {
  const origin = "vault.example.com/ledger/tenant-1";
  const k = newKey();
  const body = formatCheckpoint({ origin, size: 1234, rootHash: sha256("root") });

  it("round trips, and the signature is a plain Ed25519 signature over the body bytes", async () => {
    expect(body).toBe(`${origin}\n1234\n${b64(sha256("root"))}\n`);
    const note = await signNote(body, origin, (m) => k.signer.sign(m), k.raw);
    const vkey = verifierKeyString(origin, k.raw);
    const opened = openCheckpoint(note, [parseVerifierKey(vkey)], { origin });
    expect(opened.body).toBe(body);
    expect(opened.verifiedBy).toEqual([{ name: origin, keyId: keyId(origin, k.raw) }]);
    expect(opened.checkpoint).toMatchObject({ origin, size: 1234 });
    expect(b64(opened.checkpoint.rootHash)).toBe(b64(sha256("root")));
    // Independently of our code: strip the line, drop the 4-byte key ID, verify with node:crypto.
    const line = note.slice(body.length + 1);
    expect(line.startsWith(`\u2014 ${origin} `)).toBe(true);
    const sig = Buffer.from(line.slice(`\u2014 ${origin} `.length, -1), "base64");
    expect(sig).toHaveLength(68);
    expect(sig.subarray(0, 4).toString("hex")).toBe(keyId(origin, k.raw));
    expect(verify(null, Buffer.from(body), k.publicKeyObject, sig.subarray(4))).toBe(true);
  });

  it("accepts an async signer (a KMS) and refuses a signer that does not match the public key", async () => {
    const note = await signNote(body, origin, async (m) => k.signer.sign(m), k.raw);
    expect(openNote(note, [noteVerifier(origin, k.raw)]).body).toBe(body);
    const other = newKey();
    expect(await asyncCode(signNote(body, origin, (m) => other.signer.sign(m), k.raw))).toBe("signer_mismatch");
    expect(await asyncCode(signNote(body, origin, () => new Uint8Array(63), k.raw))).toBe("signer_mismatch");
    expect(await asyncCode(signNote(body.slice(0, -1), origin, (m) => k.signer.sign(m), k.raw))).toBe("invalid_text");
    expect(await asyncCode(signNote(body.replace("\n", "\r\n"), origin, (m) => k.signer.sign(m), k.raw))).toBe("invalid_text");
    expect(await asyncCode(signNote(body, "bad name", (m) => k.signer.sign(m), k.raw))).toBe("invalid_key_name");
    expect(await asyncCode(signNote(body, origin, (m) => k.signer.sign(m), k.raw.subarray(1)))).toBe("invalid_key");
  });

  it("with several signers (key rotation, witnesses): known keys verify, unknown ones are listed and ignored", async () => {
    const rotated = newKey();
    const witness = newKey();
    const note1 = await signNote(body, origin, (m) => k.signer.sign(m), k.raw);
    const sigLine = (n: string) => n.slice(body.length + 1);
    const line2 = sigLine(await signNote(body, origin, (m) => rotated.signer.sign(m), rotated.raw));
    const line3 = sigLine(await signNote(body, "witness.example/w1", (m) => witness.signer.sign(m), witness.raw));
    const note = note1 + line2 + line3;
    const both = openNote(note, [noteVerifier(origin, k.raw), noteVerifier(origin, rotated.raw)]);
    expect(both.verifiedBy.map((r) => r.keyId)).toEqual([keyId(origin, k.raw), keyId(origin, rotated.raw)]);
    expect(both.unverified).toEqual([{ name: "witness.example/w1", keyId: keyId("witness.example/w1", witness.raw) }]);
    expect(openNote(note, [noteVerifier(origin, rotated.raw)]).verifiedBy).toHaveLength(1);
    // A bad signature from a known key fails the note even though another known key verifies.
    // Flip one byte of the Ed25519 signature itself (past the 4-byte key ID), whatever characters the base64 holds.
    const [, prefix, sigB64] = /^(\u2014 \S+ )(\S+)\n$/.exec(line2) ?? [];
    const sigBytes = Buffer.from(sigB64 ?? "", "base64");
    sigBytes[40] = (sigBytes[40] ?? 0) ^ 0x01;
    const forged = `${prefix}${sigBytes.toString("base64")}\n`;
    expect(forged).not.toBe(line2);
    expect(code(() => openNote(note1 + forged, [noteVerifier(origin, k.raw), noteVerifier(origin, rotated.raw)]))).toBe("bad_signature");
  });

  it("refuses malformed notes with a specific reason", async () => {
    const note = await signNote(body, origin, (m) => k.signer.sign(m), k.raw);
    const v = [noteVerifier(origin, k.raw)];
    const line = note.slice(body.length + 1);
    const cases: [string, LedgerErrorCode][] = [
      [body + line, "malformed_note"], // missing blank line
      [note.replaceAll("\n", "\r\n"), "control_character"], // CRLF
      [note.replace(origin, `${origin}\t`), "control_character"],
      [note.replace("1234", "12\u00004"), "control_character"],
      [note.slice(0, -1), "malformed_note"], // no final newline
      [`${note}\n`, "malformed_note"], // trailing blank line: the block after it is empty
      [`${body}\n${line.replace("\u2014", "-")}`, "malformed_signature_line"], // hyphen, not em dash
      [`${body}\n${line.replace("\u2014 ", "\u2014")}`, "malformed_signature_line"],
      [`${body}\n${line.replace("=\n", "\n")}`, "malformed_signature_line"], // unpadded base64
      [`${body}\n${line.replace(/ \S+\n$/, " !!!!\n")}`, "malformed_signature_line"], // bad base64
      [`${body}\n${line.replace(/ \S+\n$/, " AAAA\n")}`, "malformed_signature_line"], // 3 bytes, shorter than a key ID
      [`${body}\n${line.replace(/ \S+\n$/, " AQIDBAU=\n")}`, "no_verified_signature"], // 5 bytes, unknown key ID
      [`${body}\n\u2014 ${origin}\n`, "malformed_signature_line"], // no signature
      [`${body}\n\u2014  ${line.slice(2)}`, "malformed_signature_line"], // empty key name
      [`${body}\n${line.replace(origin, `${origin}+x`)}`, "malformed_signature_line"],
      [`${body}\n${line.replace(origin, `${origin}\u00a0x`)}`, "malformed_signature_line"], // Unicode space in the name
      [`${body}\n${line}${line.replace(/ \S+\n$/, " \n")}`, "malformed_signature_line"],
      [`${body}\n${line.repeat(101)}`, "too_many_signatures"],
      [`\ud800${note}`, "invalid_utf8"], // lone surrogate
    ];
    for (const [bad, want] of cases) {
      expect(code(() => openNote(bad, v)), JSON.stringify(bad.slice(-40))).toBe(want);
    }
    expect(code(() => openNote(note, v, { maxBytes: 100 }))).toBe("too_large");
    expect(code(() => openNote(Buffer.from(note), v, { maxBytes: 100 }))).toBe("too_large");
    expect(code(() => openNote(Buffer.from([0xc3, 0x28]), v))).toBe("invalid_utf8");
    expect(code(() => openNote(42 as unknown as string, v))).toBe("malformed_note");
    // A byte-order mark is kept as part of the text, so it is covered by the signature.
    expect(code(() => openNote(`\ufeff${note}`, v))).toBe("bad_signature");
  });
});

// ---- checkpoint text ------------------------------------------------------------------------------------

describe("tlog-checkpoint text", () => {
  const root = b64(sha256("x"));
  const cp = (size: string, rootB64 = root, rest = "") => `example.com/log\n${size}\n${rootB64}\n${rest}`;

  it("accepts sizes 0 and 2^53 - 1 and extension lines; formats what it parses", () => {
    expect(parseCheckpoint(cp("0")).size).toBe(0);
    expect(parseCheckpoint(cp("9007199254740991")).size).toBe(Number.MAX_SAFE_INTEGER);
    const ext = parseCheckpoint(cp("7", root, "ext one\n\u00e9t\u00e9 2\n"));
    expect(ext.extensions).toEqual(["ext one", "\u00e9t\u00e9 2"]);
    expect(formatCheckpoint(ext)).toBe(cp("7", root, "ext one\n\u00e9t\u00e9 2\n"));
    // The parser takes any non-empty origin ("clients MUST NOT assume" its format).
    expect(parseCheckpoint("my log+1\n1\n" + root + "\n").origin).toBe("my log+1");
  });

  it("rejects malformed checkpoint text with malformed_checkpoint", () => {
    const bad: [string, RegExp][] = [
      [cp("01"), /leading zeros/],
      [cp("00"), /leading zeros/],
      [cp("-1"), /leading zeros/],
      [cp("+1"), /leading zeros/],
      [cp("1.0"), /leading zeros/],
      [cp("1e3"), /leading zeros/],
      [cp(" 1"), /leading zeros/],
      [cp(""), /leading zeros/],
      [cp("\u0661"), /leading zeros/], // Arabic-Indic digit one
      [cp("9007199254740992"), /above 2\^53/],
      [cp("18446744073709551616"), /leading zeros/], // 2^64: too many digits to even parse
      [cp("9".repeat(10_000)), /leading zeros/],
      [cp("1", b64(sha256("x").subarray(1))), /31 bytes/],
      [cp("1", b64(Buffer.concat([sha256("x"), Buffer.of(1)]))), /33 bytes/],
      [cp("1", root.replace("=", "")), /base64/],
      [cp("1", Buffer.from(sha256("x")).toString("base64url")), /base64/],
      [cp("1", root.slice(0, -2) + "B="), /base64/], // non-zero pad bits: non-canonical
      [cp("1").slice(0, -1), /end with a newline/],
      [cp("1").replaceAll("\n", "\r\n"), /carriage return/],
      [`\n1\n${root}\n`, /origin line is empty/],
      [`example.com/log\n1\n`, /2 lines/],
      ["", /end with a newline/],
      [cp("1", root, "\n"), /extension line 1 is empty/],
      [cp("1", root, "ok\n\n"), /extension line 2 is empty/],
      [cp("1", root, "tab\there\n"), /control character/],
    ];
    for (const [text, msg] of bad) {
      const err = noteError(() => parseCheckpoint(text));
      expect(err.code, JSON.stringify(text.slice(0, 60))).toBe("malformed_checkpoint");
      expect(err.message).toMatch(msg);
    }
  });

  it("refuses to format an invalid checkpoint", () => {
    const rootHash = sha256("x");
    const bad = [
      { origin: "", size: 1, rootHash },
      { origin: "has space", size: 1, rootHash },
      { origin: "a+b", size: 1, rootHash },
      { origin: "a\nb", size: 1, rootHash },
      { origin: "o", size: -1, rootHash },
      { origin: "o", size: 1.5, rootHash },
      { origin: "o", size: 2 ** 53, rootHash },
      { origin: "o", size: Number.NaN, rootHash },
      { origin: "o", size: 1, rootHash: rootHash.subarray(1) },
      { origin: "o", size: 1, rootHash, extensions: [""] },
      { origin: "o", size: 1, rootHash, extensions: ["a\nb"] },
      { origin: "o", size: 1, rootHash, extensions: ["a\rb"] },
    ];
    for (const input of bad) expect(code(() => formatCheckpoint(input)), JSON.stringify(input.origin)).toBe("malformed_checkpoint");
  });

  it("key names follow the signed-note rules", () => {
    for (const ok of ["a", "example.com/log", "\u00e9", "x/y?z=1"]) expect(isValidKeyName(ok)).toBe(true);
    for (const bad of ["", "a b", "a+b", "a\u00a0b", "a\u2028b", "a\u3000b", "a\u0085b", "a\tb", "a\u0000b", "\ud800"]) {
      expect(isValidKeyName(bad), JSON.stringify(bad)).toBe(false);
    }
    expect(code(() => keyId("a b", new Uint8Array(32)))).toBe("invalid_key_name");
    expect(code(() => keyId("a", new Uint8Array(31)))).toBe("invalid_key");
  });
});

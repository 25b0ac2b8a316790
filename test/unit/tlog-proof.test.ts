import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { inclusionProof, leafHash } from "../../src/ledger/core/merkle.js";
import { noteVerifier, parseVerifierKey, signNote } from "../../src/ledger/core/signed-note.js";
import { formatCheckpoint } from "../../src/ledger/core/tlog-checkpoint.js";
import {
  formatTlogProof,
  MAX_TLOG_PROOF_BYTES,
  parseTlogProof,
  TLOG_PROOF_HEADER,
  verifyTlogProof,
} from "../../src/ledger/core/tlog-proof.js";
import { LedgerError, type LedgerErrorCode } from "../../src/ledger/core/ledger-error.js";
import { LocalSigner, parseEd25519PrivateKey } from "../../src/tokens/signer.js";

const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");

function code(fn: () => unknown): LedgerErrorCode {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(LedgerError);
    return (err as LedgerError).code;
  }
  throw new Error("expected a LedgerError, nothing was thrown");
}

// ---- the real Tessera test log (transparency-dev/tessera testdata/log, Apache-2.0) -------------------------

const TESSERA = new URL("../vectors/c2sp-tessera-log/", import.meta.url);
const tessera = (file: string) => readFileSync(new URL(file, TESSERA), "utf8");
const LEAVES = "one two three four five six seven eit nain ten ileven twelf threeten fourten fivten".split(" ");
const LEAF_HASHES = LEAVES.map((s) => leafHash(Buffer.from(s, "ascii")));
const TESSERA_KEY = parseVerifierKey(/^public key \(C2SP note verifier\): (\S+)$/m.exec(tessera("KEY.txt"))![1]!);
const CHECKPOINT_15 = tessera("checkpoint.15");

function tesseraProof(index: number, size: number, extra?: Uint8Array): string {
  const input = { index, proof: inclusionProof(LEAF_HASHES, index, size), checkpointNote: tessera(`checkpoint.${size}`) };
  return formatTlogProof(extra ? { ...input, extra } : input);
}

describe("formatTlogProof", () => {
  it("writes the exact c2sp.org/tlog-proof@v1 text: header, index, one base64 hash per line, blank line, note verbatim", () => {
    const proof = inclusionProof(LEAF_HASHES, 2, 15);
    const expected = ["c2sp.org/tlog-proof@v1", "index 2", ...proof.map(b64), "", ""].join("\n") + CHECKPOINT_15;
    expect(formatTlogProof({ index: 2, proof, checkpointNote: CHECKPOINT_15 })).toBe(expected);
    expect(proof).toHaveLength(4); // ceil(log2 15)
  });

  it("puts the extra line second, as standard base64", () => {
    const text = tesseraProof(0, 15, Buffer.from("age-v1.2.1"));
    expect(text.split("\n").slice(0, 3)).toEqual([TLOG_PROOF_HEADER, `extra ${Buffer.from("age-v1.2.1").toString("base64")}`, "index 0"]);
  });

  it("writes no hash lines for a one-leaf tree", () => {
    expect(tesseraProof(0, 1)).toBe(`${TLOG_PROOF_HEADER}\nindex 0\n\n${tessera("checkpoint.1")}`);
  });

  it("refuses what it could not parse back", () => {
    const note = CHECKPOINT_15;
    expect(code(() => formatTlogProof({ index: -1, proof: [], checkpointNote: note }))).toBe("bad_index");
    expect(code(() => formatTlogProof({ index: 1.5, proof: [], checkpointNote: note }))).toBe("bad_index");
    expect(code(() => formatTlogProof({ index: 2 ** 53, proof: [], checkpointNote: note }))).toBe("bad_index");
    expect(code(() => formatTlogProof({ index: 0, proof: [new Uint8Array(31)], checkpointNote: note }))).toBe("bad_hash");
    expect(code(() => formatTlogProof({ index: 0, proof: Array(65).fill(new Uint8Array(32)), checkpointNote: note }))).toBe("too_many_hashes");
    expect(code(() => formatTlogProof({ index: 0, proof: [], checkpointNote: note, extra: new Uint8Array() }))).toBe("bad_extra");
    expect(code(() => formatTlogProof({ index: 0, proof: [], checkpointNote: note.slice(0, note.indexOf("\n\n") + 1) }))).toBe("bad_checkpoint");
    expect(code(() => formatTlogProof({ index: 0, proof: [], checkpointNote: "" }))).toBe("missing_checkpoint");
  });
});

describe("parseTlogProof", () => {
  it("round trips: parse(format(x)) = x and format(parse(text)) = text", () => {
    const extra = Buffer.from([0, 1, 2, 250]);
    const text = tesseraProof(13, 15, extra);
    const parsed = parseTlogProof(text);
    expect(parsed.index).toBe(13);
    expect(parsed.proof.map(b64)).toEqual(inclusionProof(LEAF_HASHES, 13, 15).map(b64));
    expect(parsed.checkpointNote).toBe(CHECKPOINT_15);
    expect(Buffer.from(parsed.extra!)).toEqual(extra);
    expect(formatTlogProof(parsed)).toBe(text);
    expect(parseTlogProof(Buffer.from(text, "utf8")).index).toBe(13);
    expect(parseTlogProof(tesseraProof(3, 15)).extra).toBeUndefined();
  });

  it("reads the spec example's preamble; its elided signature lines are refused as a malformed note", () => {
    const preamble = [
      "c2sp.org/tlog-proof@v1",
      "extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ",
      "index 73894",
      "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=",
      "B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=",
      "EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=",
      "RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=",
      "AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=",
      "",
    ].join("\n");
    const elided = "example.com/fancylog\n109482\nsFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n\n— example.com/fancylog hI2DJw[...]1roloI=\n";
    expect(code(() => parseTlogProof(`${preamble}\n${elided}`))).toBe("bad_checkpoint");
    const parsed = parseTlogProof(`${preamble}\n${CHECKPOINT_15}`);
    expect(parsed.index).toBe(73894);
    expect(parsed.proof).toHaveLength(5);
    expect(Buffer.from(parsed.extra!).toString("latin1").startsWith("age-v1.2.1-darwin-arm64.tar.gz")).toBe(true);
  });

  const good = tesseraProof(2, 15);
  const [header, index, h1, ...rest] = good.split("\n");
  const join = (...lines: string[]) => lines.join("\n");
  const malformed: Array<[string, string | Uint8Array, LedgerErrorCode]> = [
    ["a v2 header", good.replace("@v1", "@v2"), "bad_header"],
    ["a header with a trailing space", good.replace(TLOG_PROOF_HEADER, `${TLOG_PROOF_HEADER} `), "bad_header"],
    ["CRLF line endings", good.replace(/\n/g, "\r\n"), "bad_header"],
    ["no header", good.slice(good.indexOf("\n") + 1), "bad_header"],
    ["extra without a space", join(header!, "extraAAAA", index!, h1!, ...rest), "bad_extra"],
    ["empty extra", join(header!, "extra ", index!, h1!, ...rest), "bad_extra"],
    ["unpadded extra", join(header!, "extra AAA", index!, h1!, ...rest), "bad_extra"],
    ["non-canonical extra (stray pad bits)", join(header!, "extra AB==", index!, h1!, ...rest), "bad_extra"],
    ["url-safe extra", join(header!, "extra -_-_", index!, h1!, ...rest), "bad_extra"],
    ["two extra lines", join(header!, "extra AA==", "extra AA==", index!, h1!, ...rest), "bad_index"],
    ["no index line", join(header!, h1!, ...rest), "bad_index"],
    ["a leading zero", good.replace("index 2", "index 02"), "bad_index"],
    ["a negative index", good.replace("index 2", "index -2"), "bad_index"],
    ["a decimal point", good.replace("index 2", "index 2.0"), "bad_index"],
    ["two spaces", good.replace("index 2", "index  2"), "bad_index"],
    ["a plus sign", good.replace("index 2", "index +2"), "bad_index"],
    ["an index above 2^53 - 1", good.replace("index 2", "index 9007199254740992"), "bad_index"],
    ["a 17-digit index", good.replace("index 2", "index 10000000000000000"), "bad_index"],
    ["a 31-byte hash", good.replace(h1!, b64(new Uint8Array(31))), "bad_hash"],
    ["a 33-byte hash", good.replace(h1!, b64(new Uint8Array(33))), "bad_hash"],
    ["an unpadded hash", good.replace(h1!, h1!.replace(/=$/, "")), "bad_hash"],
    ["a url-safe hash", good.replace(h1!, "-".repeat(43) + "="), "bad_hash"],
    ["a hash with a space", good.replace(h1!, ` ${h1}`), "bad_hash"],
    ["a hex hash", good.replace(h1!, "ab".repeat(32)), "bad_hash"],
    ["65 hash lines", join(header!, index!, ...Array(65).fill(h1!), "", CHECKPOINT_15), "too_many_hashes"],
    ["no empty line", join(header!, index!, h1!), "missing_checkpoint"],
    ["nothing after the empty line", join(header!, index!, h1!, "", ""), "missing_checkpoint"],
    ["a note without signatures", join(header!, index!, h1!, "", "example.com/log/testdata\n15\nrKbDipCvhuX1GZ7g5BBe8sA6BbJ7ja/1nk427v383cs=\n"), "bad_checkpoint"],
    ["a note whose text is not a checkpoint", join(header!, index!, "", CHECKPOINT_15.replace("\n15\n", "\n015\n")), "bad_checkpoint"],
    ["a signature line without the em dash", good.replace("— ", "- "), "bad_checkpoint"],
    ["a note not ending in a newline", good.slice(0, -1), "bad_checkpoint"],
    ["invalid UTF-8", Buffer.concat([Buffer.from(good), Buffer.of(0xff)]), "invalid_input"],
    ["an oversize text", good + "x".repeat(MAX_TLOG_PROOF_BYTES), "too_large"],
  ];
  it.each(malformed)("refuses %s", (_what, text, expected) => {
    expect(code(() => parseTlogProof(text))).toBe(expected);
  });

  it("refuses non-text input and oversize bytes", () => {
    expect(code(() => parseTlogProof(42 as unknown as string))).toBe("invalid_input");
    expect(code(() => parseTlogProof(new Uint8Array(MAX_TLOG_PROOF_BYTES + 1)))).toBe("too_large");
  });
});

describe("verifyTlogProof", () => {
  it("verifies every leaf against every Tessera checkpoint.N with the log's key", () => {
    for (let size = 1; size <= 15; size++) {
      for (let index = 0; index < size; index++) {
        const verified = verifyTlogProof(tesseraProof(index, size), LEAF_HASHES[index]!, [TESSERA_KEY]);
        expect(verified.index).toBe(index);
        expect(verified.checkpoint.size).toBe(size);
        expect(verified.verifiedBy).toEqual([{ name: "example.com/log/testdata", keyId: "33d7b496" }]);
      }
    }
  });

  it("returns the (unauthenticated) extra data and honours an origin pin", () => {
    const text = tesseraProof(4, 15, Buffer.from("ctx"));
    expect(Buffer.from(verifyTlogProof(text, LEAF_HASHES[4]!, [TESSERA_KEY], { origin: "example.com/log/testdata" }).extra!).toString()).toBe("ctx");
    expect(code(() => verifyTlogProof(text, LEAF_HASHES[4]!, [TESSERA_KEY], { origin: "example.com/other" }))).toBe("checkpoint_rejected");
  });

  it("rejects the wrong leaf, a changed proof hash, a wrong index and a wrong-length proof", () => {
    const text = tesseraProof(5, 15);
    expect(code(() => verifyTlogProof(text, LEAF_HASHES[6]!, [TESSERA_KEY]))).toBe("root_mismatch");
    const [header, index, h1, ...rest] = text.split("\n");
    const flipped = Buffer.from(h1!, "base64");
    flipped[7]! ^= 1;
    expect(code(() => verifyTlogProof([header, index, b64(flipped), ...rest].join("\n"), LEAF_HASHES[5]!, [TESSERA_KEY]))).toBe("root_mismatch");
    expect(code(() => verifyTlogProof(text.replace("index 5", "index 4"), LEAF_HASHES[5]!, [TESSERA_KEY]))).toBe("root_mismatch");
    expect(code(() => verifyTlogProof(text.replace("index 5", "index 15"), LEAF_HASHES[5]!, [TESSERA_KEY]))).toBe("index_out_of_range");
    expect(code(() => verifyTlogProof([header, index, ...rest].join("\n"), LEAF_HASHES[5]!, [TESSERA_KEY]))).toBe("bad_proof");
    expect(code(() => verifyTlogProof([header, index, h1, h1, ...rest].join("\n"), LEAF_HASHES[5]!, [TESSERA_KEY]))).toBe("bad_proof");
    expect(code(() => verifyTlogProof(text, new Uint8Array(31), [TESSERA_KEY]))).toBe("bad_leaf_hash");
  });

  it("rejects a checkpoint that no trusted key signed, or whose body or signature changed", async () => {
    const other = noteVerifier("example.com/log/testdata", new Uint8Array(32).fill(7));
    const text = tesseraProof(0, 15);
    expect(code(() => verifyTlogProof(text, LEAF_HASHES[0]!, []))).toBe("checkpoint_rejected");
    expect(code(() => verifyTlogProof(text, LEAF_HASHES[0]!, [other]))).toBe("checkpoint_rejected");
    const bodyChanged = text.replace("example.com/log/testdata\n15", "example.com/log/testdata\n14");
    expect(code(() => verifyTlogProof(bodyChanged, LEAF_HASHES[0]!, [TESSERA_KEY]))).toBe("checkpoint_rejected");
    const sigAt = text.lastIndexOf(" ") + 20;
    const sigChanged = text.slice(0, sigAt) + (text[sigAt] === "A" ? "B" : "A") + text.slice(sigAt + 1);
    expect(code(() => verifyTlogProof(sigChanged, LEAF_HASHES[0]!, [TESSERA_KEY]))).toBe("checkpoint_rejected");
  });

  it("accepts a checkpoint cosigned by a witness it does not know, signed with our own key", async () => {
    const seed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    const ours = new LocalSigner("k", parseEd25519PrivateKey(Buffer.from(seed, "hex").toString("base64"), "test"));
    const publicKey = Buffer.from(ours.publicJwk.x, "base64url");
    const origin = "vault.example.com/ledger/t1";
    const body = formatCheckpoint({ origin, size: 15, rootHash: Buffer.from(CHECKPOINT_15.split("\n")[2]!, "base64") });
    const signed = await signNote(body, origin, (m) => ours.sign(m), publicKey);
    const cosigned = `${signed}— witness.example ${b64(new Uint8Array(68).fill(9))}\n`;
    const text = formatTlogProof({ index: 9, proof: inclusionProof(LEAF_HASHES, 9, 15), checkpointNote: cosigned });
    const verified = verifyTlogProof(text, LEAF_HASHES[9]!, [noteVerifier(origin, publicKey)]);
    expect(verified.verifiedBy.map((k) => k.name)).toEqual([origin]);
    expect(verified.checkpoint.origin).toBe(origin);
  });
});

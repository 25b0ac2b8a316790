import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LedgerError, type LedgerErrorCode } from "../../src/ledger/core/ledger-error.js";
import {
  formatAddCheckpoint,
  formatSizeResponse,
  MAX_ADD_CHECKPOINT_BYTES,
  MAX_PROOF_LINES,
  parseAddCheckpoint,
  parseCosignatureResponse,
  parseSizeResponse,
  withCosignatures,
} from "../../src/ledger/core/tlog-witness.js";

const TESSERA = new URL("../vectors/c2sp-tessera-log/", import.meta.url);
const tessera = (file: string) => readFileSync(new URL(file, TESSERA), "utf8");

function code(fn: () => unknown): LedgerErrorCode {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(LedgerError);
    return (err as LedgerError).code;
  }
  throw new Error("expected a LedgerError");
}

// The example request body of c2sp.org/tlog-witness, verbatim.
const SPEC_EXAMPLE = `old 20852014
PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=
jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=
5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=
/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=

example.com/behind-the-sofa
20852163
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=
— example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=
`;

const hash = (fill: number) => new Uint8Array(32).fill(fill);

describe("C2SP tlog-witness add-checkpoint body", () => {
  it("parses the spec's example request", () => {
    const req = parseAddCheckpoint(SPEC_EXAMPLE);
    expect(req.oldSize).toBe(20852014);
    expect(req.proof.map((h) => Buffer.from(h).toString("base64"))).toEqual([
      "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=",
      "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=",
      "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=",
      "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=",
    ]);
    expect(req.note.startsWith("example.com/behind-the-sofa\n20852163\n")).toBe(true);
    expect(req.note.split("\n\u2014 ").length).toBe(3);
    // Bytes and text parse alike; formatting what was parsed gives the same bytes back.
    expect(parseAddCheckpoint(new Uint8Array(Buffer.from(SPEC_EXAMPLE)))).toEqual(req);
    expect(formatAddCheckpoint(req)).toBe(SPEC_EXAMPLE);
  });

  it("round-trips a first submission (old 0, no proof) and a full 63-line proof", () => {
    const note = tessera("checkpoint.15");
    expect(formatAddCheckpoint({ oldSize: 0, proof: [], note })).toBe(`old 0\n\n${note}`);
    expect(parseAddCheckpoint(`old 0\n\n${note}`)).toEqual({ oldSize: 0, proof: [], note });
    const proof = Array.from({ length: MAX_PROOF_LINES }, (_, i) => hash(i));
    expect(parseAddCheckpoint(formatAddCheckpoint({ oldSize: Number.MAX_SAFE_INTEGER, proof, note }))).toEqual({ oldSize: Number.MAX_SAFE_INTEGER, proof, note });
  });

  it("refuses every malformed body as malformed_add_checkpoint", () => {
    const note = tessera("checkpoint.15");
    const h = Buffer.from(hash(1)).toString("base64");
    const cases: Record<string, string | Uint8Array> = {
      empty: "",
      "no empty line": `old 0\n${note.replace("\n\n", "\n")}`,
      "no old line": `\n${note}`,
      "old with leading zero": `old 01\n${h}\n\n${note}`,
      "old negative": `old -1\n\n${note}`,
      "old fraction": `old 1.0\n${h}\n\n${note}`,
      "old hex": `old 0x10\n${h}\n\n${note}`,
      "old above 2^53": `old 9007199254740993\n${h}\n\n${note}`,
      "Old capitalised": `Old 1\n${h}\n\n${note}`,
      "two spaces": `old  1\n${h}\n\n${note}`,
      "tab": `old\t1\n${h}\n\n${note}`,
      "trailing space": `old 1 \n${h}\n\n${note}`,
      "CRLF": `old 1\r\n${h}\r\n\r\n${note}`,
      "proof with old 0": `old 0\n${h}\n\n${note}`,
      "64 proof lines": `old 5\n${`${h}\n`.repeat(64)}\n${note}`,
      "short hash": `old 5\n${Buffer.from(new Uint8Array(31)).toString("base64")}\n\n${note}`,
      "long hash": `old 5\n${Buffer.from(new Uint8Array(33)).toString("base64")}\n\n${note}`,
      "unpadded base64": `old 5\n${h.replace(/=$/, "")}\n\n${note}`,
      "url-safe base64": `old 5\n${"_-".repeat(21)}A=\n\n${note}`,
      "non-canonical base64": `old 5\n${h.slice(0, 42)}B=\n\n${note}`,
      "no note": "old 0\n\n",
      "invalid UTF-8": new Uint8Array([...Buffer.from("old 0\n\n"), 0xff, 0xfe, 0x0a]),
      "too large": `old 0\n\n${"a".repeat(MAX_ADD_CHECKPOINT_BYTES)}`,
      "huge proof section": `old 5\n${"A".repeat(5000)}\n\n${note}`,
    };
    for (const [name, body] of Object.entries(cases)) {
      expect(code(() => parseAddCheckpoint(body)), name).toBe("malformed_add_checkpoint");
    }
    expect(code(() => parseAddCheckpoint(new Uint8Array(MAX_ADD_CHECKPOINT_BYTES + 1)))).toBe("malformed_add_checkpoint");
    for (const hostile of [null, undefined, 42, {}, []]) expect(code(() => parseAddCheckpoint(hostile as unknown as string))).toBe("malformed_add_checkpoint");
  });

  it("refuses to format what the spec forbids a client to send", () => {
    const note = tessera("checkpoint.15");
    expect(code(() => formatAddCheckpoint({ oldSize: 0, proof: [hash(1)], note }))).toBe("malformed_add_checkpoint");
    expect(code(() => formatAddCheckpoint({ oldSize: 1, proof: Array.from({ length: 64 }, () => hash(1)), note }))).toBe("malformed_add_checkpoint");
    expect(code(() => formatAddCheckpoint({ oldSize: -1, proof: [], note }))).toBe("malformed_add_checkpoint");
    expect(code(() => formatAddCheckpoint({ oldSize: 1, proof: [new Uint8Array(31)], note }))).toBe("malformed_add_checkpoint");
    expect(code(() => formatAddCheckpoint({ oldSize: 1, proof: [], note: "no newline" }))).toBe("malformed_add_checkpoint");
  });

  it("throws nothing but LedgerError on arbitrary bytes and on mutations of a valid body", () => {
    const valid = Buffer.from(SPEC_EXAMPLE);
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 5 }).map((edits) => {
        const b = Buffer.from(valid);
        for (const [at, v] of edits) b[at] = v;
        return new Uint8Array(b);
      })), (bytes) => {
        try {
          const req = parseAddCheckpoint(bytes);
          expect(req.proof.every((p) => p.length === 32)).toBe(true);
          expect(req.proof.length).toBeLessThanOrEqual(MAX_PROOF_LINES);
        } catch (err) {
          expect(err).toBeInstanceOf(LedgerError);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe("C2SP tlog-witness answers", () => {
  it("writes and reads the 409 text/x.tlog.size body strictly", () => {
    expect(formatSizeResponse(20852014)).toBe("20852014\n");
    expect(parseSizeResponse("20852014\n")).toBe(20852014);
    expect(parseSizeResponse(new Uint8Array(Buffer.from("0\n")))).toBe(0);
    for (const bad of ["", "5", "05\n", "-1\n", "5\n\n", " 5\n", "5 \n", "1e3\n", "9007199254740993\n", "5\r\n", "x".repeat(100)]) {
      expect(code(() => parseSizeResponse(bad)), JSON.stringify(bad)).toBe("malformed_witness_response");
    }
    expect(code(() => formatSizeResponse(-1))).toBe("malformed_witness_response");
  });

  it("reads a 200 body of signature lines and appends them to the note once", () => {
    const line1 = "\u2014 witness.example/w1 CMp+6LWBU0anHGH5aNDTJkH/gj79sG+T6+iP2ThYN5krrDJbR1HDnucjL39QsZTSvVjyQLrdk3DXDqI5G2HgLatVs0pWh6Up69HVOw==";
    const line2 = "\u2014 witness.example/w2 AWui8Sk55XjYLOijihBjhqEH6nS1ndDymE0a+6idX7pLcnoB+dhnz0854aLZgrrKbYKA7nC3HNJhm/kWl7oJlqU3rXXvpysAdyP3wQ==";
    expect(parseCosignatureResponse(`${line1}\n${line2}\n`)).toEqual([line1, line2]);
    const note = tessera("checkpoint.15");
    const cosigned = withCosignatures(note, [line1, line2, line1]);
    expect(cosigned).toBe(`${note}${line1}\n${line2}\n`);
    expect(withCosignatures(cosigned, [line2])).toBe(cosigned);
    for (const bad of ["", "\n", line1, `${line1}\n\n`, `- witness.example/w1 AAAAAAA=\n`, `\u2014 witness.example/w1\n`, `\u2014 a b AAAAAAA=\n`, `${line1}\r\n`, `${line1}\n`.repeat(101)]) {
      expect(code(() => parseCosignatureResponse(bad)), JSON.stringify(bad.slice(0, 40))).toBe("malformed_witness_response");
    }
    expect(code(() => withCosignatures("no signatures\n", [line1]))).toBe("malformed_witness_response");
    expect(code(() => withCosignatures(note, ["not a line"]))).toBe("malformed_signature_line");
  });
});

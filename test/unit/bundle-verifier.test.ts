import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  BUNDLE_KEYS_NOTE,
  type BundleReport,
  trustedKeysFromBundle,
  trustedKeysFromJwks,
  trustedKeysFromKeyString,
  LedgerError,
  type LedgerErrorCode,
  verifyProofBundle,
} from "../../src/ledger/verify/bundle-verifier.js";
import { asSdkSeesIt, eventHash } from "../../src/ledger/core/event-hash.js";
import { signNote, verifierKeyString } from "../../src/ledger/core/signed-note.js";
import { formatCheckpoint } from "../../src/ledger/core/tlog-checkpoint.js";
import type { ProofBundleWire } from "../../src/ledger/core/wire.js";
import { LocalSigner } from "../../src/tokens/signer.js";
import { buildBundle, fullBundle, KID, ORIGIN, PUBLIC_KEY, sevenEvents, signer, vectorEvent } from "../helpers/proof-bundle-fixture.js";

const jwks = () => trustedKeysFromJwks({ keys: [signer.publicJwk] });
const failing = (r: BundleReport) => r.checks.filter((c) => !c.ok).map((c) => c.name);
const names = (r: BundleReport) => r.checks.map((c) => c.name);
const check = (r: BundleReport, name: string) => r.checks.find((c) => c.name === name)!;

/** Every check a full bundle (consistency + C2SP) produces, in report order. */
const ALL_CHECKS = [
  "shape",
  "receipt payload",
  "receipt signature",
  "event hash",
  "leaf hash",
  "event type",
  "inclusion binding",
  "inclusion checkpoint payload",
  "inclusion checkpoint hash",
  "inclusion checkpoint signature",
  "inclusion proof",
  "from checkpoint payload",
  "from checkpoint hash",
  "from checkpoint signature",
  "to checkpoint payload",
  "to checkpoint hash",
  "to checkpoint signature",
  "consistency chain",
  "consistency proof",
  "c2sp checkpoint",
];

/** Changes the character at `at` (default: the middle) to another one of the same alphabet. */
function flip(s: string, at = Math.floor(s.length / 2)): string {
  const c = s[at]!;
  const replacement = /[0-9a-f]/.test(c) ? (c === "0" ? "1" : "0") : c === "A" ? "B" : "A";
  return s.slice(0, at) + replacement + s.slice(at + 1);
}

describe("verifyProofBundle: a valid bundle", () => {
  it("passes every check with an independent JWKS, and says what it verified", async () => {
    const report = verifyProofBundle(await fullBundle(), jwks());
    expect(names(report)).toEqual(ALL_CHECKS);
    expect(failing(report)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.keySource).toBe("jwks");
    expect(report.notes).toEqual([]);
    expect(check(report, "receipt signature").detail).toBe(`kid ${KID}`);
    expect(check(report, "c2sp checkpoint").detail).toContain(`origin ${ORIGIN}, tree size 7`);
  });

  it("hashes the body as served (snake_case keys), not as the SDK's camelCased view", async () => {
    const bundle = await fullBundle();
    expect(bundle.event.tool_args).toHaveProperty("order_id");
    expect(eventHash(asSdkSeesIt(bundle.event))).not.toBe(bundle.event.event_hash); // the view would mis-hash
    expect(check(verifyProofBundle(bundle, jwks()), "event hash").ok).toBe(true);
  });

  it("omits the consistency and C2SP checks when the bundle has neither, and notes it", async () => {
    const report = verifyProofBundle(await fullBundle({ fromId: undefined, c2sp: false }), jwks());
    expect(names(report)).toEqual(ALL_CHECKS.slice(0, 11));
    expect(report.ok).toBe(true);
    expect(report.notes.join("\n")).toMatch(/no consistency proof/);
    expect(report.notes.join("\n")).toMatch(/no C2SP checkpoint/);
  });

  it("accepts standard base64 (padded) signatures and payloads (protocol §4)", async () => {
    const bundle = await fullBundle();
    const std = (s: string) => Buffer.from(s, "base64url").toString("base64");
    bundle.event.receipt_signature = std(bundle.event.receipt_signature);
    bundle.event.receipt_payload = std(bundle.event.receipt_payload);
    bundle.inclusion.checkpoint.checkpoint_signature = std(bundle.inclusion.checkpoint.checkpoint_signature);
    expect(bundle.event.receipt_signature).toMatch(/==$/);
    expect(failing(verifyProofBundle(bundle, jwks()))).toEqual([]);
  });

  it("with the bundle's own keys: passes, but says it proves integrity, not who signed", async () => {
    const bundle = await fullBundle();
    const report = verifyProofBundle(bundle, trustedKeysFromBundle(bundle));
    expect(report.ok).toBe(true);
    expect(report.keySource).toBe("bundle");
    expect(report.notes).toContain(BUNDLE_KEYS_NOTE);
    expect(BUNDLE_KEYS_NOTE).toMatch(/integrity.*not who signed/);
  });

  it("with one C2SP verifier key (--key): it verifies every kid and the C2SP note, even without c2sp_verifier_key", async () => {
    const bundle = await fullBundle();
    delete bundle.c2sp_verifier_key;
    const report = verifyProofBundle(bundle, trustedKeysFromKeyString(verifierKeyString(ORIGIN, PUBLIC_KEY)));
    expect(report.ok).toBe(true);
    expect(report.keySource).toBe("key");
    // Without a caller-trusted note key, the bundle's own c2sp_verifier_key is all there is: refused.
    expect(failing(verifyProofBundle(bundle, jwks()))).toEqual(["c2sp checkpoint"]);
  });
});

describe("verifyProofBundle: §4.13 vectors (the req-3 bundle)", () => {
  const SDK_JWK = { kty: "OKP", crv: "Ed25519", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", kid: "ledger-2026-01" };

  it("reproduces the hashes and signatures, and fails only the covering rule the SDK does not apply", async () => {
    const bundle = await buildBundle({ events: [vectorEvent(1), vectorEvent(2), vectorEvent(3)], index: 2, sizes: [2, 3], fromId: 1 });
    const { event, inclusion, consistency } = bundle;
    expect(event.event_hash).toBe("5ccc7fe0c705458fe8107e6be62470612e0049dfa9c16e4b01ce349326108f9e");
    expect(event.leaf_hash).toBe("9ea04c24115a9acd25cad1fe589d5a1ce693ca32ca2a1a302e6bdf39ee4df11b");
    expect(event.receipt_signature).toBe("BUE1VMsswHmlKdapVMQ2FLGtDB2nWAKQ-hvasNfZo78S3CXSnG1JlvCOiJwD7CL0HN827RTAy6Q29mYGbnZOCQ");
    const cp1 = consistency!.from_checkpoint;
    expect(cp1.root_hash).toBe("1fbd28ecaf23091d59e14f27f43cade7c43231c42238bf9a99cc15af35bf9c7a");
    expect(cp1.checkpoint_hash).toBe("d8abe3f78dfa0753af5672b0c4dcee7d906230ef2f6b0cd102fd702a3c165a03");
    expect(cp1.checkpoint_signature).toBe("_0-CECdZR1EgkwzEz4WYNYVVtBGyq9G-gkWqo3UH93V6pnG9yA5sfRHQfo6t32lEL5Pztsz6t7kkmb8HUek8AQ");
    const cp2 = inclusion.checkpoint;
    expect(cp2.root_hash).toBe("aba498ba5805e0bb72ea3ac4f31f77a7355427f5226d61e0f3c8a5a3877b8dac");
    expect(cp2.checkpoint_hash).toBe("69dd8c8fb075543591f24e379067855f10c8df4c11670c6dfa56b2dfe65a81a5");
    expect(cp2.checkpoint_signature).toBe("DirGwbuAyLxugf5Cwbr0DLA00-S4lHU54v8P_4mqxbpgS9Rhoy3hS40l0szHDDqIl9OdMO9xC-GQg9BDpYwrAA");
    expect(inclusion.path).toEqual([cp1.root_hash]);
    expect(consistency!.path).toEqual(["9ea04c24115a9acd25cad1fe589d5a1ce693ca32ca2a1a302e6bdf39ee4df11b"]);

    const report = verifyProofBundle(bundle, trustedKeysFromJwks({ keys: [SDK_JWK] }));
    // The vectors' event_uuids are UUIDv4, which commit to no event type: no "event type" check.
    expect(names(report)).toEqual(ALL_CHECKS.slice(0, -1).filter((n) => n !== "event type"));
    // The SDK accepted this bundle: its consistency starts at checkpoint 1 (size 2), which does not
    // contain leaf 2 yet. Valid proofs, but not the recommended "first covering checkpoint" layout: a note.
    expect(failing(report)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.notes.join("\n")).toContain("consistency starts at checkpoint 1 (tree_size 2), before leaf 2 was logged");
  });
});

describe("verifyProofBundle: tampering names exactly the failing checks", () => {
  type Tamper = [string, (b: ProofBundleWire) => void, string[]];
  const tampers: Tamper[] = [
    ["event tool_args value", (b) => void (b.event.tool_args.order_id = "o-3"), ["event hash"]],
    ["event reason", (b) => void (b.event.reason = flip(b.event.reason, 0)), ["event hash"]],
    ["event_hash", (b) => void (b.event.event_hash = flip(b.event.event_hash)), ["receipt payload", "event hash", "leaf hash", "inclusion binding"]],
    ["leaf_hash", (b) => void (b.event.leaf_hash = flip(b.event.leaf_hash)), ["receipt payload", "leaf hash", "inclusion binding", "inclusion proof"]],
    ["receipt_payload", (b) => void (b.event.receipt_payload = flip(b.event.receipt_payload)), ["receipt payload", "receipt signature"]],
    ["receipt_signature", (b) => void (b.event.receipt_signature = flip(b.event.receipt_signature)), ["receipt signature"]],
    ["receipt_key_id", (b) => void (b.event.receipt_key_id = "ledger-2026-02"), ["receipt payload", "receipt signature"]],
    ["receipt_algorithm", (b) => void ((b.event as { receipt_algorithm: string }).receipt_algorithm = "Ed448"), ["receipt signature"]],
    ["inclusion.event_uuid", (b) => void (b.inclusion.event_uuid = flip(b.inclusion.event_uuid, 0)), ["inclusion binding"]],
    [
      "checkpoint payload",
      (b) => void (b.inclusion.checkpoint.checkpoint_payload = flip(b.inclusion.checkpoint.checkpoint_payload)),
      ["inclusion checkpoint payload", "inclusion checkpoint hash", "inclusion checkpoint signature"],
    ],
    ["checkpoint signature", (b) => void (b.inclusion.checkpoint.checkpoint_signature = flip(b.inclusion.checkpoint.checkpoint_signature)), ["inclusion checkpoint signature"]],
    [
      "checkpoint signature_algorithm",
      (b) => void ((b.inclusion.checkpoint as { signature_algorithm: string }).signature_algorithm = "RS256"),
      ["inclusion checkpoint signature"],
    ],
    [
      "checkpoint root_hash",
      (b) => void (b.inclusion.checkpoint.root_hash = flip(b.inclusion.checkpoint.root_hash)),
      ["inclusion checkpoint payload", "inclusion proof", "consistency chain", "c2sp checkpoint"],
    ],
    ["checkpoint_hash", (b) => void (b.inclusion.checkpoint.checkpoint_hash = flip(b.inclusion.checkpoint.checkpoint_hash)), ["inclusion checkpoint hash", "consistency chain"]],
    ["an inclusion path element", (b) => void (b.inclusion.path[1] = flip(b.inclusion.path[1]!)), ["inclusion proof"]],
    ["inclusion leaf_index", (b) => void (b.inclusion.leaf_index = 1), ["inclusion binding", "inclusion proof"]],
    ["inclusion tree_size", (b) => void (b.inclusion.tree_size = 6), ["inclusion proof"]],
    ["the consistency path", (b) => void (b.consistency!.path[0] = flip(b.consistency!.path[0]!)), ["consistency proof"]],
    ["to_checkpoint signature", (b) => void (b.consistency!.to_checkpoint.checkpoint_signature = flip(b.consistency!.to_checkpoint.checkpoint_signature)), ["to checkpoint signature"]],
    [
      "to_checkpoint root_hash",
      (b) => void (b.consistency!.to_checkpoint.root_hash = flip(b.consistency!.to_checkpoint.root_hash)),
      ["to checkpoint payload", "consistency chain", "consistency proof"],
    ],
    [
      "from_checkpoint tree_size",
      (b) => void (b.consistency!.from_checkpoint.tree_size = 2),
      ["from checkpoint payload", "consistency proof"],
    ],
    ["from_checkpoint prev link", (b) => void (b.consistency!.to_checkpoint.prev_checkpoint_hash = flip(b.consistency!.to_checkpoint.prev_checkpoint_hash)), ["to checkpoint payload", "consistency chain"]],
    ["the c2sp note body", (b) => void (b.c2sp_checkpoint = b.c2sp_checkpoint!.replace(`${ORIGIN}\n`, `${ORIGIN}x\n`)), ["c2sp checkpoint"]],
    [
      "the c2sp note signature",
      (b) => {
        const note = b.c2sp_checkpoint!;
        b.c2sp_checkpoint = flip(note, note.lastIndexOf(" ") + 30);
      },
      ["c2sp checkpoint"],
    ],
    ["c2sp_verifier_key swapped for a key nobody trusts", (b) => void (b.c2sp_verifier_key = verifierKeyString(ORIGIN, new Uint8Array(32).fill(3))), ["c2sp checkpoint"]],
  ];

  it.each(tampers)("%s", async (_what, tamper, expected) => {
    const bundle = await fullBundle();
    tamper(bundle);
    let report: BundleReport | undefined;
    expect(() => (report = verifyProofBundle(bundle, jwks()))).not.toThrow();
    expect(names(report!)).toEqual(ALL_CHECKS); // untouched checks still run, and pass
    expect(failing(report!).sort()).toEqual([...expected].sort());
    expect(report!.ok).toBe(false);
  });

  it("a correctly signed C2SP note for another tree head fails the C2SP check only", async () => {
    const bundle = await fullBundle();
    const cp1 = bundle.consistency!.from_checkpoint;
    const body = formatCheckpoint({ origin: ORIGIN, size: cp1.tree_size, rootHash: Buffer.from(cp1.root_hash, "hex") });
    bundle.c2sp_checkpoint = await signNote(body, ORIGIN, (m) => signer.sign(m), PUBLIC_KEY);
    const report = verifyProofBundle(bundle, jwks());
    expect(failing(report)).toEqual(["c2sp checkpoint"]);
    expect(check(report, "c2sp checkpoint").detail).toBe("tree size 3 is not the inclusion checkpoint's 7");
  });

  it("a bundle signed entirely by another key fails every signature check and the C2SP check", async () => {
    const other = new LocalSigner(KID, generateKeyPairSync("ed25519").privateKey);
    const report = verifyProofBundle(await fullBundle({ sign: other }), jwks());
    expect(failing(report)).toEqual([
      "receipt signature",
      "inclusion checkpoint signature",
      "from checkpoint signature",
      "to checkpoint signature",
      "c2sp checkpoint",
    ]);
  });
});

describe("verifyProofBundle: redacted rows", () => {
  it("re-hashes with intent_hash_committed when intent_hash is served empty", async () => {
    const bundle = await fullBundle();
    bundle.event.intent_hash_committed = bundle.event.intent_hash;
    bundle.event.intent_hash = "";
    const report = verifyProofBundle(bundle, jwks());
    expect(report.ok).toBe(true);
    expect(check(report, "event hash").detail).toMatch(/intent_hash_committed/);
    bundle.event.intent_hash_committed = "cd".repeat(32);
    expect(failing(verifyProofBundle(bundle, jwks()))).toEqual(["event hash"]);
  });

  it("reports a fully redacted row as redacted, failing only when the body is required", async () => {
    const bundle = await fullBundle();
    bundle.event.intent_hash = "";
    bundle.event.tool_args = {};
    const report = verifyProofBundle(bundle, jwks());
    expect(report.ok).toBe(true);
    expect(check(report, "event hash").detail).toMatch(/^redacted/);
    expect(failing(verifyProofBundle(bundle, jwks(), { requireBody: true }))).toEqual(["event hash"]);
  });

  it("fails when intent_hash and intent_hash_committed disagree", async () => {
    const bundle = await fullBundle();
    bundle.event.intent_hash_committed = "cd".repeat(32);
    expect(failing(verifyProofBundle(bundle, jwks()))).toEqual(["event hash"]);
  });
});

describe("verifyProofBundle: hostile input gives a failed shape check, never a throw", () => {
  let deep: unknown = 1;
  for (let i = 0; i < 100_000; i++) deep = [deep];
  /** Replaces the whole bundle; other cases edit a copy of a valid bundle in place. */
  class Whole {
    constructor(readonly value: unknown) {}
  }
  type Hostile = [string, (b: Record<string, any>) => Whole | void, string];
  const cases: Hostile[] = [
    ["null", () => new Whole(null), "bundle:"],
    ["an array", () => new Whole([]), "bundle:"],
    ["a number", () => new Whole(42), "bundle:"],
    ["a string", () => new Whole("{}"), "bundle:"],
    ["an empty object", () => new Whole({}), "event:"],
    ["a missing event_hash", (b) => void delete b.event.event_hash, "event.event_hash"],
    ["an uppercase event_hash", (b) => void (b.event.event_hash = b.event.event_hash.toUpperCase()), "event.event_hash"],
    ["a non-hex path element", (b) => void (b.inclusion.path[0] = "zz".repeat(32)), "inclusion.path[0]"],
    ["a short root_hash", (b) => void (b.inclusion.checkpoint.root_hash = "ab"), "inclusion.checkpoint.root_hash"],
    ["a huge leaf_index", (b) => void (b.inclusion.leaf_index = 1e300), "inclusion.leaf_index"],
    ["tree_size 2^53", (b) => void (b.inclusion.tree_size = 2 ** 53), "inclusion.tree_size"],
    ["a negative tree_size", (b) => void (b.inclusion.checkpoint.tree_size = -1), "inclusion.checkpoint.tree_size"],
    ["a fractional leaf_index", (b) => void (b.inclusion.leaf_index = 1.5), "inclusion.leaf_index"],
    ["a string tree_size", (b) => void (b.consistency.from_checkpoint.tree_size = "3"), "consistency.from_checkpoint.tree_size"],
    ["consistency null", (b) => void (b.consistency = null), "consistency"],
    ["tool_args as an array", (b) => void (b.event.tool_args = [1]), "event.tool_args"],
    ["Infinity in tool_args", (b) => void (b.event.tool_args = { a: Infinity }), "event.tool_args"],
    ["citations of strings", (b) => void (b.event.citations = ["x"]), "event.citations[0]"],
    ["65 path hashes", (b) => void (b.inclusion.path = Array(65).fill("ab".repeat(32))), "inclusion.path"],
    ["a missing signed_at", (b) => void delete b.inclusion.checkpoint.signed_at, "inclusion.checkpoint.signed_at"],
    ["receipt_signature null", (b) => void (b.event.receipt_signature = null), "event.receipt_signature"],
    ["receipt_signature not base64", (b) => void (b.event.receipt_signature = "!!"), "event.receipt_signature"],
    ["a keys entry that is null", (b) => void (b.keys = [null]), "keys[0]"],
    ["a c2sp_checkpoint number", (b) => void (b.c2sp_checkpoint = 5), "c2sp_checkpoint"],
    ["100,000 nested arrays in tool_args", (b) => void (b.event.tool_args = { deep }), "nested deeper than"],
    ["100,000 nested arrays as the bundle", () => new Whole(deep), "nested deeper than"],
  ];

  it.each(cases)("%s", async (_what, mutate, mention) => {
    const bundle = structuredClone(await fullBundle()) as Record<string, any>;
    const result = mutate(bundle);
    const input = result instanceof Whole ? result.value : bundle;
    let report: BundleReport | undefined;
    expect(() => (report = verifyProofBundle(input, jwks()))).not.toThrow();
    expect(report!.ok).toBe(false);
    expect(names(report!)).toEqual(["shape"]);
    expect(check(report!, "shape").detail).toContain(mention);
  });

  it("an object whose getter throws is a failed check, not a throw", () => {
    const trap = Object.defineProperty({}, "event", { enumerable: true, get: () => { throw new Error("boom"); } });
    const report = verifyProofBundle(trap, jwks());
    expect(report.ok).toBe(false);
    expect(failing(report)).toEqual(["internal"]);
  });
});

describe("trusted keys", () => {
  const jwk = signer.publicJwk;

  it("trustedKeysFromJwks: indexes Ed25519 keys by kid, ignores other key types, refuses private keys", () => {
    const rsa = { kty: "RSA", n: "AQAB", e: "AQAB", kid: "rsa-1" };
    const keys = trustedKeysFromJwks({ keys: [rsa, { ...jwk, kid: undefined }, jwk] });
    expect([...keys.byKid.keys()]).toEqual([KID]);
    expect(Buffer.from(keys.byKid.get(KID)!)).toEqual(Buffer.from(PUBLIC_KEY));
    const refused = (json: unknown) => {
      try {
        trustedKeysFromJwks(json);
      } catch (err) {
        expect(err).toBeInstanceOf(LedgerError);
        return (err as LedgerError).code;
      }
      return "accepted";
    };
    expect(refused({ keys: [{ ...jwk, d: "secret" }] })).toBe("private_key");
    expect(refused({ keys: [rsa] })).toBe("no_keys");
    expect(refused({ keys: [{ ...jwk, x: jwk.x.slice(1) }] })).toBe("bad_jwk");
    expect(refused({ keys: [jwk, { ...jwk, x: Buffer.alloc(32, 1).toString("base64url") }] })).toBe("duplicate_kid");
    expect(refused([jwk])).toBe("bad_jwks");
    expect(refused(null)).toBe("bad_jwks");
  });

  it("trustedKeysFromKeyString: a C2SP verifier key, raw base64url or base64, or JWK JSON; one key for every kid", () => {
    const vkey = trustedKeysFromKeyString(verifierKeyString(ORIGIN, PUBLIC_KEY));
    expect(vkey.noteVerifiers?.map((v) => v.name)).toEqual([ORIGIN]);
    for (const s of [verifierKeyString(ORIGIN, PUBLIC_KEY), jwk.x, Buffer.from(PUBLIC_KEY).toString("base64"), JSON.stringify(jwk), `  ${jwk.x}\n`]) {
      const keys = trustedKeysFromKeyString(s);
      expect(keys.source).toBe("key");
      expect(keys.anyKid?.map((k) => Buffer.from(k).toString("hex"))).toEqual([Buffer.from(PUBLIC_KEY).toString("hex")]);
    }
    const refusals: [string, LedgerErrorCode][] = [
      ["", "bad_key_string"],
      ["hello", "bad_key_string"],
      [jwk.x.slice(2), "bad_key_string"],
      [JSON.stringify({ ...jwk, d: "x" }), "private_key"],
      [JSON.stringify({ kty: "EC" }), "bad_jwk"],
      ["{not json", "bad_jwk"],
      [`${ORIGIN}+00000000+AQ==`, "bad_key_string"],
    ];
    for (const [bad, code] of refusals) {
      expect(() => trustedKeysFromKeyString(bad), bad).toThrow(expect.objectContaining({ name: "LedgerError", code }));
    }
  });

  it("trustedKeysFromBundle: decodes public_jwk, falls back to key_id, skips private or broken keys with a warning, never throws", async () => {
    const bundle = await fullBundle();
    const entry = bundle.keys[0]!;
    const encode = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
    bundle.keys = [
      { ...entry, key_id: "fallback-kid", public_jwk: encode({ ...jwk, kid: undefined }) },
      { ...entry, key_id: "private", public_jwk: encode({ ...jwk, kid: "private", d: "x" }) },
      { ...entry, key_id: "garbage", public_jwk: "!!!" },
      { ...entry, key_id: "empty", public_jwk: "" },
    ];
    const keys = trustedKeysFromBundle(bundle);
    expect([...keys.byKid.keys()]).toEqual(["fallback-kid"]);
    expect(keys.warnings).toHaveLength(2);
    expect(keys.warnings!.join(" ")).toMatch(/private key/);
    for (const hostile of [null, 1, [], { keys: null }, { keys: [null, 1, { public_jwk: 7 }] }]) {
      expect(trustedKeysFromBundle(hostile).byKid.size).toBe(0);
    }
  });

  it("a same-kid key that is not the signer's fails the signature checks", async () => {
    const wrong = { ...signer.publicJwk, x: Buffer.from(generateKeyPairSync("ed25519").publicKey.export({ format: "jwk" }).x!, "base64url").toString("base64url") };
    const report = verifyProofBundle(await fullBundle({ c2sp: false }), trustedKeysFromJwks({ keys: [wrong] }));
    expect(failing(report)).toEqual(["receipt signature", "inclusion checkpoint signature", "from checkpoint signature", "to checkpoint signature"]);
    expect(check(report, "receipt signature").detail).toMatch(/does not verify/);
  });

  it("a kid missing from the JWKS is named in the failure", async () => {
    const report = verifyProofBundle(await fullBundle({ events: sevenEvents(), c2sp: false }), trustedKeysFromJwks({ keys: [{ ...jwk, kid: "other" }] }));
    expect(check(report, "receipt signature").detail).toBe(`no trusted key for kid "${KID}"`);
  });
});

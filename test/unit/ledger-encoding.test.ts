import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { compareMapKeys, encodeCbor, JsonSubtree, MAX_CBOR_DEPTH } from "../../src/ledger/core/cbor.js";
import { LedgerError } from "../../src/ledger/core/ledger-error.js";
import {
  asSdkSeesIt,
  checkpointHash,
  checkpointPayload,
  type CheckpointFields,
  encodeEventForHash,
  eventHash,
  type LedgerEvent,
  receiptPayload,
  sdkCamelKeys,
} from "../../src/ledger/core/event-hash.js";
import { vectorEvent } from "../helpers/proof-bundle-fixture.js";
import { LocalSigner, parseEd25519PrivateKey } from "../../src/tokens/signer.js";

// Wire protocol §4.13: RFC 8032 §7.1 TEST 1 key, kid ledger-2026-01.
const SEED_HEX = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const KID = "ledger-2026-01";
const signer = new LocalSigner(KID, parseEd25519PrivateKey(Buffer.from(SEED_HEX, "hex").toString("base64"), "test"));

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const cbor = (v: unknown) => hex(encodeCbor(v));
const sha = (...parts: Uint8Array[]) => createHash("sha256").update(Buffer.concat(parts)).digest("hex");
// §4.3 leaf and node hashes, inline: merkle.ts is tested on its own.
const leaf = (eventHashHex: string) => sha(Uint8Array.of(0), Buffer.from(eventHashHex, "hex"));
const node = (l: string, r: string) => sha(Uint8Array.of(1), Buffer.from(l, "hex"), Buffer.from(r, "hex"));
const sig = (payload: Uint8Array) => Buffer.from(signer.signSync(payload)).toString("base64url");


const V1_CBOR =
  "ae66726561736f6e6c57697468696e206c696d6974686167656e745f6964676167656e742d3168617070726f766564f5696369746174696f6e738069706f6c6963795f69646d726566756e642d706f6c69637969746f6f6c5f61726773a266616d6f756e74fb40468000000000006863757272656e63796375736469746f6f6c5f6e616d656d7374726970655f726566756e646a636f6e666964656e6365fb3feb3333333333336a6576656e745f75756964782430303030303030302d303030302d343030302d383030302d3030303030303030303030316a726571756573745f6964657265712d316b61636365707465645f617474323032362d30332d31355431323a30303a30305a6b696e74656e745f686173687840616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626f65766964656e63655f6368756e6b73807163616e6f6e6963616c5f76657273696f6e01";
const V1_RECEIPT =
  "a864747970656d6576656e745f726563656970746776657273696f6e01696c6561665f686173687840653265373761353162636263343262393333303261616663303865323239346461336130373533336165636132306638333232306133613636653464316531656a6576656e745f686173687840626462373635313966633738623338663163636161303637623533383765366131313032386137646536353435656134646235623832643234356534653362346a6576656e745f75756964782430303030303030302d303030302d343030302d383030302d3030303030303030303030316a726571756573745f6964657265712d316b61636365707465645f617474323032362d30332d31355431323a30303a30305a6e726563656970745f6b65795f69646e6c65646765722d323032362d3031";
const CP1_PAYLOAD =
  "a964747970656a636865636b706f696e74666b65795f69646e6c65646765722d323032362d30316776657273696f6e0169726f6f745f68617368784031666264323865636166323330393164353965313466323766343363616465376334333233316334323233386266396139396363313561663335626639633761697369676e65645f617474323032362d30332d31355431323a30353a30305a69747265655f73697a65026b6d6d645f7365636f6e6473181e6e6578706f72745f746172676574738074707265765f636865636b706f696e745f6861736860";
const EXPECTED = {
  1: ["bdb76519fc78b38f1ccaa067b5387e6a11028a7de6545ea4db5b82d245e4e3b4", "e2e77a51bcbc42b93302aafc08e2294da3a07533aeca20f83220a3a66e4d1e1e", "sYUjgZdq-0uXA0oe0hg-49ZYFvxR7hRpIBh8s6lfPfaI60lR3fPie-7skDwgAFTwDPCFYqKnEBQG6_fppUkFBw"],
  2: ["d2e299de53b259b4c66a78eae29e3d6822bcd709805b2843e7195255efab475f", "9fa3679c5fc148bb8ae13b00d2bfc4385ddc57ac0f1377adb220d2f1fea0d35e", "guiEJJNWweKcbbnBQESrnQMLKuZVsQrXDHC1cM6aEfSqLD5Yn0efGLWp0AfmobkC6maBcYZzbSxP3GBb38j2Cw"],
  3: ["5ccc7fe0c705458fe8107e6be62470612e0049dfa9c16e4b01ce349326108f9e", "9ea04c24115a9acd25cad1fe589d5a1ce693ca32ca2a1a302e6bdf39ee4df11b", "BUE1VMsswHmlKdapVMQ2FLGtDB2nWAKQ-hvasNfZo78S3CXSnG1JlvCOiJwD7CL0HN827RTAy6Q29mYGbnZOCQ"],
} as const;

describe("§4.13 test vectors, byte for byte", () => {
  it("uses the vector key", () => {
    expect(signer.publicJwk.x).toBe("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
  });

  it("encodes the v1 event payload and hashes it after the 22-byte prefix (§4.1, §4.2)", () => {
    expect(hex(encodeEventForHash(vectorEvent(1)))).toBe(V1_CBOR);
    expect(sha(Buffer.from("6c65646769782e61756469742e6576656e742e763100", "hex"), Buffer.from(V1_CBOR, "hex"))).toBe(EXPECTED[1][0]);
  });

  it.each([1, 2, 3] as const)("reproduces event hash, leaf hash, receipt and receipt signature of v%i (§4.2-4.4)", (i) => {
    const e = vectorEvent(i);
    const [eventHex, leafHex, signature] = EXPECTED[i];
    expect(eventHash(e)).toBe(eventHex);
    // No _x keys in the vectors, so the SDK's camelCase view hashes identically.
    expect(eventHash(asSdkSeesIt(e))).toBe(eventHex);
    expect(leaf(eventHex)).toBe(leafHex);
    const payload = receiptPayload({ ...e, event_hash: eventHex, leaf_hash: leafHex, receipt_key_id: KID });
    if (i === 1) expect(hex(payload)).toBe(V1_RECEIPT);
    expect(sig(payload)).toBe(signature);
  });

  it("reproduces both chained checkpoints: root, payload, hash and signature (§4.5)", () => {
    const [l1, l2, l3] = ([1, 2, 3] as const).map((i) => EXPECTED[i][1]) as [string, string, string];
    const base = { signer_key_id: KID, mmd_seconds: 30, export_target: "" };
    const cp1: CheckpointFields = { ...base, tree_size: 2, root_hash: node(l1, l2), signed_at: "2026-03-15T12:05:00Z", prev_checkpoint_hash: "" };
    expect(cp1.root_hash).toBe("1fbd28ecaf23091d59e14f27f43cade7c43231c42238bf9a99cc15af35bf9c7a");
    const p1 = checkpointPayload(cp1);
    expect(hex(p1)).toBe(CP1_PAYLOAD);
    expect(checkpointHash(p1)).toBe("d8abe3f78dfa0753af5672b0c4dcee7d906230ef2f6b0cd102fd702a3c165a03");
    expect(sig(p1)).toBe("_0-CECdZR1EgkwzEz4WYNYVVtBGyq9G-gkWqo3UH93V6pnG9yA5sfRHQfo6t32lEL5Pztsz6t7kkmb8HUek8AQ");

    const cp2: CheckpointFields = { ...base, tree_size: 3, root_hash: node(cp1.root_hash, l3), signed_at: "2026-03-15T12:10:00Z", prev_checkpoint_hash: checkpointHash(p1) };
    expect(cp2.root_hash).toBe("aba498ba5805e0bb72ea3ac4f31f77a7355427f5226d61e0f3c8a5a3877b8dac");
    const p2 = checkpointPayload(cp2);
    expect(checkpointHash(p2)).toBe("69dd8c8fb075543591f24e379067855f10c8df4c11670c6dfa56b2dfe65a81a5");
    expect(sig(p2)).toBe("DirGwbuAyLxugf5Cwbr0DLA00-S4lHU54v8P_4mqxbpgS9Rhoy3hS40l0szHDDqIl9OdMO9xC-GQg9BDpYwrAA");
  });

  it("puts a set export_target in export_targets (§4.5)", () => {
    const cp: CheckpointFields = { signer_key_id: KID, tree_size: 0, root_hash: "", signed_at: "t", mmd_seconds: 30, export_target: "s3", prev_checkpoint_hash: "" };
    expect(hex(checkpointPayload(cp))).toContain("6e6578706f72745f746172676574738162" + "7333");
  });
});

describe("§4.1 profile", () => {
  it("applies rule (a) inside JSON subtrees and rule (b) elsewhere", () => {
    expect(cbor(new JsonSubtree(45))).toBe("fb4046800000000000");
    expect(cbor(new JsonSubtree({ a: [1, null, true, "x", { b: -0 }] }))).toBe("a1616185fb3ff0000000000000f6f56178a16162fb0000000000000000");
    expect(cbor(0)).toBe("00");
    expect(cbor(-0)).toBe("00");
    expect(cbor(0.85)).toBe("fb3feb333333333333");
    expect(cbor(Number.MAX_SAFE_INTEGER)).toBe("1b001fffffffffffff");
    expect(cbor(2 ** 53)).toBe("fb4340000000000000"); // not a safe integer: float64
    expect(cbor(-Number.MAX_SAFE_INTEGER)).toBe("3b001ffffffffffffe");
    expect(cbor(1e300)).toBe("fb7e37e43c8800759c");
  });

  it("hashes confidence 0 as the integer 00, and 0.85 as float64 (§4.1 rule (b), §4.12 item 2)", () => {
    const zero = hex(encodeEventForHash({ ...vectorEvent(1), confidence: 0 }));
    expect(zero).toContain(cbor("confidence") + "00");
    expect(zero).not.toContain("fb0000000000000000");
    expect(hex(encodeEventForHash(vectorEvent(1)))).toContain("636f6e666964656e6365fb3feb333333333333");
  });

  it("uses the shortest argument header at every boundary", () => {
    const cases: [number, string][] = [[23, "17"], [24, "1818"], [255, "18ff"], [256, "190100"], [65535, "19ffff"], [65536, "1a00010000"], [2 ** 32 - 1, "1affffffff"], [2 ** 32, "1b0000000100000000"], [-1, "20"], [-24, "37"], [-25, "3818"], [-257, "390100"]];
    for (const [n, want] of cases) expect(cbor(n)).toBe(want);
    expect(cbor("a".repeat(24))).toBe("7818" + "61".repeat(24));
    expect(cbor(new Array(24).fill(false))).toBe("9818" + "f4".repeat(24));
    expect(cbor(Uint8Array.of(1, 2))).toBe("420102");
    expect(cbor("é")).toBe("62c3a9");
    expect(cbor("😀")).toBe("64f09f9880");
  });

  it("sorts map keys by UTF-16 length, then code unit, like the SDK (not RFC 8949 bytewise for non-ASCII)", () => {
    expect(cbor({ b: 1, aa: 2, a: 3, B: 4 })).toBe("a4" + "614204" + "616103" + "616201" + "62616102");
    // "é" is one code unit but two UTF-8 bytes: the SDK puts it before "ab"; bytewise would not.
    expect(cbor({ ab: 1, "é": 2 })).toBe("a2" + "62c3a902" + "62616201");
    expect(["tool_args", "reason", "citations", "confidence", "agent_id"].sort(compareMapKeys)).toEqual(["reason", "agent_id", "citations", "tool_args", "confidence"]);
  });
});

describe("§4.2 field sets per canonical_version", () => {
  // Offset of each encoded key in the payload hex: strictly increasing means the documented order.
  const keyOffsets = (bytes: Uint8Array, keys: string[]) => keys.map((k) => hex(bytes).indexOf(cbor(k)));
  const V1_ORDER = ["reason", "agent_id", "approved", "citations", "policy_id", "tool_args", "tool_name", "confidence", "event_uuid", "request_id", "accepted_at", "intent_hash", "evidence_chunks", "canonical_version"];
  const V3_ORDER = [...V1_ORDER.slice(0, 12), "rule_set_hash", "decision_status", "eval_trace_hash", "evidence_chunks", "classifier_label", "eval_inputs_hash", "matched_rule_ids", "canonical_version", "confidence_bucket", "classifier_confidence_bucket"];
  const V2_EXTRA = ["confidence_bucket", "decision_status"];
  const V3_EXTRA = ["rule_set_hash", "matched_rule_ids", "eval_inputs_hash", "eval_trace_hash", "classifier_label", "classifier_confidence_bucket"];

  it("v1 has 14 keys in the documented order and none of the v2/v3 keys, even when the event has them", () => {
    const b = encodeEventForHash({ ...vectorEvent(3), canonical_version: 1 });
    expect(b[0]).toBe(0xa0 + 14);
    const offsets = keyOffsets(b, V1_ORDER);
    expect(offsets.every((o, i) => o > 0 && (i === 0 || o > offsets[i - 1]!))).toBe(true);
    for (const k of [...V2_EXTRA, ...V3_EXTRA]) expect(hex(b)).not.toContain(cbor(k));
  });

  it("v2 adds exactly confidence_bucket and decision_status; v3 adds the six rule-engine keys in length order", () => {
    const v2 = encodeEventForHash({ ...vectorEvent(3), canonical_version: 2 });
    expect(v2[0]).toBe(0xb0); // 16 keys
    expect(hex(v2)).toContain(cbor("confidence_bucket") + cbor("high"));
    expect(hex(v2)).toContain(cbor("decision_status") + cbor("approved"));
    for (const k of V3_EXTRA) expect(hex(v2)).not.toContain(cbor(k));
    const v3 = encodeEventForHash(vectorEvent(3));
    expect(v3[0]).toBe(0xb6); // 22 keys
    const offsets = keyOffsets(v3, V3_ORDER);
    expect(offsets.every((o, i) => o > 0 && (i === 0 || o > offsets[i - 1]!))).toBe(true);
  });

  it('hashes absent or null categorical fields as "" and null matched_rule_ids as []', () => {
    const bare = { ...vectorEvent(1), canonical_version: 3 as const, confidence_bucket: null, decision_status: undefined };
    const h = hex(encodeEventForHash(bare));
    for (const k of ["confidence_bucket", "decision_status", "rule_set_hash", "classifier_confidence_bucket"]) expect(h).toContain(cbor(k) + "60");
    expect(h).toContain(cbor("matched_rule_ids") + "80");
    expect(eventHash({ ...bare, matched_rule_ids: null, rule_set_hash: null })).toBe(eventHash(bare));
  });
});

describe("the SDK's camelCase view (§2.0, §4.12 item 1)", () => {
  it("rewrites _x keys at any depth, objects in arrays but not arrays within arrays", () => {
    const input = { order_id: 1, _private: 2, a__b: 3, x_1: 4, Already: 5, nested: { inner_key: [{ deep_key: 1 }, [{ keep_me: 1 }], "s_x"] } };
    expect(sdkCamelKeys(input)).toEqual({ orderId: 1, Private: 2, a_B: 3, x_1: 4, Already: 5, nested: { innerKey: [{ deepKey: 1 }, [{ keep_me: 1 }], "s_x"] } });
    expect(input.nested.inner_key[0]).toEqual({ deep_key: 1 }); // input untouched
  });

  it("lets the later of two colliding keys win, as the SDK's assignment does", () => {
    expect(sdkCamelKeys({ order_id: 1, orderId: 2 })).toEqual({ orderId: 2 });
    expect(sdkCamelKeys({ orderId: 2, order_id: 1 })).toEqual({ orderId: 1 });
  });

  it("changes the event hash when tool_args, citations or evidence_chunks hold _x keys", () => {
    const e = { ...vectorEvent(2), tool_args: { order_id: "o1" }, citations: [{ doc_id: 1 }], evidence_chunks: [{ chunk_text: "t" }] };
    const seen = asSdkSeesIt(e);
    expect(seen.tool_args).toEqual({ orderId: "o1" });
    expect(seen.citations).toEqual([{ docId: 1 }]);
    expect(seen.evidence_chunks).toEqual([{ chunkText: "t" }]);
    expect(eventHash(seen)).not.toBe(eventHash(e));
    expect(eventHash(seen)).toBe(eventHash({ ...e, tool_args: { orderId: "o1" }, citations: [{ docId: 1 }], evidence_chunks: [{ chunkText: "t" }] }));
  });
});

describe("hostile input is refused with a typed error", () => {
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (err) {
      expect(err).toBeInstanceOf(LedgerError);
      return (err as LedgerError).code;
    }
    throw new Error("expected a LedgerError");
  };
  const ev = (patch: Record<string, unknown>) => () => eventHash({ ...vectorEvent(3), ...patch } as LedgerEvent);

  it("non-finite numbers, top level and inside JSON subtrees", () => {
    for (const n of [Number.NaN, Infinity, -Infinity]) {
      expect(code(() => encodeCbor(n))).toBe("non_finite_number");
      expect(code(ev({ tool_args: { a: [n] } }))).toBe("non_finite_number");
      expect(code(ev({ confidence: n }))).toBe("non_finite_number");
    }
  });

  it("nesting beyond the limit and cycles", () => {
    let deep: unknown = 1;
    for (let i = 0; i < MAX_CBOR_DEPTH; i++) deep = [deep];
    expect(() => encodeCbor(deep)).not.toThrow();
    expect(code(() => encodeCbor([deep]))).toBe("too_deep");
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(code(() => encodeCbor(cyclic))).toBe("too_deep");
    expect(code(() => sdkCamelKeys(cyclic as never))).toBe("too_deep");
  });

  it("types outside the profile", () => {
    for (const v of [undefined, 1n, Symbol("s"), () => 1, new Date(0), new Map(), [1, , 3], { a: undefined }, { [Symbol("k")]: 1 }]) {
      expect(code(() => encodeCbor(v))).toBe("unsupported_type");
    }
    expect(code(() => encodeCbor(new JsonSubtree({ b: Uint8Array.of(1) })))).toBe("unsupported_type");
    expect(code(ev({ tool_args: { when: new Date(0) } }))).toBe("unsupported_type");
    expect(code(() => asSdkSeesIt({ ...vectorEvent(1), tool_args: { when: new Date(0) } as never }))).toBe("unsupported_type");
    expect(code(() => encodeCbor("a\uD800b"))).toBe("lone_surrogate");
    expect(code(() => encodeCbor({ ["\uDC00"]: 1 }))).toBe("lone_surrogate");
  });

  it("event fields the SDK's schema would reject or read differently", () => {
    for (const patch of [
      { canonical_version: 4 },
      { canonical_version: "1" },
      { approved: "true" },
      { confidence: "0.85" },
      { tool_args: [] },
      { tool_args: null },
      { citations: ["a"] },
      { evidence_chunks: {} },
      { confidence_bucket: "" },
      { decision_status: "pending" },
      { classifier_confidence_bucket: "HIGH" },
      { matched_rule_ids: [1] },
      { rule_set_hash: 5 },
      { accepted_at: undefined },
    ]) {
      expect(code(ev(patch))).toBe("invalid_field");
    }
  });

  it("receipt and checkpoint fields", () => {
    const r = { leaf_hash: "a".repeat(64), event_hash: "b".repeat(64), event_uuid: "u", request_id: "r", accepted_at: "t", receipt_key_id: KID };
    expect(() => receiptPayload(r)).not.toThrow();
    for (const patch of [{ leaf_hash: "A".repeat(64) }, { event_hash: "b".repeat(63) }, { receipt_key_id: "" }, { request_id: 1 }]) {
      expect(code(() => receiptPayload({ ...r, ...patch } as never))).toBe("invalid_field");
    }
    const c: CheckpointFields = { signer_key_id: KID, tree_size: 1, root_hash: "c".repeat(64), signed_at: "t", mmd_seconds: 30, export_target: "", prev_checkpoint_hash: "" };
    expect(() => checkpointPayload(c)).not.toThrow();
    for (const patch of [{ tree_size: -1 }, { tree_size: 1.5 }, { tree_size: 2 ** 53 }, { mmd_seconds: Number.NaN }, { root_hash: "" }, { tree_size: 0 }, { prev_checkpoint_hash: "x" }, { signer_key_id: "" }]) {
      expect(code(() => checkpointPayload({ ...c, ...patch }))).toBe("invalid_field");
    }
  });
});

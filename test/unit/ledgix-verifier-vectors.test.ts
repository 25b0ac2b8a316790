import { createPrivateKey, generateKeyPairSync, sign as edSign } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ZodError } from "zod";
import {
  checkpointHashOf,
  checkpointPayloadOf,
  consistencyValid,
  eventHashOf,
  eventPayload,
  inclusionValid,
  leafHashOf,
  merkleRoot,
  receiptPayloadOf,
  type SdkEventFields,
} from "../helpers/ledgix-ledger-primitives.js";
import {
  checkpointSchema,
  ledgerEntrySchema,
  proofBundleSchema,
  sdkParse,
  toCamelCaseKeys,
  TokenVerificationError,
  verifyLedgerProof,
  verifyLedgerProofBundle,
  type Jwks,
} from "../helpers/ledgix-ledger-verifier.js";

// Wire protocol §4.13: RFC 8032 §7.1 TEST 1 key, kid ledger-2026-01.
const KID = "ledger-2026-01";
const JWK = { kty: "OKP", crv: "Ed25519", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", kid: KID };
const JWKS: Jwks = { keys: [JWK] };
const PRIVATE = createPrivateKey({ key: { ...JWK, d: Buffer.from("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "hex").toString("base64url") }, format: "jwk" });
const sign = (data: Buffer) => edSign(null, data, PRIVATE).toString("base64url");
const V = {
  event: ["bdb76519fc78b38f1ccaa067b5387e6a11028a7de6545ea4db5b82d245e4e3b4", "d2e299de53b259b4c66a78eae29e3d6822bcd709805b2843e7195255efab475f", "5ccc7fe0c705458fe8107e6be62470612e0049dfa9c16e4b01ce349326108f9e"],
  leaf: ["e2e77a51bcbc42b93302aafc08e2294da3a07533aeca20f83220a3a66e4d1e1e", "9fa3679c5fc148bb8ae13b00d2bfc4385ddc57ac0f1377adb220d2f1fea0d35e", "9ea04c24115a9acd25cad1fe589d5a1ce693ca32ca2a1a302e6bdf39ee4df11b"],
  receiptSig: [
    "sYUjgZdq-0uXA0oe0hg-49ZYFvxR7hRpIBh8s6lfPfaI60lR3fPie-7skDwgAFTwDPCFYqKnEBQG6_fppUkFBw",
    "guiEJJNWweKcbbnBQESrnQMLKuZVsQrXDHC1cM6aEfSqLD5Yn0efGLWp0AfmobkC6maBcYZzbSxP3GBb38j2Cw",
    "BUE1VMsswHmlKdapVMQ2FLGtDB2nWAKQ-hvasNfZo78S3CXSnG1JlvCOiJwD7CL0HN827RTAy6Q29mYGbnZOCQ",
  ],
  root: ["1fbd28ecaf23091d59e14f27f43cade7c43231c42238bf9a99cc15af35bf9c7a", "aba498ba5805e0bb72ea3ac4f31f77a7355427f5226d61e0f3c8a5a3877b8dac"],
  cpHash: ["d8abe3f78dfa0753af5672b0c4dcee7d906230ef2f6b0cd102fd702a3c165a03", "69dd8c8fb075543591f24e379067855f10c8df4c11670c6dfa56b2dfe65a81a5"],
  cpSig: [
    "_0-CECdZR1EgkwzEz4WYNYVVtBGyq9G-gkWqo3UH93V6pnG9yA5sfRHQfo6t32lEL5Pztsz6t7kkmb8HUek8AQ",
    "DirGwbuAyLxugf5Cwbr0DLA00-S4lHU54v8P_4mqxbpgS9Rhoy3hS40l0szHDDqIl9OdMO9xC-GQg9BDpYwrAA",
  ],
  eventCbor:
    "ae66726561736f6e6c57697468696e206c696d6974686167656e745f6964676167656e742d3168617070726f766564f5696369746174696f6e738069706f6c6963795f69646d726566756e642d706f6c69637969746f6f6c5f61726773a266616d6f756e74fb40468000000000006863757272656e63796375736469746f6f6c5f6e616d656d7374726970655f726566756e646a636f6e666964656e6365fb3feb3333333333336a6576656e745f75756964782430303030303030302d303030302d343030302d383030302d3030303030303030303030316a726571756573745f6964657265712d316b61636365707465645f617474323032362d30332d31355431323a30303a30305a6b696e74656e745f686173687840616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626f65766964656e63655f6368756e6b73807163616e6f6e6963616c5f76657273696f6e01",
  receiptCbor:
    "a864747970656d6576656e745f726563656970746776657273696f6e01696c6561665f686173687840653265373761353162636263343262393333303261616663303865323239346461336130373533336165636132306638333232306133613636653464316531656a6576656e745f686173687840626462373635313966633738623338663163636161303637623533383765366131313032386137646536353435656134646235623832643234356534653362346a6576656e745f75756964782430303030303030302d303030302d343030302d383030302d3030303030303030303030316a726571756573745f6964657265712d316b61636365707465645f617474323032362d30332d31355431323a30303a30305a6e726563656970745f6b65795f69646e6c65646765722d323032362d3031",
  cp1Cbor:
    "a964747970656a636865636b706f696e74666b65795f69646e6c65646765722d323032362d30316776657273696f6e0169726f6f745f68617368784031666264323865636166323330393164353965313466323766343363616465376334333233316334323233386266396139396363313561663335626639633761697369676e65645f617474323032362d30332d31355431323a30353a30305a69747265655f73697a65026b6d6d645f7365636f6e6473181e6e6578706f72745f746172676574738074707265765f636865636b706f696e745f6861736860",
};

type Wire = Record<string, any>;
/** The server's view of a row: only the top-level keys are camelCased, bodies stay as sent. */
const serverFields = (w: Wire) => ({ ...(toCamelCaseKeys({ ...w, tool_args: {}, citations: [], evidence_chunks: [] }) as object), toolArgs: w.tool_args, citations: w.citations, evidenceChunks: w.evidence_chunks }) as SdkEventFields;

/** An independent generator of §4.13 rows: hashes the body as sent, signs the receipt. */
function wireEvent(i: number, over: Wire = {}, kid = KID): Wire {
  const w: Wire = {
    seq: i, event_uuid: `00000000-0000-4000-8000-00000000000${i}`, request_id: `req-${i}`, agent_id: "agent-1", policy_id: "refund-policy",
    intent_hash: "ab".repeat(32), tool_name: "stripe_refund", tool_args: { amount: 45, currency: "usd" }, reason: "Within limit",
    citations: [], evidence_chunks: [], confidence: 0.85, approved: true, confidence_bucket: "high", decision_status: "approved",
    accepted_at: "2026-03-15T12:00:00Z", canonical_version: i, leaf_index: i - 1, checkpoint_id: 1,
    ...(i === 3 ? { rule_set_hash: "cd".repeat(32), matched_rule_ids: ["r-1"], eval_inputs_hash: "ef".repeat(32), eval_trace_hash: "01".repeat(32), classifier_label: "refund", classifier_confidence_bucket: "high" } : {}),
    ...over,
  };
  w.event_hash = eventHashOf(serverFields(w));
  w.leaf_hash = leafHashOf(w.event_hash);
  const receipt = receiptPayloadOf({ leafHash: w.leaf_hash, eventHash: w.event_hash, eventUuid: w.event_uuid, requestId: w.request_id, acceptedAt: w.accepted_at, receiptKeyId: kid });
  return { ...w, receipt_algorithm: "Ed25519", receipt_key_id: kid, receipt_signature: sign(receipt), receipt_payload: receipt.toString("base64url") };
}

function wireCheckpoint(id: number, treeSize: number, root: string, prev: string, signedAt: string): Wire {
  const payload = checkpointPayloadOf({ signerKeyId: KID, rootHash: root, signedAt, treeSize, mmdSeconds: 30, exportTarget: "", prevCheckpointHash: prev });
  return {
    checkpoint_id: id, microblock_id: id, tree_size: treeSize, root_hash: root, checkpoint_hash: checkpointHashOf(payload), prev_checkpoint_hash: prev,
    signature_algorithm: "Ed25519", signer_key_id: KID, checkpoint_signature: sign(payload), checkpoint_payload: payload.toString("base64url"),
    signed_at: signedAt, mmd_seconds: 30, export_target: "", export_uri: "", export_status: "",
  };
}

const e = [1, 2, 3].map((i) => wireEvent(i));
const leaves = e.map((x) => x.leaf_hash as string);
const cp1 = wireCheckpoint(1, 2, merkleRoot(leaves.slice(0, 2)), "", "2026-03-15T12:05:00Z");
const cp2 = wireCheckpoint(2, 3, merkleRoot(leaves), cp1.checkpoint_hash, "2026-03-15T12:10:00Z");
const bundle3: Wire = {
  event: e[2],
  inclusion: { event_uuid: e[2]!.event_uuid, request_id: "req-3", event_hash: e[2]!.event_hash, leaf_hash: e[2]!.leaf_hash, leaf_index: 2, tree_size: 3, path: [cp1.root_hash], checkpoint: cp2 },
  consistency: { from_checkpoint: cp1, to_checkpoint: cp2, path: [leaves[2]] },
  keys: [],
};

const entries = (ws: Wire[]) => ws.map((w) => sdkParse(ledgerEntrySchema, w));
const cps = (ws: Wire[]) => ws.map((w) => sdkParse(checkpointSchema, w));
/** `jwks` null: the client has no JWKS cached. */
const proof = (es: Wire[] = e, cs: Wire[] = [cp1, cp2], jwks: Jwks | null = JWKS) => verifyLedgerProof(entries(es), cps(cs), jwks ?? undefined);
const bundleCheck = (b: Wire, jwks: Jwks | null = JWKS) => verifyLedgerProofBundle(sdkParse(proofBundleSchema, b), jwks ?? undefined);
/** One character changed (to "a", or "b" where it was "a"). */
const tweak = (s: string, at = 10) => s.slice(0, at) + (s[at] === "a" ? "b" : "a") + s.slice(at + 1);
const edit = (w: Wire, f: (c: Wire) => void): Wire => {
  const c = structuredClone(w);
  f(c);
  return c;
};
function expectFailure(run: () => unknown, message: string) {
  let caught: unknown;
  try {
    run();
  } catch (err) {
    caught = err;
  }
  expect(caught, message).toBeInstanceOf(TokenVerificationError);
  expect((caught as Error).message).toBe(message);
}

describe("§4.13 vectors reproduced by the SDK-faithful helper", () => {
  it("encodes the v1 event, its receipt and checkpoint 1 byte for byte", () => {
    expect(eventPayload(serverFields(e[0]!)).toString("hex")).toBe(V.eventCbor);
    expect(Buffer.from(e[0]!.receipt_payload, "base64url").toString("hex")).toBe(V.receiptCbor);
    expect(Buffer.from(cp1.checkpoint_payload, "base64url").toString("hex")).toBe(V.cp1Cbor);
  });

  it("reproduces the event hashes, leaf hashes and receipt signatures of v1, v2 and v3", () => {
    expect(e.map((x) => x.event_hash)).toEqual(V.event);
    expect(leaves).toEqual(V.leaf);
    expect(e.map((x) => x.receipt_signature)).toEqual(V.receiptSig);
    // ...and the same hashes from the SDK's parsed (camelCase) rows.
    expect(entries(e).map((x) => eventHashOf(x))).toEqual(V.event);
  });

  it("reproduces both checkpoints and the documented proofs", () => {
    expect([cp1.root_hash, cp2.root_hash]).toEqual(V.root);
    expect([cp1.checkpoint_hash, cp2.checkpoint_hash]).toEqual(V.cpHash);
    expect([cp1.checkpoint_signature, cp2.checkpoint_signature]).toEqual(V.cpSig);
    expect(inclusionValid(V.leaf[0]!, 0, 3, [V.leaf[1]!, V.leaf[2]!], V.root[1]!)).toBe(true);
    expect(inclusionValid(V.leaf[2]!, 2, 3, [V.root[0]!], V.root[1]!)).toBe(true);
    expect(inclusionValid(V.leaf[0]!, 0, 3, [V.leaf[2]!, V.leaf[1]!], V.root[1]!)).toBe(false);
    expect(consistencyValid(2, 3, V.root[0]!, V.root[1]!, [V.leaf[2]!])).toBe(true);
    expect(consistencyValid(2, 3, V.root[0]!, V.root[1]!, [V.leaf[1]!])).toBe(false);
    expect(consistencyValid(3, 3, V.root[1]!, V.root[1]!, [])).toBe(true);
  });

  it("verifyLedgerProof over [e1,e2,e3] + [cp1,cp2] is intact, in any input order", () => {
    const expected = { intact: true, verifiedEntries: 3, verifiedCheckpoints: 2, verifiedManifests: 2, latestLeafHash: V.leaf[2], latestCheckpointHash: V.cpHash[1], latestManifestHash: V.cpHash[1] };
    expect(proof()).toEqual(expected);
    expect(proof([e[2]!, e[0]!, e[1]!], [cp2, cp1])).toEqual(expected);
  });

  it("verifies the req-3 bundle (consistency cp1→cp2) with JWKS fallback and with embedded keys", () => {
    const expected = { intact: true, verifiedEntries: 1, verifiedCheckpoints: 2, verifiedManifests: 2, latestLeafHash: V.leaf[2], latestCheckpointHash: V.cpHash[1], latestManifestHash: V.cpHash[1] };
    expect(bundleCheck(bundle3)).toEqual(expected);
    // A JWK without kid takes the entry's key_id; embedded keys are used exclusively (no JWKS given).
    const { kid: _kid, ...noKid } = JWK;
    const keys = [{ key_id: KID, algorithm: "Ed25519", public_jwk: Buffer.from(JSON.stringify(noKid)).toString("base64url"), active_from: "2026-01-01T00:00:00Z" }];
    expect(bundleCheck({ ...bundle3, keys }, null)).toEqual(expected);
    const { consistency: _c, ...noConsistency } = bundle3;
    expect(bundleCheck(noConsistency)).toMatchObject({ verifiedCheckpoints: 1, latestCheckpointHash: V.cpHash[1] });
  });
});

describe("SDK-faithful failures and quirks", () => {
  it("reports a one-character change in each field with the documented message", () => {
    const redacted = (w: Wire) => ({ ...w, intent_hash: "" });
    const cases: [Wire[], Wire[], string][] = [
      [[e[0]!, edit(e[1]!, (c) => (c.reason = tweak(c.reason, 0))), e[2]!], [cp1, cp2], "Ledger event hash mismatch at seq 2"],
      [[edit(e[0]!, (c) => (c.tool_args.currency = "usx")), e[1]!, e[2]!], [cp1, cp2], "Ledger event hash mismatch at seq 1"],
      [[e[0]!, e[1]!, edit(e[2]!, (c) => (c.matched_rule_ids = ["r-2"]))], [cp1, cp2], "Ledger event hash mismatch at seq 3"],
      [[e[0]!, edit(e[1]!, (c) => (c.intent_hash = tweak(c.intent_hash))), e[2]!], [cp1, cp2], "Ledger event hash mismatch at seq 2"],
      [[edit(e[0]!, (c) => (c.event_hash = tweak(c.event_hash))), e[1]!, e[2]!], [cp1, cp2], "Ledger event hash mismatch at seq 1"],
      [[edit(e[0]!, (c) => (c.leaf_hash = tweak(c.leaf_hash))), e[1]!, e[2]!], [cp1, cp2], "Ledger leaf hash mismatch at seq 1"],
      [[edit(redacted(e[0]!), (c) => (c.event_hash = tweak(c.event_hash))), e[1]!, e[2]!], [cp1, cp2], "Ledger leaf hash mismatch at seq 1"],
      [[e[0]!, edit(e[1]!, (c) => (c.receipt_algorithm = "Ed25518")), e[2]!], [cp1, cp2], "Unsupported ledger receipt algorithm Ed25518"],
      [[e[0]!, e[1]!, edit(e[2]!, (c) => (c.receipt_key_id = tweak(c.receipt_key_id, 0)))], [cp1, cp2], "Ledger receipt payload mismatch at seq 3"],
      [[e[0]!, e[1]!, edit(e[2]!, (c) => (c.receipt_payload = tweak(c.receipt_payload, 40)))], [cp1, cp2], "Ledger receipt payload mismatch at seq 3"],
      [[edit(redacted(e[0]!), (c) => (c.accepted_at = tweak(c.accepted_at, 3))), e[1]!, e[2]!], [cp1, cp2], "Ledger receipt payload mismatch at seq 1"],
      [[e[0]!, edit(e[1]!, (c) => (c.receipt_signature = tweak(c.receipt_signature))), e[2]!], [cp1, cp2], "Ledger receipt signature invalid at seq 2"],
      [e, [cp1, edit(cp2, (c) => (c.prev_checkpoint_hash = tweak(c.prev_checkpoint_hash)))], "Ledger checkpoint chain broken at checkpoint 2"],
      [e, [edit(cp1, (c) => (c.signature_algorithm = "Ed25518")), cp2], "Unsupported checkpoint signature algorithm Ed25518"],
      [e, [edit(cp1, (c) => (c.signed_at = tweak(c.signed_at, 3))), cp2], "Ledger checkpoint payload mismatch at checkpoint 1"],
      [e, [cp1, edit(cp2, (c) => (c.root_hash = tweak(c.root_hash)))], "Ledger checkpoint payload mismatch at checkpoint 2"],
      [e, [cp1, edit(cp2, (c) => (c.mmd_seconds = 31))], "Ledger checkpoint payload mismatch at checkpoint 2"],
      [e, [edit(cp1, (c) => (c.checkpoint_hash = tweak(c.checkpoint_hash))), cp2], "Ledger checkpoint hash mismatch at checkpoint 1"],
      [e, [edit(cp1, (c) => (c.checkpoint_signature = tweak(c.checkpoint_signature))), cp2], "Ledger checkpoint signature invalid at checkpoint 1"],
      [e, [cp2], "Ledger checkpoint chain broken at checkpoint 2"],
      [e, [cp1, wireCheckpoint(2, 3, tweak(cp2.root_hash), cp1.checkpoint_hash, "2026-03-15T12:10:00Z")], "Latest checkpoint root does not match sequenced leaf hashes"],
      [[wireEvent(1, {}, "ledger-2026-02"), e[1]!, e[2]!], [cp1, cp2], "No JWKS key found for kid ledger-2026-02"],
    ];
    for (const [es, cs, message] of cases) expectFailure(() => proof(es, cs), message);
    expectFailure(() => proof(e, [cp1, cp2], { keys: [] }), "No JWKS available from Vault");
    expectFailure(() => proof(e, [cp1, cp2], null), "No JWKS available from Vault");
  });

  it("reports bundle failures with the bundle messages, and skips what §4.8 does not check", () => {
    const b = bundle3;
    expectFailure(() => bundleCheck(edit(b, (c) => (c.event.receipt_payload = tweak(c.event.receipt_payload, 40)))), "Ledger receipt payload mismatch in proof bundle");
    expectFailure(() => bundleCheck(edit(b, (c) => (c.event.receipt_signature = tweak(c.event.receipt_signature)))), "Ledger receipt signature invalid in proof bundle");
    expectFailure(() => bundleCheck(edit(b, (c) => (c.inclusion.checkpoint.signed_at = tweak(c.inclusion.checkpoint.signed_at, 3)))), "Ledger checkpoint payload mismatch in proof bundle");
    expectFailure(() => bundleCheck(edit(b, (c) => (c.inclusion.checkpoint.checkpoint_signature = tweak(c.inclusion.checkpoint.checkpoint_signature)))), "Ledger checkpoint signature invalid in proof bundle");
    expectFailure(() => bundleCheck(edit(b, (c) => (c.inclusion.path[0] = tweak(c.inclusion.path[0])))), "Ledger inclusion proof is invalid");
    expectFailure(() => bundleCheck(edit(b, (c) => (c.inclusion.leaf_index = 1))), "Ledger inclusion proof is invalid");
    expectFailure(() => bundleCheck(edit(b, (c) => (c.consistency.path[0] = tweak(c.consistency.path[0])))), "Ledger consistency proof is invalid");
    const emptyKeys = [{ key_id: KID, algorithm: "Ed25519", public_jwk: "", active_from: "2026-01-01T00:00:00Z" }];
    expectFailure(() => bundleCheck({ ...b, keys: emptyKeys }, null), "No verification keys available for ledger proof bundle");
    expect(bundleCheck({ ...b, keys: emptyKeys }).intact).toBe(true); // falls back to the cached JWKS
    const stranger = generateKeyPairSync("ed25519").publicKey.export({ format: "jwk" });
    const foreign = [{ key_id: KID, algorithm: "Ed25519", public_jwk: Buffer.from(JSON.stringify({ ...stranger, kid: KID })).toString("base64url"), active_from: "2026-01-01T00:00:00Z" }];
    expectFailure(() => bundleCheck({ ...b, keys: foreign }), "Ledger receipt signature invalid in proof bundle");
    // Not re-hashed on the bundle path: a changed body or a snake_case key still passes.
    expect(bundleCheck(edit(b, (c) => (c.event.reason = "changed"))).intact).toBe(true);
  });

  it("notes redacted entries and partial coverage instead of failing", () => {
    const red = { ...e[0]!, intent_hash: "", tool_args: {} };
    expect(proof([red, e[1]!, e[2]!]).coverageNote).toBe(
      "Event-body hash recomputation was skipped for 1 redacted public ledger entry; receipt and checkpoint proofs still verified.",
    );
    expect(proof([red, { ...e[1]!, intent_hash: "" }, e[2]!]).coverageNote).toMatch(/^Event-body hash recomputation was skipped for 2 redacted public ledger entries;/);
    expect(proof([e[0]!, e[1]!]).coverageNote).toBe("Provided 2 sequenced entries for tree size 3; full root verification requires the complete covered set.");
    expect(proof([e[0]!, e[1]!], [cp1]).coverageNote).toBeUndefined();
  });

  it("camelCases keys inside tool_args before hashing (§4.12 item 1), so snake_case rows fail", () => {
    const snake = wireEvent(1, { tool_args: { amount: 45, order_id: "o_1" } });
    expect(entries([snake])[0]!.toolArgs).toEqual({ amount: 45, orderId: "o_1" });
    expectFailure(() => proof([snake], []), "Ledger event hash mismatch at seq 1");
    expect(proof([wireEvent(1, { tool_args: { amount: 45, orderId: "o_1" } })], []).intact).toBe(true);
    expect(proof([{ ...snake, intent_hash: "" }], []).coverageNote).toMatch(/skipped for 1 redacted/);
    expect(toCamelCaseKeys({ _private: 1, a__b: 2, list: [{ deep_key: 1 }, [{ inner_key: 2 }]] })).toEqual({ Private: 1, a_B: 2, list: [{ deepKey: 1 }, [{ inner_key: 2 }]] });
  });

  it("encodes top-level integers as integers and JSON-subtree numbers as float64 (§4.1)", () => {
    const fields = { ...serverFields(e[1]!), confidence: 0, toolArgs: { n: 1 } };
    const hex = eventPayload(fields).toString("hex");
    expect(hex).toContain(Buffer.from("confidence").toString("hex") + "00");
    expect(hex).toContain("616efb3ff0000000000000"); // "n" → 1.0 as float64
    // Rows without confidence/approved get zod's 0/false, which mismatches what was hashed.
    const { confidence: _c, approved: _a, ...bare } = e[1]!;
    expectFailure(() => proof([bare], []), "Ledger event hash mismatch at seq 2");
  });

  it("rejects with a raw ZodError what §2.7–2.11 forbid", () => {
    const rejects = (schema: Parameters<typeof sdkParse>[0], wire: unknown) => expect(() => sdkParse(schema, wire)).toThrow(ZodError);
    rejects(proofBundleSchema, { ...bundle3, consistency: null });
    rejects(proofBundleSchema, { ...bundle3, keys: [{ key_id: KID, algorithm: "Ed25519", active_from: "x", retired_at: null }] });
    rejects(checkpointSchema, { ...cp1, exported_at: null });
    rejects(checkpointSchema, { ...cp1, prev_checkpoint_hash: null });
    for (const bad of [{ confidence_bucket: "" }, { decision_status: "" }, { confidence: null }, { tool_args: null }, { reason: null }, { citations: ["x"] }]) {
      rejects(ledgerEntrySchema, { ...e[1]!, ...bad });
    }
    expect(sdkParse(ledgerEntrySchema, { ...e[1]!, confidence_bucket: null, leaf_index: null }).confidenceBucket).toBeNull();
  });
});

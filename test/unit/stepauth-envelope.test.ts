import { generateKeyPairSync, sign as nodeSign } from "node:crypto";
import { ml_dsa65 } from "@noble/post-quantum/ml-dsa.js";
import { describe, expect, it } from "vitest";
import { fromBase64Strict, toBase64, utf8 } from "../../src/protocols/encoding.js";
import { encodeEnvelope, parseEnvelope, signEnvelope, verifyEnvelope, verifyEnvelopeInStages, type Envelope } from "../../src/protocols/stepauth/envelope.js";
import { generateHybridKeyset, parsePrivateKeyset, parsePublicKeyset, publicKeysetOf, serializePrivateKeyset, type PublicKeyset } from "../../src/protocols/stepauth/keyset.js";

/** The envelope and keysets of StepAuth (reference §1): all-of verification, one false for every cause. */
const sp = generateHybridKeyset("ks_sp");
const spPublic = publicKeysetOf(sp);
const other = generateHybridKeyset("ks_other");
const payload = utf8('{"requestId":"req_1","senderId":"sp.example.com"}');
const signed = signEnvelope(payload, sp);
const body = encodeEnvelope(signed);

const verifies = (text: string | Uint8Array, keysets: readonly PublicKeyset[] = [spPublic]) => {
  const parsed = parseEnvelope(text);
  return parsed !== null && verifyEnvelope(parsed, keysets);
};
const withEnvelope = (change: (e: Envelope) => unknown) => {
  const e = JSON.parse(body);
  change(e);
  return JSON.stringify(e);
};

describe("hybrid keysets", () => {
  it("are [ed25519, ml-dsa-65] with the right lengths and a ks_ id by default", () => {
    const k = generateHybridKeyset();
    expect(k.keysetId).toMatch(/^ks_[0-9a-f]{16}$/);
    expect(k.keys.map((key) => [key.alg, key.secretKey.length, key.publicKey.length])).toEqual([
      ["ed25519", 32, 32],
      ["ml-dsa-65", 4032, 1952],
    ]);
    const pub = publicKeysetOf(k);
    expect(pub.keys.map((key) => [key.idx, key.alg, fromBase64Strict(key.pub)?.length])).toEqual([
      [0, "ed25519", 32],
      [1, "ml-dsa-65", 1952],
    ]);
    expect(parsePublicKeyset(pub)).toEqual({ ok: true, keyset: pub });
  });

  it("serialise in the official SDKs' SigningKeyset form and parse back to a keyset that signs alike", () => {
    const text = serializePrivateKeyset(sp);
    const json = JSON.parse(text);
    expect(json.keysetId).toBe("ks_sp");
    expect(json.keys.map((k: { idx: number; alg: string; priv: string }) => [k.idx, k.alg, fromBase64Strict(k.priv)!.length])).toEqual([
      [0, "ed25519", 64], // seed || public key, Go's ed25519.PrivateKey
      [1, "ml-dsa-65", 4032],
    ]);
    const back = parsePrivateKeyset(text)!;
    expect(publicKeysetOf(back)).toEqual(spPublic);
    // Deterministic ML-DSA and Ed25519: the same bytes sign to the same envelope.
    expect(encodeEnvelope(signEnvelope(payload, back))).toBe(body);
  });

  it("refuse a private keyset whose public keys do not belong to its private keys, or that is malformed", () => {
    const json = JSON.parse(serializePrivateKeyset(sp));
    const swap = (i: number, pub: string) => JSON.stringify({ ...json, keys: json.keys.map((k: object, j: number) => (j === i ? { ...k, pub } : k)) });
    const otherPub = publicKeysetOf(other).keys;
    expect(parsePrivateKeyset(swap(0, otherPub[0]!.pub))).toBeNull();
    expect(parsePrivateKeyset(swap(1, otherPub[1]!.pub))).toBeNull();
    expect(parsePrivateKeyset(JSON.stringify({ ...json, keys: [...json.keys].reverse() }))).toBeNull();
    expect(parsePrivateKeyset(JSON.stringify({ ...json, keysetId: "" }))).toBeNull();
    for (const bad of ["", "null", "[]", "{", '{"keysetId":"a","keys":[],"keysetId":"b"}', JSON.stringify({ ...json, keys: [{ ...json.keys[0], priv: "!!" }, json.keys[1]] })]) {
      expect(parsePrivateKeyset(bad)).toBeNull();
    }
    expect(parsePrivateKeyset(42 as unknown as string)).toBeNull();
  });

  it("parsePublicKeyset refuses a wrong order, wrong lengths, non-canonical base64, a bad point and extra or missing keys", () => {
    const [ed, pq] = spPublic.keys as [PublicKeyset["keys"][0], PublicKeyset["keys"][0]];
    const cases: [string, unknown][] = [
      ["order [ml-dsa-65, ed25519]", { keysetId: "k", keys: [{ ...pq, idx: 0 }, { ...ed, idx: 1 }] }],
      ["idx swapped", { keysetId: "k", keys: [{ ...ed, idx: 1 }, { ...pq, idx: 0 }] }],
      ["ed25519 only, in the hybrid form", { keysetId: "k", keys: [ed] }],
      ["three keys", { keysetId: "k", keys: [ed, pq, pq] }],
      ["two ed25519", { keysetId: "k", keys: [ed, { ...ed, idx: 1, alg: "ed25519" }] }],
      ["short ed25519 key", { keysetId: "k", keys: [{ ...ed, pub: toBase64(new Uint8Array(31)) }, pq] }],
      ["short ml-dsa key", { keysetId: "k", keys: [ed, { ...pq, pub: toBase64(new Uint8Array(1951)) }] }],
      ["unpadded base64", { keysetId: "k", keys: [{ ...ed, pub: ed.pub.replace(/=+$/, "") }, pq] }],
      ["base64url", { keysetId: "k", keys: [ed, { ...pq, pub: pq.pub.replaceAll("+", "-").replaceAll("/", "_") }] }],
      ["not a curve point", { keysetId: "k", keys: [{ ...ed, pub: toBase64(new Uint8Array(32).fill(0xff)) }, pq] }],
      // The identity point: a small-order key anyone can "sign" for (src/protocols/ed25519.ts).
      ["small-order ed25519 key", { keysetId: "k", keys: [{ ...ed, pub: toBase64(Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 1 : 0))) }, pq] }],
      ["seed-era small-order key", { keyId: "k", publicKey: toBase64(Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 1 : 0))) }],
      ["no keysetId", { keys: [ed, pq] }],
      ["keysetId with a control character", { keysetId: "k\n", keys: [ed, pq] }],
      ["unknown alg", { keysetId: "k", keys: [ed, { ...pq, alg: "ml-dsa-87" }] }],
      ["not an object", [ed, pq]],
      ["null", null],
    ];
    for (const [what, value] of cases) expect(parsePublicKeyset(value).ok, what).toBe(false);
    expect(parsePublicKeyset({ keysetId: "k", keys: [ed, pq], extra: true })).toEqual({ ok: true, keyset: { keysetId: "k", keys: [ed, pq] } });
  });
});

describe("seed-era single Ed25519 keys", () => {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const spki = publicKey.export({ format: "der", type: "spki" }).toString("base64");
  const raw = toBase64(new Uint8Array(publicKey.export({ format: "der", type: "spki" }).subarray(12)));

  it("are accepted as SPKI DER (MCowBQYDK2VwAyEA...) or raw 32 bytes, as a one-key keyset", () => {
    expect(spki.startsWith("MCowBQYDK2VwAyEA")).toBe(true);
    const want = { ok: true, keyset: { keysetId: "key-2024", keys: [{ idx: 0, alg: "ed25519", pub: raw }] } };
    expect(parsePublicKeyset({ keyId: "key-2024", publicKey: spki })).toEqual(want);
    expect(parsePublicKeyset({ keyId: "key-2024", publicKey: raw })).toEqual(want);
    expect(parsePublicKeyset({ keyId: "key-2024", publicKey: toBase64(new Uint8Array(44)) }).ok).toBe(false); // 44 bytes, not SPKI
    expect(parsePublicKeyset({ keyId: "", publicKey: spki }).ok).toBe(false);
    expect(parsePublicKeyset({ keyId: "k", publicKey: 5 }).ok).toBe(false);
  });

  it("verify an envelope signed by any Ed25519 implementation (node:crypto here), with exactly one signature", () => {
    const keyset = (parsePublicKeyset({ keyId: "key-2024", publicKey: spki }) as { keyset: PublicKeyset }).keyset;
    const signature = nodeSign(null, payload, privateKey).toString("base64");
    const envelope = (signatures: string[]) => encodeEnvelope({ payload: toBase64(payload), signature: { keysetId: "key-2024", signatures } });
    expect(verifies(envelope([signature]), [keyset])).toBe(true);
    expect(verifies(envelope([signature, signature]), [keyset])).toBe(false);
    expect(verifies(envelope([]), [keyset])).toBe(false);
  });
});

describe("envelopes", () => {
  it("carry base64(P) and one signature per key; verify all-of against the named keyset", () => {
    expect(Object.keys(JSON.parse(body))).toEqual(["payload", "signature"]);
    expect(signed.signature.signatures.map((s) => fromBase64Strict(s)!.length)).toEqual([64, 3309]);
    const parsed = parseEnvelope(body)!;
    expect(parsed.payload).toEqual(payload);
    expect(verifyEnvelope(parsed, [publicKeysetOf(other), spPublic])).toBe(true);
    expect(verifies(utf8(body))).toBe(true);
  });

  it("refuse every cause with the same false: unknown keysetId, other keys, a missing, extra or swapped signature, a tampered payload", () => {
    const [edSig, pqSig] = signed.signature.signatures as [string, string];
    expect(verifies(body, [publicKeysetOf(other)])).toBe(false);
    expect(verifies(body, [{ ...publicKeysetOf(other), keysetId: "ks_sp" }])).toBe(false);
    expect(verifies(body, [])).toBe(false);
    expect(verifies(withEnvelope((e) => (e.signature.keysetId = "ks_unknown")))).toBe(false);
    expect(verifies(withEnvelope((e) => (e.signature.signatures = [edSig])))).toBe(false);
    expect(verifies(withEnvelope((e) => (e.signature.signatures = [edSig, pqSig, pqSig])))).toBe(false);
    expect(verifies(withEnvelope((e) => (e.signature.signatures = [pqSig, edSig])))).toBe(false);
    expect(verifies(withEnvelope((e) => (e.payload = toBase64(utf8('{"requestId":"req_2","senderId":"sp.example.com"}')))))).toBe(false);
    // Ed25519 valid, ML-DSA from another key: all-of fails.
    const mixed = ml_dsa65.sign(payload, other.keys[1]!.secretKey);
    expect(verifies(withEnvelope((e) => (e.signature.signatures = [edSig, toBase64(mixed)])))).toBe(false);
    // A keyset stored in the wrong order verifies nothing, even with signatures in that order.
    const reversed = { keysetId: "ks_sp", keys: [{ ...spPublic.keys[1]!, idx: 0 }, { ...spPublic.keys[0]!, idx: 1 }] };
    expect(verifies(withEnvelope((e) => (e.signature.signatures = [pqSig, edSig])), [reversed])).toBe(false);
  });

  it("verify in stages: Ed25519 (the cheap check) first, then rest() for the ML-DSA-65 component, all-of together", () => {
    const [edSig, pqSig] = signed.signature.signatures as [string, string];
    const stages = (text: string) => verifyEnvelopeInStages(parseEnvelope(text)!, [spPublic]);
    const forged = stages(withEnvelope((e) => (e.signature.signatures = [toBase64(new Uint8Array(64)), pqSig])));
    expect([forged.ed25519, forged.rest()]).toEqual([false, false]);
    const mixed = stages(withEnvelope((e) => (e.signature.signatures = [edSig, toBase64(ml_dsa65.sign(payload, other.keys[1]!.secretKey))])));
    expect([mixed.ed25519, mixed.rest()]).toEqual([true, false]);
    const good = stages(body);
    expect([good.ed25519, good.rest()]).toEqual([true, true]);
  });

  it("refuse wrong signature lengths and malformed base64 without throwing", () => {
    const [edSig, pqSig] = signed.signature.signatures as [string, string];
    const bad = [toBase64(new Uint8Array(63)), toBase64(new Uint8Array(65)), "", "====", "AAA", edSig.replace(/=$/, ""), `${edSig} `, "é"];
    for (const s of bad) {
      expect(verifies(withEnvelope((e) => (e.signature.signatures = [s, pqSig])))).toBe(false);
      expect(verifies(withEnvelope((e) => (e.signature.signatures = [edSig, s])))).toBe(false);
    }
    expect(verifies(withEnvelope((e) => (e.signature.signatures = [edSig, toBase64(fromBase64Strict(pqSig)!.subarray(1))])))).toBe(false);
  });

  it("parseEnvelope is strict: JSON object, canonical base64, string signatures, no member named twice, UTF-8", () => {
    const p = JSON.parse(body);
    const malformed = [
      "",
      "[]",
      "null",
      "not json",
      body.slice(0, -1),
      `{"payload":"${p.payload}","payload":"${p.payload}","signature":${JSON.stringify(p.signature)}}`,
      `{"payload":"${p.payload}","signature":{"keysetId":"a","keysetId":"ks_sp","signatures":[]}}`,
      withEnvelope((e) => (e.payload = e.payload.replace(/=+$/, ""))),
      withEnvelope((e) => (e.payload = `${e.payload}\n`)),
      withEnvelope((e) => ((e as unknown as { payload: number }).payload = 5)),
      withEnvelope((e) => ((e.signature as unknown as { signatures: unknown }).signatures = "x")),
      withEnvelope((e) => ((e.signature.signatures as unknown[]) = [1, 2])),
      withEnvelope((e) => ((e as { signature: unknown }).signature = null)),
      withEnvelope((e) => (e.signature.signatures = new Array(9).fill("AAAA"))),
      withEnvelope((e) => ((e.signature as { keysetId: unknown }).keysetId = 7)),
    ];
    for (const m of malformed) expect(parseEnvelope(m), m.slice(0, 80)).toBeNull();
    expect(parseEnvelope(new Uint8Array([0x7b, 0xff, 0x7d]))).toBeNull();
    expect(parseEnvelope(`{"payload":"","signature":{"keysetId":"\\ud800","signatures":[]}}`)).toBeNull(); // lone surrogate
    expect(parseEnvelope(42 as unknown as string)).toBeNull();
    expect(parseEnvelope(withEnvelope((e) => ((e as unknown as Record<string, unknown>).extra = { nested: [1] })))).not.toBeNull();
  });

  it("refuse a huge envelope before parsing it", () => {
    const huge = encodeEnvelope({ payload: toBase64(new Uint8Array(800 * 1024)), signature: signed.signature });
    expect(huge.length).toBeGreaterThan(1024 * 1024);
    expect(parseEnvelope(huge)).toBeNull();
    expect(parseEnvelope(utf8(huge))).toBeNull();
  });
});

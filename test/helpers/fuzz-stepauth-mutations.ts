/**
 * The targeted mutations of issue 16's StepAuth fuzz cases (assembled in fuzz-stepauth.ts), each with
 * the answer ../shared/reference/stepauth-protocol.md gives it: envelope mutations made after signing
 * (§1: malformed_request, invalid_signature, unknown_sender), and payload mutations signed again so
 * they reach the field rules (§3, §7, §8: timestamps, ids, NameIDs, categories, operator depth,
 * labeled entries, sizes, callback URLs, approvers, repeated names, NUL and lone surrogates).
 */
import fc from "fast-check";
import { fromBase64Strict, toBase64 } from "../../src/protocols/encoding.js";
import { str, type RawKey, type RawNode } from "./fuzz-raw-json.js";
import type { StepAuthFixture, StepAuthKind } from "./fuzz-stepauth.js";
import { rfc3339, type TestSp } from "./stepauth-sp.js";

export type Json = Record<string, any>;
export interface EnvelopeObject {
  payload: unknown;
  signature: unknown;
  [extra: string]: unknown;
}

/** One case while it is being built. */
export interface Draft {
  kind: StepAuthKind;
  url: string;
  payload: Json;
  /** Edits of the payload's JSON tree (repeated names, raw escapes), before signing. */
  rawEdits: ((t: RawNode) => RawNode)[];
  signer: TestSp;
  envelopeEdits: ((e: EnvelopeObject) => void)[];
  /** Edits of the envelope's JSON tree, after signing. */
  envelopeRawEdits: ((t: RawNode) => RawNode)[];
  bytes?: (text: string) => Buffer;
  expected?: string[];
}

export interface Scenario {
  name: string;
  apply(d: Draft, f: StepAuthFixture): void;
}

export const OK = ["2xx"];
const sc = (name: string, apply: Scenario["apply"]): Scenario => ({ name, apply });
const expecting = (name: string, expected: string[], edit: (d: Draft, f: StepAuthFixture) => void): Scenario =>
  sc(name, (d, f) => {
    edit(d, f);
    d.expected = expected;
  });

// ---------------------------------------------------------------------------------------------
// Envelope mutations, made after signing: the same answers on every SP endpoint.

const flipBit = (b64: string, at: number) => {
  const bytes = fromBase64Strict(b64)!;
  bytes[at % bytes.length]! ^= 1 << (at % 8);
  return toBase64(bytes);
};
export const resize = (b64: string, by: number) => {
  const bytes = fromBase64Strict(b64)!;
  if (by < 0) return toBase64(bytes.subarray(0, Math.max(0, bytes.length + by)));
  return toBase64(new Uint8Array([...bytes, ...new Uint8Array(by).fill(7)]));
};
const sigs = (e: EnvelopeObject) => (e.signature as { signatures: unknown[] }).signatures;
const sig = (e: EnvelopeObject) => e.signature as { keysetId: unknown; signatures: unknown[] };

/** Base64 that fromBase64Strict must refuse: each edit makes the text non-canonical or not base64 at all. */
export const malformedBase64 = (b64: string, how: number): string => {
  const edits = [
    (s: string) => s.replace(/=+$/, "") + (s.endsWith("=") ? "" : "A"), // padding dropped (or length broken)
    (s: string) => `${s.slice(0, 8)}\n${s.slice(8)}`,
    (s: string) => ` ${s}`,
    (s: string) => `${s}=`,
    (s: string) => `${s.slice(0, -4)}!!!!`,
    (s: string) => s.replace(/[+/]/g, (c) => (c === "+" ? "-" : "_")) + (/[+/]/.test(s) ? "" : "-_"), // base64url alphabet
    (s: string) => `${s.slice(0, 4)}\u00e9${s.slice(4)}`,
    (s: string) => (s.endsWith("==") ? `${s.slice(0, -3)}B==` : s.endsWith("=") ? `${s.slice(0, -2)}B=` : `${s}B`), // non-zero trailing bits
    () => "",
    () => "====",
  ];
  return edits[how % edits.length]!(b64);
};

function envelopeScenarios(): fc.Arbitrary<Scenario> {
  return fc.oneof(
    fc.nat().map((how) => expecting(`payload base64 malformed #${how % 10}`, ["malformed_request"], (d) => d.envelopeEdits.push((e) => void (e.payload = malformedBase64(e.payload as string, how))))),
    fc.constant(expecting("payload re-encoded with other bytes, not re-signed", ["invalid_signature"], (d) => d.envelopeEdits.push((e) => void (e.payload = toBase64(Buffer.from(`${Buffer.from(e.payload as string, "base64").toString("utf8").replace(/}$/, ',"x":1}')}`)))))),
    fc.constant(expecting("signatures in the wrong key order", ["invalid_signature"], (d) => d.envelopeEdits.push((e) => void sigs(e).reverse()))),
    fc.constant(expecting("a signature missing", ["invalid_signature"], (d) => d.envelopeEdits.push((e) => void sigs(e).pop()))),
    fc.constant(expecting("an extra signature", ["invalid_signature"], (d) => d.envelopeEdits.push((e) => void sigs(e).push(sigs(e)[0])))),
    fc.constant(expecting("no signatures", ["invalid_signature"], (d) => d.envelopeEdits.push((e) => void (sig(e).signatures = [])))),
    fc.constant(expecting("nine signatures", ["malformed_request"], (d) => d.envelopeEdits.push((e) => void (sig(e).signatures = Array.from({ length: 9 }, () => sigs(e)[0]))))),
    fc.tuple(fc.nat(), fc.constantFrom(-64, -2, -1, 1, 2, 3309)).map(([i, by]) =>
      expecting(`signature of the wrong length (${by > 0 ? "+" : ""}${by} bytes)`, ["invalid_signature"], (d) => d.envelopeEdits.push((e) => {
        const at = i % sigs(e).length;
        sigs(e)[at] = resize(sigs(e)[at] as string, by);
      })),
    ),
    fc.tuple(fc.nat(), fc.nat()).map(([i, how]) =>
      expecting("a signature's base64 malformed", ["invalid_signature"], (d) => d.envelopeEdits.push((e) => {
        const at = i % sigs(e).length;
        sigs(e)[at] = malformedBase64(sigs(e)[at] as string, how);
      })),
    ),
    fc.tuple(fc.nat(), fc.nat()).map(([i, bit]) =>
      expecting("a signature bit flipped", ["invalid_signature"], (d) => d.envelopeEdits.push((e) => {
        const at = i % sigs(e).length;
        sigs(e)[at] = flipBit(sigs(e)[at] as string, bit);
      })),
    ),
    fc.constantFrom<unknown>(null, 5, {}, ["x"]).map((v) => expecting(`a signature that is not a string: ${JSON.stringify(v)}`, ["malformed_request"], (d) => d.envelopeEdits.push((e) => void (sigs(e)[0] = v)))),
    fc.constantFrom("ks_unknown", "", " ", "KS", "\u00e9", "x".repeat(300)).map((id) => expecting(`unknown keysetId ${JSON.stringify(id.slice(0, 20))}`, ["invalid_signature"], (d) => d.envelopeEdits.push((e) => void (sig(e).keysetId = id)))),
    fc.constant(expecting("another sender's keysetId", ["invalid_signature"], (d, f) => d.envelopeEdits.push((e) => void (sig(e).keysetId = f.legacySp.keyset.keysetId)))),
    fc.constantFrom<unknown>(null, 1, ["ks"]).map((v) => expecting(`keysetId not a string: ${JSON.stringify(v)}`, ["malformed_request"], (d) => d.envelopeEdits.push((e) => void (sig(e).keysetId = v)))),
    fc.constant(expecting("signed by another registered sender's keyset", ["invalid_signature"], (d, f) => void (d.signer = f.legacySp))),
    fc.constant(expecting("signed by an unregistered sender, as itself", ["unknown_sender"], (d, f) => {
      d.signer = f.stranger;
      setSender(d, f.stranger.entity);
    })),
    fc.constantFrom("sp.unknown.example", "sp-\u00e9.example", "a#b", " ", "x".repeat(257)).map((s) =>
      expecting(`unregistered senderId ${JSON.stringify(s.slice(0, 20))}`, ["unknown_sender"], (d) => setSender(d, s)),
    ),
    fc.constantFrom("payload", "signature").map((k) =>
      expecting(`envelope repeats "${k}"`, ["malformed_request"], (d) => d.envelopeRawEdits.push((t) => withEntry(t, k, (old) => old))),
    ),
    fc.tuple(fc.nat(), fc.nat()).map(([site, which]) => expecting(`the envelope repeats a member name in object #${site}`, ["malformed_request"], (d) => d.envelopeRawEdits.push(repeatAt(site, which)))),
    fc.constantFrom<[string, (e: EnvelopeObject) => void]>(
      ["no payload", (e) => void delete (e as Partial<EnvelopeObject>).payload],
      ["no signature", (e) => void delete (e as Partial<EnvelopeObject>).signature],
      ["signature is a string", (e) => void (e.signature = "sig")],
      ["signatures is a string", (e) => void (sig(e).signatures = "sig" as unknown as unknown[])],
      ["payload is a number", (e) => void (e.payload = 1)],
    ).map(([name, edit]) => expecting(`envelope ${name}`, ["malformed_request"], (d) => d.envelopeEdits.push(edit))),
    fc.constantFrom<[string, (t: string) => Buffer]>(
      ["empty body", () => Buffer.alloc(0)],
      ["truncated body", (t) => Buffer.from(t.slice(0, Math.floor(t.length / 2)))],
      ["top-level array", (t) => Buffer.from(`[${t}]`)],
      ["two JSON texts", (t) => Buffer.from(t + t)],
      ["invalid UTF-8 in the envelope", (t) => Buffer.concat([Buffer.from(t.slice(0, -1)), Buffer.from([0xff]), Buffer.from("}")])],
      ["NUL after the envelope", (t) => Buffer.from(`${t}\u0000`)],
    ).map(([name, bytes]) => expecting(name, ["malformed_request"], (d) => void (d.bytes = bytes))),
    fc.constant(expecting("unknown envelope members are ignored", OK, (d) => d.envelopeEdits.push((e) => void (e.note = { any: ["thing"] })))),
  );
}

/** Replaces (or, when `dup`, repeats) the member `key` of the tree's top object. */
function withEntry(t: RawNode, key: string, value: (old: RawNode) => RawNode): RawNode {
  if (t.kind !== "object") return t;
  const at = t.entries.findIndex(([k]) => "text" in k && k.text === key);
  if (at < 0) return t;
  const entries = [...t.entries];
  entries.splice(at + 1, 0, [str(key), value(entries[at]![1])]);
  return { ...t, entries };
}

function setSender(d: Draft, senderId: string): void {
  if (d.kind === "cancel") d.payload.spId = senderId;
  else d.payload.senderId = senderId;
}

// ---------------------------------------------------------------------------------------------
// Payload mutations, signed again: the field rules.

const nasty = {
  /** JSON escapes no signed message may hold (the strict parser refuses them: malformed_request). */
  escapes: ["\\u0000", "a\\u0000b", "\\ud800", "x\\udc00", "\\udbff\\udbff"],
  /** Not 1-256 printable ASCII without '#'. */
  badIds: ["req_\u00e9", "req_\u2028", "req_\ud83d\ude00", "req#1", "req\t1", "r".repeat(257), "\u00a0", "\u007f"],
};

/** Puts a raw escape into the string member at `path` (a.b.c) of the payload tree. */
function rawStringAt(path: string[], escaped: string): (t: RawNode) => RawNode {
  return (t) => {
    let node: RawNode | undefined = t;
    for (const [i, key] of path.entries()) {
      if (node?.kind !== "object") return t;
      const entries: [RawKey, RawNode][] = node.entries;
      const entry = entries.find(([k]) => "text" in k && k.text === key);
      if (!entry) return t;
      if (i === path.length - 1) entry[1] = { kind: "string", value: { escaped } };
      node = entry[1];
    }
    return t;
  };
}

/** A member name, anywhere: repeated (with another value), as the raw JSON of the signed payload. */
function repeatAt(site: number, which: number): (t: RawNode) => RawNode {
  return (t) => {
    const objects: Extract<RawNode, { kind: "object" }>[] = [];
    const stack = [t];
    while (stack.length > 0) {
      const n = stack.pop()!;
      if (n.kind === "object") {
        objects.push(n);
        stack.push(...n.entries.map(([, v]) => v));
      } else if (n.kind === "array") stack.push(...n.items);
    }
    const o = objects.filter((x) => x.entries.length > 0)[site % Math.max(1, objects.length)] ?? objects[0];
    if (o && o.entries.length > 0) {
      const [k, v] = o.entries[which % o.entries.length]!;
      o.entries.push([k, structuredClone(v)]);
    }
    return t;
  };
}

/** `depth` operators below the principal; long chains without attributes, so the payload stays under 256 KiB. */
const operatorChain = (depth: number): Json => {
  let p: Json = { subject: `email:op${depth}@c.example` };
  for (let i = depth - 1; i >= 0; i--) p = { subject: `email:op${i}@c.example`, ...(depth <= 40 ? { attributes: [{ key: "level", label: "Level", value: String(i) }] } : {}), operator: p };
  return p;
};

const entries = (n: number, valueLength: number): Json[] => Array.from({ length: n }, (_, i) => ({ key: `k${i}`, label: `Entry ${i}`, value: "v".repeat(valueLength) }));
const nestedEntries = (depth: number): Json[] => {
  let value: Json[] | string = "leaf";
  for (let i = depth; i > 0; i--) value = [{ key: `g${i}`, label: `Group ${i}`, value }];
  return value as Json[];
};

const shift = (d: Draft, seconds: number) => {
  const at = Date.now() + seconds * 1000;
  d.payload.timestamp = rfc3339(at);
  if (d.kind === "submit") d.payload.expiresAt = rfc3339(at + 30 * 60_000);
};

/** Timestamps: skew inside and outside ±5 min, and text that is not RFC 3339 (the reference: timestamp_out_of_range). */
function timestampScenarios(): fc.Arbitrary<Scenario> {
  return fc.oneof(
    fc.integer({ min: -240, max: 240 }).map((s) => expecting(`clock skew ${s}s`, OK, (d) => shift(d, s))),
    fc.oneof(fc.integer({ min: 330, max: 10_000_000 }), fc.integer({ min: -10_000_000_000, max: -330 })).map((s) => expecting(`clock skew ${s}s`, ["timestamp_out_of_range"], (d) => shift(d, s))),
    fc.constantFrom("now", "2026-13-01T00:00:00Z", "2026-01-01 00:00:00Z", "2026-01-01t00:00:00z", "1700000000", "\u0032\u0030\u0032\u0036-01-01T00:00:00\u00e9", "２０２６-01-01T00:00:00Z", "9999-12-31T23:59:60Z", "0000-01-01T00:00:00+24:00").map((t) =>
      expecting(`timestamp ${JSON.stringify(t)}`, ["timestamp_out_of_range"], (d) => void (d.payload.timestamp = t)),
    ),
  );
}

function submitScenarios(): fc.Arbitrary<Scenario> {
  const at = (path: string, value: unknown) => (d: Draft) => {
    const keys = path.split(".");
    let o = d.payload;
    for (const k of keys.slice(0, -1)) o = o[k];
    if (value === undefined) delete o[keys[keys.length - 1]!];
    else o[keys[keys.length - 1]!] = value;
  };
  return fc.oneof(
    { weight: 6, arbitrary: fc.constant(expecting("valid", OK, () => {})) },
    { weight: 2, arbitrary: timestampScenarios() },
    { weight: 4, arbitrary: envelopeScenarios() },
    fc.constant(expecting("unknown members are ignored", OK, (d) => {
      d.payload.futureMember = { a: [1] };
      d.payload.action.newField = "x";
    })),
    fc.constant(expecting("a seed-era sender (one Ed25519 key)", OK, (d, f) => {
      d.signer = f.legacySp;
      d.payload.senderId = f.legacySp.entity;
    })),
    fc.constant(expecting("a requestId it already submitted", ["duplicate_request"], (d, f) => void (d.payload.requestId = f.pendingRequestIds[0]))),
    fc.constantFrom<[string, (d: Draft) => void]>(
      ["expiresAt before timestamp", (d) => void (d.payload.expiresAt = rfc3339(Date.now() - 60_000))],
      ["expiresAt equal to timestamp", (d) => void (d.payload.expiresAt = d.payload.timestamp)],
      ["expiresAt 8 days on", (d) => void (d.payload.expiresAt = rfc3339(Date.now() + 8 * 86_400_000))],
      ["expiresAt not RFC 3339", (d) => void (d.payload.expiresAt = "tomorrow")],
      ["no expiresAt", at("expiresAt", undefined)],
      ["no requestId", at("requestId", undefined)],
      ["no action.summary", at("action.summary", undefined)],
      ["action.type not a string", at("action.type", 7)],
      ["principal not an object", at("principal", "email:pat@customer.example")],
      ["action.target without kind", at("action.target", { id: "x" })],
      ["action.name of 121 code points", at("action.name", "\ud83d\ude00".repeat(121))],
      ["principal.subject a group", at("principal.subject", "group:support")],
      ["principal.subject not a NameID", at("principal.subject", "pat@customer.example")],
      ["principal.subject with an empty value", at("principal.subject", "email:")],
      ["action.approver not a NameID", at("action.approver", "finance")],
      ["details repeat a key", at("action.details", [{ key: "a", label: "A", value: "1" }, { key: "a", label: "A2", value: "2" }])],
      ["a detail value of the wrong type", at("action.details", [{ key: "a", label: "A", value: 5 }])],
      ["details not an array", at("action.details", { key: "a" })],
      ["1001 labeled entries", at("action.details", entries(1001, 1))],
      ["labeled entries nested 9 deep", at("action.details", nestedEntries(9))],
      ["a payload of more than 256 KiB", at("action.summary", "s".repeat(262_144))],
    ).map(([name, edit]) => expecting(name, ["malformed_request"], edit)),
    fc.constantFrom(...nasty.badIds).map((id) => expecting(`requestId ${JSON.stringify(id.slice(0, 12))}`, ["malformed_request"], (d) => void (d.payload.requestId = id))),
    fc.tuple(fc.constantFrom("requestId", "senderId", "principal.subject", "action.summary", "action.type", "action.target.id"), fc.constantFrom(...nasty.escapes)).map(([path, esc]) =>
      expecting(`${path} holds ${esc}`, ["malformed_request"], (d) => d.rawEdits.push(rawStringAt(path.split("."), esc))),
    ),
    fc.tuple(fc.nat(), fc.nat()).map(([site, which]) => expecting(`a member name repeated in object #${site}`, ["malformed_request"], (d) => d.rawEdits.push(repeatAt(site, which)))),
    fc.constantFrom("other-hub.example", " ", "HUB").map((r) => expecting(`recipientId ${JSON.stringify(r)}`, ["wrong_recipient"], (d, f) => void (d.payload.recipientId = r === "HUB" ? `${f.hub.entity}.evil` : r))),
    fc.constantFrom("financial.Transfer", "financial.transfer ", "data", "payments.refund", "\u00e9", "data.read.extra").map((c) => expecting(`category ${JSON.stringify(c)}`, ["unknown_category"], (d) => void (d.payload.action.category = c))),
    fc.integer({ min: 0, max: 5 }).map((n) => expecting(`operator chain of ${n}`, OK, (d) => void (d.payload.principal = operatorChain(n)))),
    // At most 1000: fuzz-raw-json.ts walks the payload recursively and overflowed the stack at 3000 in a CI
    // worker. Far deeper chains (5000) are refused in test/unit/stepauth-request.test.ts.
    fc.oneof(fc.integer({ min: 6, max: 40 }), fc.constantFrom(500, 1000)).map((n) => expecting(`operator chain of ${n}`, ["operator_depth_exceeded"], (d) => void (d.payload.principal = operatorChain(n)))),
    fc.constantFrom<[string, Json[]]>(["900 labeled entries of 200 characters", entries(900, 200)], ["labeled entries nested 8 deep", nestedEntries(8)], ["1000 labeled entries in all (999 details and the principal's attribute)", entries(999, 1)]).map(([name, e]) =>
      expecting(name, OK, (d) => void (d.payload.action.details = e)),
    ),
    fc.constant(expecting("an envelope over 1 MiB", ["payload_too_large"], (d) => void (d.payload.action.summary = "s".repeat(800_000)))),
    fc.constantFrom("http://127.0.0.1:9/cb/x", "http://127.0.0.1:9/cb/a/b?c=d").map((u) => expecting(`callbackUrl ${u}`, OK, (d) => void (d.payload.callbackUrl = u))),
    fc.constantFrom("http://127.0.0.1:9/other", "https://127.0.0.1:9/cb/x", "http://localhost:9/cb/x", "ftp://127.0.0.1:9/cb/x", "javascript:alert(1)", "http://127.0.0.1:9/cb/x y", "http://127.0.0.1:9/cb/\u00e9").map((u) =>
      expecting(`callbackUrl ${u}`, ["invalid_callback_url"], (d) => void (d.payload.callbackUrl = u)),
    ),
    fc.nat().map((i) => expecting("a known approver", [...OK, "unknown_approver", "approver_set_too_large"], (d, f) => void (d.payload.action.approver = f.knownApprovers[i % f.knownApprovers.length]))),
    fc.constantFrom("group:no-such-group-zz9", "email:nobody-zz9@example.com", "persistent:u_zz9", "policy:no-such-policy-zz9").map((a) =>
      expecting(`approver ${a}`, ["unknown_approver"], (d) => void (d.payload.action.approver = a)),
    ),
    fc.constantFrom("email:p\u00e9t@customer.example", "email:\ud83d\ude00@x.example").map((s) => expecting(`principal.subject ${s}`, OK, (d) => void (d.payload.principal.subject = s))),
  );
}

function cancelScenarios(): fc.Arbitrary<Scenario> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constant(expecting("valid", OK, () => {})) },
    { weight: 2, arbitrary: timestampScenarios() },
    { weight: 4, arbitrary: envelopeScenarios() },
    fc.constant(expecting("senderId in place of spId", OK, (d) => {
      d.payload.senderId = d.payload.spId;
      delete d.payload.spId;
    })),
    fc.constant(expecting("both senderId and spId", OK, (d) => void (d.payload.senderId = d.payload.spId))),
    fc.constant(expecting("senderId and spId differ", ["malformed_request"], (d, f) => void (d.payload.senderId = f.legacySp.entity))),
    fc.constant(expecting("neither senderId nor spId", ["malformed_request"], (d) => void delete d.payload.spId)),
    fc.constantFrom(...nasty.badIds, "").map((id) => expecting(`requestId ${JSON.stringify(id.slice(0, 12))}`, ["malformed_request"], (d) => void (d.payload.requestId = id))),
    fc.constantFrom(...nasty.escapes).map((esc) => expecting(`requestId holds ${esc}`, ["malformed_request"], (d) => d.rawEdits.push(rawStringAt(["requestId"], esc)))),
    fc.tuple(fc.nat(), fc.nat()).map(([site, which]) => expecting("a member name repeated", ["malformed_request"], (d) => d.rawEdits.push(repeatAt(site, which)))),
    fc.constant(expecting("a payload over 16 KiB", ["malformed_request"], (d) => void (d.payload.pad = "p".repeat(17_000)))),
  );
}

function queryScenarios(directory: boolean): fc.Arbitrary<Scenario> {
  const wrongUris = (d: Draft, f: StepAuthFixture) => [
    d.url.replace(`/stepauth/${f.tenantId}`, ""),
    `${d.url}/`,
    d.url.replace(f.tenantId, "t_other"),
    `https://vault.example${d.url}`,
    directory ? d.url.replace(/\/v1\/\w+/, "/v1/groups").replace("/v1/groups/v1", "/v1/users") : d.url.replace("/decision", ""),
    d.url.toUpperCase(),
  ];
  const base = [
    { weight: 4, arbitrary: fc.constant(expecting("valid", OK, () => {})) },
    { weight: 2, arbitrary: timestampScenarios() },
    { weight: 4, arbitrary: envelopeScenarios() },
    fc.nat().map((i) => expecting("requestUri of another resource", ["wrong_recipient"], (d, f) => {
      const uris = wrongUris(d, f).filter((u) => u !== d.url);
      d.payload.requestUri = uris[i % uris.length];
    })),
    fc.constantFrom("other-hub.example", "HUB").map((r) => expecting(`recipientId ${r}`, ["wrong_recipient"], (d, f) => void (d.payload.recipientId = r === "HUB" ? `${f.hub.entity} ` : r))),
    fc.constantFrom("senderId", "recipientId", "requestUri", "timestamp").map((k) => expecting(`no ${k}`, ["malformed_request"], (d) => void delete d.payload[k])),
    fc.tuple(fc.nat(), fc.nat()).map(([site, which]) => expecting("a member name repeated", ["malformed_request"], (d) => d.rawEdits.push(repeatAt(site, which)))),
    fc.constantFrom(...nasty.escapes).map((esc) => expecting(`requestUri holds ${esc}`, ["malformed_request"], (d) => d.rawEdits.push(rawStringAt(["requestUri"], esc)))),
  ];
  if (!directory) return fc.oneof(...base);
  const cursor = (after: unknown) => Buffer.from(JSON.stringify({ after }), "utf8").toString("base64url");
  return fc.oneof(
    ...base,
    fc.constantFrom<unknown>(0, null, 1, 200, 1_000_000).map((limit) => expecting(`limit ${JSON.stringify(limit)}`, OK, (d) => void (d.payload.limit = limit))),
    fc.constantFrom<unknown>(-1, 1.5, "5", true, [], 9_007_199_254_740_993).map((limit) => expecting(`limit ${JSON.stringify(limit)}`, ["malformed_request"], (d) => void (d.payload.limit = limit))),
    fc.constantFrom("not a cursor", "%%%", "x".repeat(1025), cursor(5), cursor(null), Buffer.from("{").toString("base64url")).map((c) =>
      expecting(`cursor ${JSON.stringify(c.slice(0, 20))}`, ["malformed_request"], (d) => void (d.payload.cursor = c)),
    ),
    fc.constantFrom("", "a", "email:zz@example.com", "policy:zz", "\u00e9", "\u0000", "\ud800", "\u00ff".repeat(300)).map((after) =>
      expecting(`a well-formed cursor after ${JSON.stringify(after.slice(0, 8))}`, [...OK, "malformed_request"], (d) => void (d.payload.cursor = cursor(after))),
    ),
    fc.constant(expecting("a query string the requestUri names", OK, (d) => {
      d.url += "?page=2&q=%C3%A9";
      d.payload.requestUri = d.url;
    })),
  );
}

export const scenariosOf = (kind: StepAuthKind): fc.Arbitrary<Scenario> =>
  kind === "submit" ? submitScenarios() : kind === "cancel" ? cancelScenarios() : queryScenarios(kind !== "poll");

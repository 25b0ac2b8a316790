/**
 * The targeted mutations of issue 16's Sigilum fuzz cases (assembled in fuzz-sigilum.ts), each with
 * the answer ../shared/reference/sigilum-agent-identity.md §1-§5 and §7 gives it: headers dropped,
 * bent or repeated; the signature-input grammar; the certificate and its binding to the key and
 * namespace headers; `created` skew and reused nonces (signed again, so nothing else is wrong); the
 * body's digest; what the signature covers; and the routes' own bindings of query and body.
 */
import { randomUUID } from "node:crypto";
import { ed25519 } from "@noble/curves/ed25519.js";
import fc from "fast-check";
import { fromBase64Strict, toBase64, toBase64Url, utf8 } from "../../src/protocols/encoding.js";
import { buildAgentCertificate, encodeCertificateHeader, type AgentCertificate } from "../../src/protocols/http-signatures/agent-certificate.js";
import { contentDigest } from "../../src/protocols/http-signatures/content-digest.js";
import { SIGILUM_COMPONENTS_NO_BODY, SIGILUM_COMPONENTS_WITH_BODY } from "../../src/protocols/http-signatures/signature-input.js";
import type { AgentIdentity } from "../../src/sdk/agent-signer.js";
import type { SigilumFixture, SigilumTarget } from "./fuzz-sigilum.js";

/** A request being built: signed last, then its headers edited. */
export interface Draft {
  target: SigilumTarget;
  method: string;
  path: string;
  body: string | null;
  apiKey: Record<string, string>;
  signer: AgentIdentity;
  subject: string;
  createdOffset: number;
  nonce: string;
  /** Signing overrides: another URL or method than sent, other components, another alg spelling. */
  signedUrl?: string;
  signedMethod?: string;
  components?: readonly string[];
  alg?: string;
  /** The certificate the headers carry (default: the signer's). */
  certificate?: AgentCertificate;
  headerEdits: ((h: Record<string, string | string[]>) => void)[];
  bodyAfterSigning?: (signed: string) => string;
  expected?: string[];
  /** The answer depends on who signed: set by the signer scenarios. */
  outcome?: Outcome;
  prepare?: () => Promise<void>;
  /** An edit of the JSON body before signing (what the route binds the signature to). */
  bodyEdit?: (body: Record<string, unknown>) => void;
}

export type Outcome = "ok" | "pending" | "stranger";
export const OK = ["2xx"];

export interface Scenario {
  name: string;
  apply(d: Draft, f: SigilumFixture): void;
}
const expecting = (name: string, expected: string[], edit: (d: Draft, f: SigilumFixture) => void): Scenario => ({
  name,
  apply: (d, f) => {
    edit(d, f);
    d.expected = expected;
  },
});
const signerIs = (name: string, outcome: Outcome, edit: (d: Draft, f: SigilumFixture) => void): Scenario => ({
  name,
  apply: (d, f) => {
    edit(d, f);
    d.outcome = outcome;
  },
});
const editHeader = (name: string, edit: (v: string) => string | string[] | undefined) => (h: Record<string, string | string[]>) => {
  const next = edit(h[name] as string);
  if (next === undefined) delete h[name];
  else h[name] = next;
};

/** The seven lines a certificate proof signs (reference §4), for certificates the builder would not make. */
function withProof(cert: Omit<AgentCertificate, "proof">, seed: Uint8Array): AgentCertificate {
  const lines = ["sigilum-certificate-v1", `namespace:${cert.namespace}`, `did:${cert.did}`, `key-id:${cert.keyId}`, `public-key:${cert.publicKey}`, `issued-at:${cert.issuedAt}`, `expires-at:${cert.expiresAt ?? ""}`];
  return { ...cert, proof: { alg: "ed25519", sig: toBase64Url(ed25519.sign(utf8(lines.join("\n")), seed)) } } as AgentCertificate;
}

const b64Edits = [
  (s: string) => s.replace(/=+$/, "") + "A",
  (s: string) => `${s}=`,
  (s: string) => s.replace(/[+/]/g, (c) => (c === "+" ? "-" : "_")) + "-",
  (s: string) => `${s.slice(0, 5)}!${s.slice(5)}`,
  (s: string) => `${s.slice(0, 5)}\u00e9${s.slice(5)}`,
  () => "",
];
const resized = (b64: string, by: number) => {
  const bytes = fromBase64Strict(b64) ?? new Uint8Array(64);
  return toBase64(by < 0 ? bytes.subarray(0, bytes.length + by) : new Uint8Array([...bytes, ...new Uint8Array(by)]));
};
const sigValue = (h: Record<string, string | string[]>) => /^sig1=:(.*):$/.exec(h.signature as string)?.[1] ?? "";

export function scenarios(target: SigilumTarget): fc.Arbitrary<Scenario> {
  const six = ["signature-input", "signature", "sigilum-agent-cert", "sigilum-agent-key", "sigilum-namespace", "sigilum-subject"];
  return fc.oneof(
    { weight: 5, arbitrary: fc.constant(signerIs("valid", "ok", () => {})) },
    ...bodyScenarios(target),
    fc.constant(signerIs("signed by an agent whose claim is pending", "pending", (d, f) => void (d.signer = f.pendingBot))),
    fc.constant(signerIs("signed by an agent of an unregistered namespace", "stranger", (d, f) => void (d.signer = f.stranger))),
    // 1. Missing or empty headers.
    fc.tuple(fc.constantFrom(...six), fc.constantFrom<string | undefined>(undefined, "", "   ")).map(([name, value]) =>
      expecting(`${name} ${value === undefined ? "missing" : "empty"}`, ["SIGNATURE_MISSING"], (d) => d.headerEdits.push(editHeader(name, () => value))),
    ),
    // 2. Signature-Input grammar and alg; Signature format.
    fc.constantFrom<[string, (v: string) => string]>(
      ["parameters in the docs' order", (v) => v.replace(/;created=(\d+);keyid="([^"]+)";alg="([^"]+)";nonce="([^"]+)"$/, ';created=$1;nonce="$4";alg="$3";keyid="$2"')],
      ["label sig2", (v) => v.replace(/^sig1=/, "sig2=")],
      ["alg rsa-v1_5-sha256", (v) => v.replace('alg="ed25519"', 'alg="rsa-v1_5-sha256"')],
      ["created 0", (v) => v.replace(/created=\d+/, "created=0")],
      ["created beyond 2^53", (v) => v.replace(/created=\d+/, "created=99999999999999999999")],
      ["created negative", (v) => v.replace(/created=\d+/, "created=-5")],
      ["a quote in the nonce", (v) => v.replace(/nonce="/, 'nonce="a"b')],
      ["a space before the parameters", (v) => v.replace(");", ") ;")],
      ["another agent's keyid", (v) => v.replace(/keyid="[^"]+"/, 'keyid="did:sigilum:fuzz-agents#ed25519-0000000000000000"')],
      ["a keyid of 10,000 characters", (v) => v.replace(/keyid="[^"]+"/, `keyid="${"k".repeat(10_000)}"`)],
    ).map(([name, edit]) => expecting(`signature-input: ${name}`, ["SIGNATURE_INVALID", "headers_too_large"], (d) => d.headerEdits.push(editHeader("signature-input", edit)))),
    fc.constant(expecting("alg ED25519, signed as written", ["SIGNATURE_INVALID"], (d) => void (d.alg = "ED25519"))),
    fc.constant(expecting("alg uppercased after signing (the verifier rebuilds alg=\"ed25519\")", OK, (d) => d.headerEdits.push(editHeader("signature-input", (v) => v.replace('alg="ed25519"', 'alg="ED25519"'))))),
    fc.constantFrom<[string, (c: readonly string[]) => string[]]>(
      ["an extra component", (c) => [...c, "@authority"]],
      ["components reordered", (c) => [c[1]!, c[0]!, ...c.slice(2)]],
      ["a component missing", (c) => c.slice(0, -1)],
      ["content-digest listed where there is no body, or missing where there is", (c) => (c.includes("content-digest") ? c.filter((x) => x !== "content-digest") : [c[0]!, c[1]!, "content-digest", ...c.slice(2)])],
      ["components uppercased", (c) => c.map((x) => x.toUpperCase())],
    ).map(([name, edit]) => expecting(`components: ${name}`, ["SIGNATURE_COMPONENTS_INVALID"], (d) => void (d.components = edit(d.body ? SIGILUM_COMPONENTS_WITH_BODY : SIGILUM_COMPONENTS_NO_BODY)))),
    fc.tuple(fc.nat(), fc.constantFrom<[string, (h: Record<string, string | string[]>, n: number) => void]>(
      ["malformed base64", (h, n) => void (h.signature = `sig1=:${b64Edits[n % b64Edits.length]!(sigValue(h))}:`)],
      ["63 bytes", (h) => void (h.signature = `sig1=:${resized(sigValue(h), -1)}:`)],
      ["65 bytes", (h) => void (h.signature = `sig1=:${resized(sigValue(h), 1)}:`)],
      ["no sig1 label", (h) => void (h.signature = `:${sigValue(h)}:`)],
      ["two signatures in one field", (h) => void (h.signature = `${h.signature}, ${h.signature}`)],
      ["a bit flipped", (h, n) => void (h.signature = `sig1=:${toBase64(flip(fromBase64Strict(sigValue(h))!, n))}:`)],
    )).map(([n, [name, edit]]) => expecting(`signature: ${name}`, ["SIGNATURE_INVALID"], (d) => d.headerEdits.push((h) => edit(h, n)))),
    // 3. created outside (and inside) the window: signed again, so nothing else is wrong.
    fc.integer({ min: 0, max: 240 }).map((s) => expecting(`created ${s}s ago`, OK, (d) => void (d.createdOffset = -s))),
    // Far in the past, but never before 1970: the grammar has no negative `created` (that is SIGNATURE_INVALID, above).
    fc.oneof(fc.integer({ min: 330, max: 2_000_000_000 }).map((s) => -Math.min(s, Math.floor(Date.now() / 1000) - 1)), fc.integer({ min: 60, max: 100_000_000 })).map((s) =>
      expecting(`created ${s}s from now`, ["SIGNATURE_EXPIRED"], (d) => void (d.createdOffset = s)),
    ),
    // 4. The certificate and its binding to the key and namespace headers.
    fc.tuple(fc.nat(), fc.constantFrom<[string, (v: string, n: number, d: Draft, f: SigilumFixture) => string]>(
      ["malformed base64url", (v, n) => [(s: string) => `${s}==`, (s: string) => `${s.slice(0, 6)}+/${s.slice(6)}`, (s: string) => s.slice(0, -1), (s: string) => `${s.slice(0, 6)}\u00e9${s.slice(6)}`, (s: string) => `${s}.`][n % 5]!(v)],
      ["not JSON", () => toBase64Url(utf8("hello"))],
      ["not UTF-8", () => toBase64Url(new Uint8Array([0x7b, 0xff, 0x7d]))],
      ["another namespace written in, proof unchanged", (v) => reencode(v, (c) => ({ ...c, namespace: "other-ns", did: "did:sigilum:other-ns" }))],
      ["no proof", (v) => reencode(v, (c) => ({ ...c, proof: undefined }))],
      ["version 2", (v) => reencode(v, (c) => ({ ...c, version: 2 }))],
      ["a line break in issuedAt", (v) => reencode(v, (c) => ({ ...c, issuedAt: "2026-01-01\nx" }))],
      ["the pending agent's certificate", (_v, _n, _d, f) => encodeCertificateHeader(f.pendingBot.certificate)],
      ["over 8 KiB", (v) => reencode(v, (c) => ({ ...c, pad: "p".repeat(9000) }))],
    )).map(([n, [name, edit]]) => expecting(`certificate: ${name}`, ["SIGNATURE_INVALID", "headers_too_large"], (d, f) => d.headerEdits.push((h) => void (h["sigilum-agent-cert"] = edit(h["sigilum-agent-cert"] as string, n, d, f))))),
    fc.constantFrom<[string, (d: Draft) => Omit<AgentCertificate, "proof">]>(
      ["expired", (d) => ({ ...d.signer.certificate, expiresAt: "2020-01-01T00:00:00Z" })],
      ["a wrong keyId fingerprint", (d) => ({ ...d.signer.certificate, keyId: `${d.signer.certificate.did}#ed25519-0123456789abcdef` })],
      ["a did of another namespace", (d) => ({ ...d.signer.certificate, did: "did:sigilum:other-ns" })],
    ).map(([name, make]) => expecting(`certificate ${name}, properly signed`, ["SIGNATURE_INVALID"], (d) => void (d.certificate = withProof(make(d), d.signer.seed)))),
    fc.constant(expecting("certificate with extra members, properly signed", OK, (d) => void (d.certificate = { ...d.signer.certificate, issuedBy: "sigilum.local-fixture", note: "\u00e9" }))),
    fc.tuple(fc.nat(), fc.constantFrom<[string, (v: string, n: number, f: SigilumFixture) => string]>(
      ["malformed base64", (v, n) => `ed25519:${b64Edits[n % b64Edits.length]!(v.slice(8))}`],
      ["31 bytes", (v) => `ed25519:${resized(v.slice(8), -1)}`],
      ["33 bytes", (v) => `ed25519:${resized(v.slice(8), 1)}`],
      ["no prefix", (v) => v.slice(8)],
      ["ED25519: prefix", (v) => `ED25519:${v.slice(8)}`],
      ["another agent's key", (_v, _n, f) => f.pendingBot.publicKey],
    )).map(([n, [name, edit]]) => expecting(`sigilum-agent-key: ${name}`, ["SIGNATURE_INVALID"], (d, f) => d.headerEdits.push((h) => void (h["sigilum-agent-key"] = edit(h["sigilum-agent-key"] as string, n, f))))),
    fc.constantFrom("FUZZ-AGENTS", "fuzz-agents-x", "fuzz-agent\u00e9", "other-ns").map((ns) =>
      expecting(`sigilum-namespace ${JSON.stringify(ns)}`, ["SIGNATURE_INVALID"], (d) => d.headerEdits.push(editHeader("sigilum-namespace", () => ns))),
    ),
    // Latin-1 text, and the UTF-8 bytes of text beyond it as a UTF-8 client puts them on the wire (the server reads bytes as Latin-1).
    fc.constantFrom("fuzz-agent\u00e9", asWireBytes("fuzz-agent\u015b"), "zz-unregistered", "a".repeat(64)).map((ns) =>
      signerIs(`signed consistently for namespace ${JSON.stringify(ns.slice(0, 20))}`, "stranger", (d) => {
        const seed = ed25519.utils.randomSecretKey();
        const certificate = buildAgentCertificate({ namespace: ns, seed32: seed, issuedAt: new Date() });
        d.signer = { seed, publicKey: certificate.publicKey, certificate };
      }),
    ),
    // Subjects: Latin-1 and long ones, signed again.
    fc.constantFrom("d\u00e9v@fuzz.example", asWireBytes("d\u00e9v\ud83d\ude00@fuzz.example"), "\u00ff", "a b", "x".repeat(256)).map((s) => expecting(`subject ${JSON.stringify(s.slice(0, 12))}`, OK, (d) => void (d.subject = s))),
    fc.constantFrom(257, 4000).map((n) => expecting(`subject of ${n} characters`, ["SIGNATURE_INVALID"], (d) => void (d.subject = "s".repeat(n)))),
    // Nonces, signed again.
    // Spent by a good request just before the case (prepare): a nonce spent at seeding expires after 600 s, and a long run outlives it.
    fc.constant(expecting("a nonce already spent", ["SIGNATURE_NONCE_REPLAY"], (d, f) => {
      d.nonce = `fuzz-replayed-${randomUUID()}`;
      d.prepare = () => f.spend(d.nonce);
    })),
    fc.constantFrom("n\u00e9", "'; DROP TABLE signature_nonces; --", "n".repeat(256)).map((n) => expecting(`nonce ${JSON.stringify(n.slice(0, 12))}`, OK, (d) => void (d.nonce = `${n.slice(0, 200)}${randomUUID()}`.slice(0, 256)))),
    fc.constant(expecting("a nonce of 257 characters", ["SIGNATURE_INVALID"], (d) => void (d.nonce = "n".repeat(257)))),
    // 7. The body's digest.
    // Without a body (GET), a content-digest is refused as a component the set does not have; a GET's body is never read.
    fc.constantFrom<[string, (d: Draft) => void, string[]]>(
      ["a wrong content-digest", (d) => d.headerEdits.push((h) => void (h["content-digest"] = contentDigest(utf8("other")))), ["SIGNATURE_COMPONENTS_INVALID"]],
      ["content-digest sha-512", (d) => d.headerEdits.push((h) => void (h["content-digest"] = `sha-512=:${toBase64(new Uint8Array(64))}:`)), ["SIGNATURE_COMPONENTS_INVALID"]],
      ["content-digest missing", (d) => d.headerEdits.push((h) => void delete h["content-digest"]), OK],
      ["the body changed after signing", (d) => void (d.bodyAfterSigning = (b) => `${b} `), OK],
    ).map(([name, edit, withoutBody]) => ({
      name,
      apply: (d: Draft) => {
        edit(d);
        d.expected = d.body === null ? withoutBody : ["SIGNATURE_DIGEST_MISMATCH"];
      },
    })),
    // 8. What the signature covers: URL and method.
    fc.constantFrom<[string, (d: Draft, f: SigilumFixture) => void]>(
      ["signed for another path", (d, f) => void (d.signedUrl = `${f.publicUrl}${d.path}x`)],
      ["signed for another origin", (d) => void (d.signedUrl = `http://vault.fuzz.invalid${d.path}`)],
      ["signed without the query", (d, f) => void (d.signedUrl = `${f.publicUrl}${d.path.split("?")[0]}?`)],
      ["signed for another method", (d) => void (d.signedMethod = d.method === "GET" ? "HEAD" : "PUT")],
    ).map(([name, edit]) => expecting(name, ["SIGNATURE_INVALID"], edit)),
    // Repeated header lines (fetch joins them with ", ").
    fc.constantFrom("sigilum-namespace", "sigilum-agent-key", "sigilum-agent-cert", "signature", "signature-input", "sigilum-subject").map((name) =>
      expecting(`${name} sent twice`, ["SIGNATURE_INVALID"], (d) => d.headerEdits.push(editHeader(name, (v) => [v, v]))),
    ),
  );
}

/** The UTF-8 bytes of `text` as the Latin-1 string a Node server reads them as. */
function asWireBytes(text: string): string {
  return Buffer.from(text, "utf8").toString("latin1");
}

/** Body bindings of the routes that take one: the answers come after a good signature (its nonce is spent). */
function bodyScenarios(target: SigilumTarget): fc.Arbitrary<Scenario>[] {
  const edit = (name: string, expected: string[], bodyEdit: (b: Record<string, unknown>, f: SigilumFixture) => void) =>
    fc.constant(expecting(name, expected, (d, f) => void (d.bodyEdit = (b) => bodyEdit(b, f))));
  if (target.startsWith("request-clearance")) {
    return [
      edit("agent_id the signer's own (its subject)", OK, (b) => void (b.agent_id = "dev@fuzz.example")),
      edit("agent_id of another agent", ["AGENT_ID_MISMATCH"], (b) => void (b.agent_id = "someone-else")),
    ];
  }
  if (target === "verify") {
    // The query is signed (it is part of @target-uri), so a hostile value reaches the claim lookup.
    const q = (f: SigilumFixture, over: Record<string, string>) => {
      const params = { namespace: f.namespace, public_key: f.bot.publicKey, service: f.service, ...over };
      return `/v1/verify?${Object.entries(params).map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&")}`;
    };
    return [
      fc.constantFrom("a\u0000b", "\u0000", "svc-\u00e9", "\ud83d\ude00", "s".repeat(64), "other-svc", "' OR 1=1 --").map((service) =>
        expecting(`service ${JSON.stringify(service.slice(0, 10))}`, [...OK, "VALIDATION_ERROR"], (d, f) => void (d.path = q(f, { service }))),
      ),
      fc.constant(expecting("another agent's key (its claim pending)", OK, (d, f) => void (d.path = q(f, { public_key: f.pendingBot.publicKey })))),
      fc.constant(expecting("another namespace than the signer's", ["SIGNATURE_NAMESPACE_MISMATCH"], (d, f) => void (d.path = q(f, { namespace: "other-ns" })))),
      fc.constant(expecting("a raw lone-surrogate byte sequence in service", [...OK, "VALIDATION_ERROR", "bad_request"], (d, f) => void (d.path = `${q(f, {})}%ED%A0%80`))),
    ];
  }
  if (target === "namespace-claims") {
    return [
      fc.constantFrom("a%00b", "other-svc", "%C3%A9").map((service) => expecting(`service=${service}`, ["FORBIDDEN"], (d) => void (d.path = `/v1/namespaces/claims?service=${service}`))),
      fc.constantFrom("limit=2000&offset=999999999", "offset=0&limit=1", "service=fuzz-svc").map((query) => expecting(query, OK, (d) => void (d.path = `/v1/namespaces/claims?${query}`))),
      fc.constantFrom("limit=2001", "limit=0", "offset=-1", "limit=1e3", "limit=%00").map((query) => expecting(query, ["VALIDATION_ERROR"], (d) => void (d.path = `/v1/namespaces/claims?${query}`))),
    ];
  }
  if (target !== "claims") return [];
  return [
    edit("claim for another service than the key's", ["FORBIDDEN"], (b) => void (b.service = "other-svc")),
    edit("claim for another namespace than the signer's", ["SIGNATURE_NAMESPACE_MISMATCH"], (b) => void (b.namespace = "other-ns")),
    edit("claim for another key than the signer's", ["SIGNATURE_KEY_MISMATCH"], (b, f) => void (b.public_key = f.pendingBot.publicKey)),
    edit("claim body with a NUL in agent_ip", ["VALIDATION_ERROR"], (b) => void (b.agent_ip = "203.0.113.7\u0000")),
    // The claim's own nonce (reference §7), spent by an earlier good claim just before the case.
    fc.constant(expecting("claim nonce already used", ["NONCE_REPLAY"], (d, f) => {
      const claimNonce = `fuzz-claim-replayed-${randomUUID()}`;
      d.bodyEdit = (b) => void (b.nonce = claimNonce);
      d.prepare = () => f.spendClaimNonce(claimNonce);
    })),
  ];
}

function flip(bytes: Uint8Array, n: number): Uint8Array {
  const copy = new Uint8Array(bytes);
  copy[n % copy.length]! ^= 1 << (n % 8);
  return copy;
}

function reencode(header: string, edit: (c: Record<string, unknown>) => Record<string, unknown>): string {
  const cert = JSON.parse(Buffer.from(header, "base64url").toString("utf8")) as Record<string, unknown>;
  return toBase64Url(utf8(JSON.stringify(edit(cert))));
}

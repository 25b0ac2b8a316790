/**
 * Issue 16's StepAuth cases for the fuzz suite: signed envelopes that reach past validation. Each case
 * starts from a valid message of a registered SP (signed with the protocol functions, as
 * test/helpers/stepauth-sp.ts does), then takes one targeted mutation whose answer the reference
 * (../shared/reference/stepauth-protocol.md §1, §3, §4, §7, §8) fixes, so the suite checks the code,
 * not only "no 5xx". A payload mutation is signed again (so it reaches the field checks); an envelope
 * mutation is made after signing. Some cases add generic tree mutations on top (no expected code then).
 *
 * Everything time-bound (timestamps, fresh requestIds) is made when fast-check maps the case, just
 * before it is sent, so a long run or a shrink never sends a stale message.
 */
import { randomUUID } from "node:crypto";
import { ed25519 } from "@noble/curves/ed25519.js";
import fc from "fast-check";
import { fromBase64Strict, toBase64 } from "../../src/protocols/encoding.js";
import { signEnvelope } from "../../src/protocols/stepauth/envelope.js";
import { generateHybridKeyset, publicKeysetOf } from "../../src/protocols/stepauth/keyset.js";
import type { PrivateKeyset } from "../../src/protocols/stepauth/keyset.js";
import { percentEncode, segment } from "./fuzz-endpoints.js";
import { mutationArb, render, repeatedKey, toRaw, type Mutation } from "./fuzz-raw-json.js";
import { malformedBase64, OK, resize, scenariosOf, type Draft, type EnvelopeObject, type Json } from "./fuzz-stepauth-mutations.js";
import type { FuzzRequest } from "./fuzz-vault.js";
import { rfc3339, type TestSp } from "./stepauth-sp.js";

/** What the fuzz vault holds for StepAuth (seeded in fuzz-seed-protocols.ts). */
export interface StepAuthFixture {
  tenantId: string;
  /** Shared with KnownIds: an accepted PUT /stepauth/hub changes it. */
  hub: { entity: string };
  /** Hybrid keyset; callback pattern CALLBACK_PATTERN. */
  sp: TestSp;
  /** A seed-era sender: one Ed25519 key. */
  legacySp: TestSp;
  /** Never registered. */
  stranger: TestSp;
  /** Submitted by `sp` and undecided when seeded (cases may cancel them). */
  pendingRequestIds: string[];
  /** Submitted by `sp` and cancelled (decided denied) when seeded. */
  decidedRequestId: string;
  /** Approvers the tenant has (a reviewer's email, its group, a policy), and ones it has not. */
  knownApprovers: string[];
}

/** Loopback port 9 (discard, closed): a matching callback is accepted and its delivery fails locally. */
export const CALLBACK_PATTERN = "http://127.0.0.1:9/cb/*";

export type StepAuthKind = "submit" | "cancel" | "poll" | "users" | "groups" | "policies";
export const stepAuthKinds: StepAuthKind[] = ["submit", "cancel", "poll", "users", "groups", "policies"];

// ---------------------------------------------------------------------------------------------

function basePayload(d: Draft, f: StepAuthFixture, target: string): Json {
  const now = Date.now();
  const timestamp = rfc3339(now);
  if (d.kind === "submit") {
    return {
      requestId: `req_fuzz_${randomUUID()}`,
      senderId: f.sp.entity,
      recipientId: f.hub.entity,
      timestamp,
      expiresAt: rfc3339(now + 30 * 60_000),
      principal: { subject: "email:pat@customer.example", attributes: [{ key: "role", label: "Role", value: "support" }] },
      action: {
        type: "payments.refund",
        category: "financial.transfer",
        name: "Refund order 1042",
        summary: "Refund $50 to the customer of order 1042",
        details: [{ key: "amount", label: "Amount", value: "50" }, { key: "order", label: "Order", value: [{ key: "id", label: "Order id", value: "1042" }] }],
        target: { id: "order-1042", kind: "order" },
      },
    };
  }
  if (d.kind === "cancel") return { requestId: target, spId: f.sp.entity, timestamp };
  return { senderId: f.sp.entity, recipientId: f.hub.entity, requestUri: d.url, timestamp };
}

/** The request a kind's case addresses, and what a valid message about it is answered. */
function targetArb(kind: StepAuthKind, f: StepAuthFixture): fc.Arbitrary<{ id: string; ok: string[] }> {
  if (kind === "cancel") {
    return fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...f.pendingRequestIds).map((id) => ({ id, ok: [...OK, "already_decided"] })) },
      fc.constant<{ id: string; ok: string[] }>({ id: f.decidedRequestId, ok: ["already_decided"] }),
      fc.constantFrom("req_never_submitted", " ").map((id) => ({ id, ok: ["request_not_found"] })),
    );
  }
  if (kind === "poll") {
    return fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...f.pendingRequestIds, f.decidedRequestId).map((id) => ({ id: percentEncode(id), ok: OK })) },
      // No submit can have stored these ids (a NUL, non-ASCII, '#'): not found, never the database's refusal of the lookup.
      fc.constantFrom("req_never_submitted", "req%20x", "%C3%A9", "%00", "req%00x", "x%23y").map((id) => ({ id, ok: ["request_not_found"] })),
      segment().map((id) => ({ id, ok: [] })),
    );
  }
  return fc.constant({ id: "", ok: OK });
}

const pathOf = (kind: StepAuthKind, tenant: string, target: string) => {
  const base = `/stepauth/${tenant}/v1`;
  if (kind === "submit") return `${base}/authorization-requests`;
  if (kind === "cancel") return `${base}/authorization-requests/cancel`;
  if (kind === "poll") return `${base}/authorization-requests/${target}/decision`;
  return `${base}/${kind}`;
};


/** Mostly the real tenant; an unknown one is 404 not_found, a garbage segment anything but a 5xx. */
const tenantArb = (f: StepAuthFixture) =>
  fc.oneof(
    { weight: 12, arbitrary: fc.constant({ tenant: f.tenantId, expected: undefined as string[] | undefined }) },
    fc.constant({ tenant: "t_00000000000000000000", expected: ["not_found"] as string[] | undefined }),
    segment().map((tenant) => ({ tenant, expected: [] as string[] })),
  );

export function stepAuthCaseArb(kind: StepAuthKind, f: StepAuthFixture): fc.Arbitrary<FuzzRequest> {
  return fc
    .record({
      tenant: tenantArb(f),
      target: targetArb(kind, f),
      scenario: scenariosOf(kind),
      // A fifth of the cases also get generic tree mutations of the signed payload: no code is expected then.
      generic: fc.oneof({ weight: 4, arbitrary: fc.constant<Mutation[]>([]) }, fc.array(mutationArb, { minLength: 1, maxLength: 2 })),
      contentType: fc.constantFrom("application/json", "application/json", "application/json", undefined, "text/plain", "application/octet-stream"),
    })
    .map(({ tenant, target, scenario, generic, contentType }) => {
      const url = pathOf(kind, tenant.tenant, target.id);
      const d: Draft = { kind, url, payload: {}, rawEdits: [], signer: f.sp, envelopeEdits: [], envelopeRawEdits: [] };
      d.payload = basePayload(d, f, target.id);
      scenario.apply(d, f);
      let tree = toRaw(d.payload);
      for (const edit of d.rawEdits) tree = edit(tree);
      tree = generic.reduce((t, m) => m.apply(t), tree);
      const envelope = signEnvelope(Buffer.from(render(tree), "utf8"), d.signer.keyset) as unknown as EnvelopeObject;
      for (const edit of d.envelopeEdits) edit(envelope);
      let envelopeTree = toRaw(envelope);
      for (const edit of d.envelopeRawEdits) envelopeTree = edit(envelopeTree);
      const text = render(envelopeTree);
      // A valid message's answer depends on its target (pending, decided, unknown); an invalid one's does not.
      let expected = d.expected && d.expected === OK ? target.ok : d.expected;
      // A garbage path segment (a requestId or tenant) may be refused by the router before any StepAuth check.
      if (generic.length > 0 || tenant.expected?.length === 0 || target.ok.length === 0) expected = undefined;
      else if (tenant.expected && !expected?.includes("payload_too_large")) expected = tenant.expected;
      const request: FuzzRequest = {
        endpoint: `POST ${pathOf(kind, ":tenant", kind === "poll" ? ":requestId" : "")} (signed envelope)`,
        method: "POST",
        url: d.url,
        headers: contentType === undefined ? {} : { "content-type": contentType },
        body: d.bytes ? d.bytes(text) : Buffer.from(text, "utf8"),
        mutations: [scenario.name, ...generic.map((m) => m.name)],
        tables: ["stepauth_requests", "clearance_requests"],
        repeatedKey: repeatedKey(tree) ?? repeatedKey(envelopeTree),
        expected,
        protocol: "stepauth",
      };
      return Object.assign(request, { [fc.toStringMethod]: () => `${request.method} ${request.url} [${scenario.name}; ${request.mutations.slice(1).join("; ")}] expected=${JSON.stringify(expected)} body=${text.slice(0, 300)}` });
    });
}

// ---------------------------------------------------------------------------------------------
// Keysets offered at registration (POST/PATCH /stepauth/senders).

let hybrid: ReturnType<typeof publicKeysetOf> | undefined;
const hybridKeyset = () => (hybrid ??= publicKeysetOf(generateHybridKeyset("ks_fuzz_registration")));

/** A valid hybrid keyset, and the ways it can be wrong: key order, lengths, base64, idx, alg, count, seed-era forms. */
export function keysetValues(): fc.Arbitrary<unknown> {
  // Half valid (a fresh keysetId, or a seed-era key), so registrations are also accepted.
  const valid = fc.nat().map((n) => (n % 3 === 2 ? { keyId: `legacy-${n}`, publicKey: hybridKeyset().keys[0]!.pub } : { ...structuredClone(hybridKeyset()), keysetId: `ks_${n}` }));
  return fc.oneof(valid, someKeyset());
}

function someKeyset(): fc.Arbitrary<unknown> {
  return fc.nat().chain((n) => {
    const k = structuredClone(hybridKeyset());
    const ed = k.keys[0]!.pub;
    const variants: unknown[] = [
      k,
      { ...k, keysetId: `ks_${n}` },
      { ...k, keys: [...k.keys].reverse() },
      { ...k, keys: [{ ...k.keys[1]!, idx: 0 }, { ...k.keys[0]!, idx: 1 }] },
      { ...k, keys: [k.keys[0]] },
      { ...k, keys: [...k.keys, k.keys[0]] },
      { ...k, keys: [{ ...k.keys[0]!, pub: resize(ed, -1) }, k.keys[1]] },
      { ...k, keys: [k.keys[0], { ...k.keys[1]!, pub: resize(k.keys[1]!.pub, 1) }] },
      { ...k, keys: [{ ...k.keys[0]!, pub: malformedBase64(ed, n) }, k.keys[1]] },
      { ...k, keys: [{ ...k.keys[0]!, alg: "Ed25519" }, k.keys[1]] },
      { ...k, keys: [{ ...k.keys[0]!, idx: "0" }, k.keys[1]] },
      { ...k, keysetId: "" },
      { ...k, keysetId: "ks_\u00e9" },
      { keyId: `legacy-${n}`, publicKey: ed },
      { keyId: `legacy-${n}`, publicKey: toBase64(new Uint8Array([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00, ...fromBase64Strict(ed)!])) },
      { keyId: "legacy", publicKey: toBase64(new Uint8Array(32)) },
      { keyId: "legacy", publicKey: resize(ed, 1) },
      { keyId: "", publicKey: ed },
      { keyId: "legacy" },
      null,
      "ks",
      [],
    ];
    return fc.constant(variants[n % variants.length]);
  });
}

/** The private keyset of a seed-era sender: one Ed25519 key, its keyId as the keysetId. */
export function legacyKeyset(keyId: string): PrivateKeyset {
  const seed = ed25519.utils.randomSecretKey();
  return { keysetId: keyId, keys: [{ alg: "ed25519", secretKey: seed, publicKey: ed25519.getPublicKey(seed) }] };
}

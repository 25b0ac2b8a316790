/**
 * Unit checks of the interop SP itself (no vault): the worked requestDigest example of reference §5 as a
 * vector, and the SP's decision verification against a stand-in hub keyset, so that a lenient verifier
 * cannot make the interop tests pass. Written from ../shared/reference/stepauth-protocol.md ONLY; this
 * folder MUST NOT import server modules (nothing under src/).
 */
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { digestOf, utf8, verifyDecision, type HubMetadata } from "./sp-client.js";
import { envelopeText, hybridSigner, seedEraSigner, strictB64, verifyEnvelope } from "./sp-keys.js";

const WORKED_P =
  '{"requestId":"req_1","senderId":"sp.example.com","recipientId":"hub.example.com","timestamp":"2026-01-01T00:00:00Z","expiresAt":"2026-01-01T00:30:00Z","principal":{"subject":"email:a@b.com"},"action":{"type":"sp.example.deploy","category":"code.deploy","summary":"Deploy the payments service"}}';

describe("reference §5 worked requestDigest example", () => {
  it("is 294 bytes and digests to the published value", () => {
    expect(utf8(WORKED_P).length).toBe(294);
    expect(digestOf(utf8(WORKED_P))).toBe("GINWmDZPJBEmPJGkzAABL81UE0jKEVbBSCbOzTZsxzk=");
  });
});

describe("the SP's decision verification (reference §5 order)", () => {
  const hubSigner = hybridSigner("ks_hub_1");
  const hub: HubMetadata = { entity: "hub.example.com", keysets: [hubSigner.keyset], host: "https://hub.example.com/stepauth/acme" };
  const requestBytes = utf8(WORKED_P);
  const decision = (over: Record<string, unknown> = {}) => ({
    requestId: "req_1",
    senderId: "hub.example.com",
    recipientId: "sp.example.com",
    decision: "approved",
    decidedAt: "2026-01-01T00:05:00Z",
    decidedBy: ["email:approver@example.com"],
    requestDigest: { algorithm: "sha256", value: digestOf(requestBytes) },
    ...over,
  });
  const check = (body: string) => verifyDecision(body, { hub, spEntity: "sp.example.com", requestBytes: (id) => (id === "req_1" ? requestBytes : undefined) });
  const signed = (over: Record<string, unknown> = {}) => envelopeText(utf8(JSON.stringify(decision(over))), hubSigner);

  it("accepts a well-formed hybrid-signed decision", () => {
    const r = check(signed());
    expect(r.ok, JSON.stringify(r)).toBe(true);
  });

  it("rejects each broken step with its own reason", () => {
    expect(check(signed({ senderId: "other.hub" }))).toMatchObject({ ok: false, reason: expect.stringMatching(/^senderId/) });
    expect(check(signed({ recipientId: "other.sp" }))).toMatchObject({ ok: false, reason: expect.stringMatching(/^recipientId/) });
    expect(check(signed({ requestDigest: { algorithm: "sha512", value: digestOf(requestBytes) } }))).toMatchObject({ ok: false, reason: expect.stringMatching(/algorithm/) });
    expect(check(signed({ requestDigest: { algorithm: "sha256", value: digestOf(utf8(WORKED_P + " ")) } }))).toMatchObject({ ok: false, reason: expect.stringMatching(/does not match/) });
    expect(check(signed({ decision: "expired" }))).toMatchObject({ ok: false, reason: expect.stringMatching(/neither/) });
    expect(check(signed({ requestId: "req_2" }))).toMatchObject({ ok: false, reason: expect.stringMatching(/no request/) });
  });

  it("is all-of: one bad component, a swapped keyset, a missing signature or another signer all fail", () => {
    const env = JSON.parse(signed());
    const flip = (s: string) => { const b = strictB64(s)!; b[0]! ^= 1; return b.toString("base64"); };
    for (const i of [0, 1]) {
      const bad = structuredClone(env);
      bad.signature.signatures[i] = flip(bad.signature.signatures[i]);
      expect(check(JSON.stringify(bad)).ok).toBe(false);
    }
    const short = structuredClone(env);
    short.signature.signatures.pop();
    expect(check(JSON.stringify(short)).ok).toBe(false);
    const swapped = { ...hubSigner.keyset, keys: [{ ...hubSigner.keyset.keys[1]!, idx: 0 }, { ...hubSigner.keyset.keys[0]!, idx: 1 }] };
    expect(verifyEnvelope(signed(), [swapped]).ok).toBe(false);
    expect(check(envelopeText(utf8(JSON.stringify(decision())), hybridSigner("ks_hub_1"))).ok).toBe(false);
    expect(check(envelopeText(utf8(JSON.stringify(decision())), seedEraSigner("ks_hub_1"))).ok).toBe(false);
  });

  it("verifies the payload bytes as sent, never a re-serialisation", () => {
    const spaced = utf8(JSON.stringify(decision(), null, 2));
    const r = verifyEnvelope(envelopeText(spaced, hubSigner), hub.keysets);
    expect(r.ok && r.payload.equals(spaced)).toBe(true);
    expect(strictB64("YQ")).toBeNull();
    expect(strictB64("YR==")).toBeNull();
    expect(strictB64("YQ==")?.toString()).toBe("a");
  });
});

describe("this folder stays independent of the server", () => {
  it("imports nothing under src/: only node:, @noble/post-quantum, vitest, its own files and the vault starter", () => {
    for (const name of readdirSync(import.meta.dirname).filter((f) => f.endsWith(".ts"))) {
      const source = readFileSync(`${import.meta.dirname}/${name}`, "utf8");
      const specifiers = [...source.matchAll(/\bfrom\s+"([^"]+)"|\bimport\(\s*"([^"]+)"\s*\)/g)].map((m) => m[1] ?? m[2]);
      expect(specifiers.length, name).toBeGreaterThan(0);
      for (const spec of specifiers) {
        expect(spec, `${name} imports ${spec}`).toMatch(/^(node:[a-z/]+|@noble\/post-quantum\/ml-dsa\.js|vitest|\.\/[\w-]+\.js|\.\.\/\.\.\/helpers\/vault\.js)$/);
      }
      expect(source, name).toMatch(/MUST NOT import server modules/);
    }
  });
});

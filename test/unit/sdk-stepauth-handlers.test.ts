import { describe, expect, it } from "vitest";
import { utf8 } from "../../src/protocols/encoding.js";
import {
  encodeDecision,
  encodeEnvelope,
  evaluateRouting,
  firstValidDecision,
  generateHybridKeyset,
  publicKeysetOf,
  requestDigest,
  signEnvelope,
  stepAuthCallbackHandler,
  StepAuthError,
  type Decision,
  type RoutingRequest,
} from "../../src/sdk/index.js";

/** The SDK's SP-side helpers that need no network: the callback handler, routing, first valid decision. */
const hubKeys = generateHybridKeyset("ks_hub");
const hub = { entity: "hub.example.com", keysets: [publicKeysetOf(hubKeys)] };
const requestBytes = utf8('{"requestId":"req_1","senderId":"sp.example.com"}');
const decision = (over: Partial<Decision> = {}): Decision => ({
  requestId: "req_1",
  senderId: "hub.example.com",
  recipientId: "sp.example.com",
  decision: "approved",
  decidedAt: "2026-01-01T00:00:00Z",
  decidedBy: ["policy:auto-approve-read"],
  requestDigest: { algorithm: "sha256", value: requestDigest(requestBytes) },
  ...over,
});
const envelopeOf = (d: Decision, keys = hubKeys) => encodeEnvelope(signEnvelope(encodeDecision(d), keys));

describe("stepAuthCallbackHandler", () => {
  const seen: Decision[] = [];
  const handler = stepAuthCallbackHandler({
    hub,
    spEntity: "sp.example.com",
    requestBytesFor: (id) => (id === "req_1" ? requestBytes : null),
    onDecision: (d) => {
      seen.push(d);
      if (d.decision === "denied") return { status: "error", error: "not executed: denied" };
    },
  });

  it("verifies, calls onDecision once, and answers the ExecutionResult", async () => {
    const answer = await handler(envelopeOf(decision()));
    expect(answer).toEqual({ status: 200, body: JSON.stringify({ requestId: "req_1", status: "success" }) });
    expect(seen.at(-1)).toEqual(decision());
    expect(await handler(utf8(envelopeOf(decision({ decision: "denied" }))))).toEqual({ status: 200, body: '{"requestId":"req_1","status":"error","error":"not executed: denied"}' });
  });

  it("refuses without calling onDecision: malformed, forged, unknown request, wrong digest / sender / recipient", async () => {
    const count = seen.length;
    const status = async (body: string) => (await handler(body)).status;
    expect(await status("not json")).toBe(400);
    expect(await status(envelopeOf(decision(), generateHybridKeyset("ks_hub")))).toBe(401);
    expect(await status(envelopeOf(decision({ requestId: "req_other" })))).toBe(404);
    expect(await status(envelopeOf(decision({ requestDigest: { algorithm: "sha256", value: requestDigest(utf8("other")) } })))).toBe(403);
    expect(await status(envelopeOf(decision({ senderId: "evil" })))).toBe(403);
    expect(await status(envelopeOf(decision({ recipientId: "other-sp" })))).toBe(403);
    expect(JSON.parse((await handler(envelopeOf(decision({ senderId: "evil" })))).body)).toMatchObject({ error: "invalid_decision" });
    expect(seen.length).toBe(count);
  });

  it("answers 500 when onDecision or the lookup throws, so the hub delivers again, and never rejects", async () => {
    const failing = stepAuthCallbackHandler({ hub, spEntity: "sp.example.com", requestBytesFor: async () => requestBytes, onDecision: async () => Promise.reject(new Error("db down")) });
    expect((await failing(envelopeOf(decision()))).status).toBe(500);
    const lookupFails = stepAuthCallbackHandler({ hub, spEntity: "sp.example.com", requestBytesFor: () => { throw new Error("db down"); }, onDecision: () => undefined });
    expect((await lookupFails(envelopeOf(decision()))).status).toBe(500);
    expect((await lookupFails(42 as unknown as string)).status).toBe(400);
  });
});

describe("evaluateRouting (reference §9)", () => {
  const authorizers = [{ name: "countersign", isDefault: true }, { name: "backup" }, { name: "security" }];
  const request: RoutingRequest = {
    principal: { subject: "email:dev@sp.example.com", attributes: [{ key: "team", label: "Team", value: "payments" }], operator: { subject: "persistent:bot-1" } },
    action: { type: "deploy", category: "code.deploy", summary: "Deploy", details: [{ key: "device", label: "Device", value: [{ key: "serial", label: "Serial", value: "X1" }] }] },
  };
  const route = (script?: string, config: Record<string, unknown> = {}) => evaluateRouting({ script, request, config, authorizers });

  it("sends to all without a script, and to the names a script returns (flattened request, config)", () => {
    expect(route()).toEqual({ kind: "send", authorizers: ["countersign", "backup", "security"], fellBack: false });
    expect(route('request.action.details.device.serial == "X1" ? ["security", "backup", "security"] : ["backup"]')).toEqual({ kind: "send", authorizers: ["security", "backup"], fellBack: false });
    expect(route('request.principal.attributes.team == config.team && request.principal.operator.subject.startsWith("persistent:") ? ["backup"] : []', { team: "payments" })).toEqual({ kind: "send", authorizers: ["backup"], fellBack: false });
  });

  it("decides at once with exactly [$approve] or [$deny]", () => {
    expect(route('request.action.category == "code.deploy" ? ["$approve"] : ["countersign"]')).toEqual({ kind: "approve" });
    expect(route('["$deny"]')).toEqual({ kind: "deny" });
  });

  it("falls back to the default authorizer on errors, empty lists, unknown or $ names, and non-lists", () => {
    for (const script of ['request.action.details.nope.x == "1" ? ["backup"] : []', "[]", '["nobody"]', '["$approve", "backup"]', '["$other"]', '"backup"', "[1]", "1 +", "x".repeat(9000)]) {
      const r = route(script);
      expect(r, script.slice(0, 40)).toMatchObject({ kind: "send", authorizers: ["countersign"], fellBack: true });
      expect((r as { reason?: string }).reason).toBeTruthy();
    }
  });

  it("throws on a configuration that has no well-defined fallback", () => {
    const bad = (list: { name: string; isDefault?: boolean }[]) => () => evaluateRouting({ request, authorizers: list });
    expect(bad([])).toThrow(StepAuthError);
    expect(bad([{ name: "a" }, { name: "b" }])).toThrow(/default/);
    expect(bad([{ name: "a", isDefault: true }, { name: "b", isDefault: true }])).toThrow(/default/);
    expect(bad([{ name: "$a", isDefault: true }])).toThrow(/\$/);
    expect(bad([{ name: "a", isDefault: true }, { name: "a" }])).toThrow(/unique/);
  });
});

describe("firstValidDecision", () => {
  const other = generateHybridKeyset("ks_other");
  const otherHub = { entity: "other-hub", keysets: [publicKeysetOf(other)] };
  const otherBytes = utf8('{"requestId":"req_1","recipientId":"other-hub"}');
  const otherDecision = decision({ senderId: "other-hub", decision: "denied", requestDigest: { algorithm: "sha256", value: requestDigest(otherBytes) } });
  const later = <T,>(ms: number, v: T) => new Promise<T>((r) => setTimeout(() => r(v), ms));

  it("takes the first envelope that verifies, skipping invalid and failed ones", async () => {
    // Signed before the race starts: signing takes milliseconds and would skew the timers.
    const [forged, fromB, fromC] = [envelopeOf(decision(), other), envelopeOf(otherDecision, other), envelopeOf(decision())];
    const won = await firstValidDecision(
      [
        { authorizer: "a", hub, requestBytes, envelope: forged },
        { authorizer: "b", hub: otherHub, requestBytes: otherBytes, envelope: later(300, fromB) },
        { authorizer: "c", hub, requestBytes, envelope: later(5, fromC) },
        { authorizer: "d", hub, requestBytes, envelope: Promise.reject(new Error("timeout")) },
      ],
      "sp.example.com",
    );
    expect(won).toMatchObject({ authorizer: "c", decision: { decision: "approved" } });
    expect(await firstValidDecision([{ authorizer: "b", hub: otherHub, requestBytes: otherBytes, envelope: fromB }], "sp.example.com")).toMatchObject({ authorizer: "b", decision: { decision: "denied" } });
  });

  it("is null when none verifies", async () => {
    expect(await firstValidDecision([], "sp.example.com")).toBeNull();
    expect(await firstValidDecision([{ authorizer: "a", hub, requestBytes: otherBytes, envelope: envelopeOf(decision()) }], "sp.example.com")).toBeNull();
  });
});

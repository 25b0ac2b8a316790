import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { requestDigest } from "../../src/protocols/stepauth/decision.js";
import { generateHybridKeyset, publicKeysetOf } from "../../src/protocols/stepauth/keyset.js";
import { StepAuthClient, StepAuthError, type SubmitInput } from "../../src/sdk/index.js";
import { startFakeHub, type FakeHub } from "./sdk-stepauth-hub.js";

/** The SDK's StepAuth client against a small in-test hub (node:http) that runs the reference's checks. */
const sp = generateHybridKeyset("ks_sp");
let hub: FakeHub;
const input: SubmitInput = {
  principal: { subject: "email:dev@sp.example.com", attributes: [{ key: "team", label: "Team", value: "payments" }] },
  action: { type: "sp.deploy", category: "code.deploy", summary: "Deploy payments v42", details: [{ key: "version", label: "Version", value: "42" }] },
};
const client = (extra: Partial<ConstructorParameters<typeof StepAuthClient>[0]> = {}) =>
  new StepAuthClient({ host: hub.host, senderId: "sp.example.com", keyset: sp, backoffMs: 5, ...extra });
const code = async (p: Promise<unknown>) => p.then(() => "resolved", (e: unknown) => (e instanceof StepAuthError ? e.code : `other: ${String(e)}`));

beforeAll(async () => {
  hub = await startFakeHub({ "sp.example.com": [publicKeysetOf(sp)] });
});
afterAll(async () => hub.close());
beforeEach(() => {
  hub.intercept = undefined;
  for (const k of Object.keys(hub.bodies)) hub.bodies[k] = [];
});

describe("StepAuthClient", () => {
  it("reads the hub's metadata and refuses unusable keysets", async () => {
    const meta = await client().metadata();
    expect(meta).toEqual({ entity: "hub.example.com", keysets: [publicKeysetOf(hub.keyset)], host: hub.host });
    hub.intercept = (route, _req, res) => {
      if (route !== "metadata") return false;
      res.end(JSON.stringify({ entity: "hub", keysets: [{ keysetId: "k", keys: [...publicKeysetOf(hub.keyset).keys].reverse() }] }));
      return true;
    };
    expect(await code(client().metadata())).toBe("invalid_response");
  });

  it("submits with the defaults (req_ + 32 hex, whole-second Z timestamp, +30 min) and the hub verifies and stores the exact bytes", async () => {
    const before = Math.floor(Date.now() / 1000) * 1000;
    const r = await client().submit(input);
    expect(r.requestId).toMatch(/^req_[0-9a-f]{32}$/);
    expect(r.response).toMatchObject({ requestId: r.requestId, status: "pending" });
    expect(r.hubEntity).toBe("hub.example.com");
    const sent = JSON.parse(new TextDecoder().decode(r.requestBytes));
    expect(sent.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Date.parse(sent.timestamp)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(sent.expiresAt) - Date.parse(sent.timestamp)).toBe(30 * 60 * 1000);
    expect(Object.keys(sent)).toEqual(["requestId", "senderId", "recipientId", "timestamp", "expiresAt", "principal", "action"]);
    expect(sent).toMatchObject({ senderId: "sp.example.com", recipientId: "hub.example.com", principal: input.principal, action: input.action });
    expect(hub.stored.get(r.requestId)!.bytes).toEqual(r.requestBytes);
  });

  it("checks the request locally with the hub's rules before sending anything", async () => {
    const bad = { ...input, action: { ...input.action, category: "code.ship" } };
    const err = await client().submit(bad).catch((e: StepAuthError) => e);
    expect(err).toMatchObject({ code: "unknown_category", status: 400, retryable: false });
    expect(await code(client().submit({ ...input, principal: { subject: "group:devs" } }))).toBe("malformed_request");
    expect(await code(client().submit({ ...input, callbackUrl: "http://sp.example.com/cb" }))).toBe("invalid_callback_url");
    expect(hub.bodies.submit).toHaveLength(0);
  });

  it("retries 5xx with the same frozen bytes, and takes 409 duplicate_request on a retry as already submitted", async () => {
    let calls = 0;
    hub.intercept = (route, _req, res) => {
      if (route !== "submit" || ++calls !== 1) return false;
      res.writeHead(503, { "retry-after": "1" }).end(JSON.stringify({ error: "overloaded", message: "try later" }));
      return true;
    };
    const r = await client().submit(input);
    expect(hub.bodies.submit).toHaveLength(2);
    expect(hub.bodies.submit[0]).toBe(hub.bodies.submit[1]);
    expect(r.response.alreadySubmitted).toBeUndefined();

    // The hub stores the request, then its answer is lost (the socket dies instead): the retry of the
    // same bytes is a duplicate, which the client reads as "already submitted".
    hub.bodies.submit = [];
    let answered = 0;
    hub.intercept = (route, req, res) => {
      if (route === "submit" && ++answered === 1) res.end = (() => (req.socket.destroy(), res)) as typeof res.end;
      return false; // the real handler runs (and stores) either way
    };
    const again = await client().submit(input);
    expect(hub.bodies.submit).toHaveLength(2);
    expect(hub.bodies.submit[0]).toBe(hub.bodies.submit[1]);
    expect(again.response).toEqual({ requestId: again.requestId, status: "pending", alreadySubmitted: true });
    expect(hub.stored.has(again.requestId)).toBe(true);
  });

  it("never retries a 4xx (429 included); a 409 on the first attempt is a real duplicate; a non-JSON error is internal_error", async () => {
    const first = await client().submit(input);
    const dup = await client().submit({ ...input, requestId: first.requestId }).catch((e: StepAuthError) => e);
    expect(dup).toMatchObject({ code: "duplicate_request", status: 409, retryable: false });
    expect((dup as StepAuthError).requestBytes).toBeInstanceOf(Uint8Array);
    for (const [status, body, want] of [
      [429, '{"error":"rate_limited","message":"slow down"}', "rate_limited"],
      [400, "<html>bad</html>", "internal_error"],
      [401, '{"type":"about:blank","code":"unknown_sender","detail":"who?"}', "unknown_sender"],
    ] as const) {
      hub.bodies.submit = [];
      hub.intercept = (route, _req, res) => (route === "submit" ? (res.writeHead(status).end(body), true) : false);
      const err = await client().submit(input).catch((e: StepAuthError) => e);
      expect(err).toMatchObject({ code: want, status, retryable: false });
      expect(hub.bodies.submit).toHaveLength(1);
    }
    hub.bodies.submit = [];
    hub.intercept = (route, _req, res) => (route === "submit" ? (res.writeHead(500).end("{}"), true) : false);
    expect(await code(client({ maxAttempts: 3 }).submit(input))).toBe("internal_error");
    expect(hub.bodies.submit).toHaveLength(3);
  });

  it("does not follow redirects, bounds time and answer size", async () => {
    hub.intercept = (route, _req, res) => (route === "submit" ? (res.writeHead(307, { location: `${hub.url}/elsewhere` }).end(), true) : false);
    expect(await code(client().submit(input))).toBe("redirect");
    expect(hub.bodies["/elsewhere"]).toBeUndefined();
    hub.intercept = (route) => route === "submit"; // never answers
    const slow = await client({ timeoutMs: 200, maxAttempts: 2 }).submit(input).catch((e: StepAuthError) => e);
    expect(slow).toMatchObject({ code: "transport_error", retryable: true });
    expect(hub.bodies.submit.length).toBeGreaterThanOrEqual(2);
    hub.intercept = (route, _req, res) => (route === "metadata" ? (res.end(JSON.stringify({ entity: "x".repeat(2 * 1024 * 1024) })), true) : false);
    expect(await code(client().metadata())).toBe("invalid_response");
  });

  it("polls with a signed query bound to the prefixed path: pending, then the verified decision", async () => {
    const c = client();
    const { requestId } = await c.submit({ ...input, requestId: "order 7/8 ~x" });
    expect(await c.poll(requestId)).toEqual({ status: "pending" });
    const query = JSON.parse(Buffer.from(JSON.parse(hub.bodies.poll[0]!).payload, "base64").toString());
    expect(query).toMatchObject({ senderId: "sp.example.com", recipientId: "hub.example.com", requestUri: "/stepauth/acme/v1/authorization-requests/order%207%2F8%20~x/decision" });
    hub.decide(requestId, "approved");
    const decided = await c.poll(requestId);
    expect(decided).toMatchObject({ status: "decided", decision: { requestId, decision: "approved", decidedBy: ["email:alice@example.com"] } });
    expect(await code(client().poll(requestId))).toBe("request_bytes_unknown"); // a new client has no bytes...
    const bytes = hub.stored.get(requestId)!.bytes;
    expect(await client().poll(requestId, { requestBytes: bytes })).toMatchObject({ status: "decided" }); // ...unless given them
    expect(await code(c.poll("req_unknown", { requestBytes: bytes }))).toBe("request_not_found");
    expect(await code(c.poll(".."))).toBe("request_bytes_unknown");
    expect(await code(c.poll("..", { requestBytes: bytes }))).toBe("invalid_input");
  });

  it("refuses a decision with the wrong digest, sender, recipient or signer (invalid_decision)", async () => {
    const c = client();
    const tampers = [
      (d: import("../../src/sdk/index.js").Decision) => ({ ...d, requestDigest: { algorithm: "sha256" as const, value: requestDigest(new Uint8Array([1])) } }),
      (d: import("../../src/sdk/index.js").Decision) => ({ ...d, senderId: "evil-hub" }),
      (d: import("../../src/sdk/index.js").Decision) => ({ ...d, recipientId: "other-sp" }),
    ];
    for (const tamper of tampers) {
      const { requestId } = await c.submit(input);
      hub.decide(requestId, "approved", tamper);
      expect(await code(c.poll(requestId))).toBe("invalid_decision");
    }
    const { requestId } = await c.submit(input);
    hub.decide(requestId, "approved", undefined, generateHybridKeyset("ks_hub_1"));
    expect(await code(c.poll(requestId))).toBe("invalid_decision");
  });

  it("waits for a decision, waiting out 5xx, and times out with decision_timeout", async () => {
    const c = client();
    const { requestId } = await c.submit(input);
    let polls = 0;
    hub.intercept = (route, _req, res) => {
      if (route !== "poll") return false;
      polls++;
      if (polls === 2) return (res.writeHead(502).end("bad gateway"), true);
      if (polls === 3) hub.decide(requestId, "denied");
      return false;
    };
    const result = await c.waitForDecision(requestId, { intervalMs: 20, timeoutMs: 10_000 });
    expect(result.decision).toMatchObject({ decision: "denied", decidedBy: [] });
    expect(polls).toBe(3);
    const open = await c.submit(input);
    hub.intercept = undefined;
    expect(await code(c.waitForDecision(open.requestId, { intervalMs: 20, timeoutMs: 150 }))).toBe("decision_timeout");
  });

  it("cancels: cancelled before a decision (then the decision is a denial), already_decided after", async () => {
    const c = client();
    const open = await c.submit(input);
    expect(await c.cancel(open.requestId)).toBe("cancelled");
    expect(JSON.parse(Buffer.from(JSON.parse(hub.bodies.cancel[0]!).payload, "base64").toString())).toMatchObject({ requestId: open.requestId, senderId: "sp.example.com", spId: "sp.example.com" });
    expect((await c.poll(open.requestId)) as object).toMatchObject({ status: "decided", decision: { decision: "denied" } });
    expect(await c.cancel(open.requestId)).toBe("already_decided");
    expect(await code(c.cancel("req_never"))).toBe("request_not_found");
  });

  it("lists the hub's directory with a signed query bound to the path, page by page", async () => {
    const c = client();
    const first = await c.listDirectory("users", { limit: 1 });
    expect(first).toEqual({ items: [{ id: "email:alice@example.com", label: "Alice" }], nextCursor: "1" });
    expect(await c.listDirectory("groups", { limit: 1, cursor: first.nextCursor })).toEqual({ items: [{ id: "group:release", count: 3 }] });
    hub.intercept = (route, _req, res) => (route.endsWith("/v1/policies") ? (res.end('{"items":[{"label":"no id"}]}'), true) : false);
    expect(await code(c.listDirectory("policies"))).toBe("invalid_response");
    // Another SP's key cannot read it.
    expect(await code(client({ keyset: generateHybridKeyset("ks_sp") }).listDirectory("users"))).toBe("invalid_signature");
  });

  it("refuses options that cannot work", () => {
    const make = (o: object) => () => new StepAuthClient({ host: hub.host, senderId: "sp.example.com", keyset: sp, ...o });
    expect(make({ host: "http://hub.example.com" })).toThrow(StepAuthError);
    expect(make({ host: "not a url" })).toThrow(/host/);
    expect(make({ senderId: "a#b" })).toThrow(/senderId/);
    expect(make({ keyset: { keysetId: "k", keys: [] } })).toThrow(/keyset/);
  });
});

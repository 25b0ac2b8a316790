/**
 * StepAuth interop: hub metadata (§2), SP keysets (hybrid and seed-era single Ed25519, §1), and the
 * directory of routable approvers (§8) with its requestUri binding.
 * Written from ../shared/reference/stepauth-protocol.md; this folder MUST NOT import server modules (nothing under src/).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../../helpers/vault.js";
import { expectError, HUB_ENTITY, POLICIES, startInterop, TYPES, type Interop } from "./fixture.js";
import { fetchMetadata, SpClient } from "./sp-client.js";
import { hybridSigner, seedEraSigner, strictB64 } from "./sp-keys.js";

describe.each<Engine>(["postgres", "pglite"])("StepAuth metadata, keysets and directory on %s", (engine) => {
  let x: Interop;
  beforeAll(async () => {
    x = await startInterop(engine);
  });
  afterAll(async () => {
    await x?.close();
  });

  it("publishes {entity, keysets, host} unauthenticated, each keyset exactly [ed25519 32 B, ml-dsa-65 1952 B]", async () => {
    const res = await fetchMetadata(x.host);
    expect(res.status, res.text).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.body).toMatchObject({ entity: HUB_ENTITY, host: x.host });
    expect(res.body.keysets.length).toBeGreaterThan(0);
    for (const ks of res.body.keysets) {
      expect(typeof ks.keysetId).toBe("string");
      expect(ks.keys.map((k: { idx: number; alg: string }) => [k.idx, k.alg])).toEqual([[0, "ed25519"], [1, "ml-dsa-65"]]);
      expect(strictB64(ks.keys[0].pub)?.length).toBe(32);
      expect(strictB64(ks.keys[1].pub)?.length).toBe(1952);
    }
    const url = new URL(x.host);
    expect(url.protocol === "https:" || ["localhost", "127.0.0.1"].includes(url.hostname), x.host).toBe(true);
  });

  it("a seed-era SP (one Ed25519 key, SPKI DER) submits and verifies its decision by callback", async () => {
    expect(String((x.seed.signer.registration as { publicKey: string }).publicKey)).toMatch(/^MCowBQYDK2VwAyEA/);
    const res = await x.seed.submit({ callbackUrl: x.seedReceiver.url, action: { type: TYPES.approve, category: "code.deploy", summary: "Deploy" } });
    expect(res.status, res.text).toBe(202);
    const d = await x.seedReceiver.decisionFor(res.requestId);
    expect(d).toMatchObject({ decision: "approved", recipientId: x.seed.senderId, decidedBy: [`policy:${POLICIES.approve}`] });
    // Its envelopes carry one signature; another Ed25519 key under its keyId is refused.
    const impostor = new SpClient(x.host, x.seed.senderId, seedEraSigner(x.seed.signer.keysetId), x.hub.entity);
    expectError(await impostor.submit(), "invalid_signature", 401);
  });

  it("the hybrid SP's own decision does not verify for the seed SP (recipient binding)", async () => {
    const res = await x.sp.submit({ callbackUrl: x.spReceiver.url, action: { type: TYPES.approve, category: "code.deploy", summary: "Deploy" } });
    await x.spReceiver.decisionFor(res.requestId);
    const body = x.spReceiver.deliveries.find((e) => e.verified.ok && e.verified.decision.requestId === res.requestId)!.body;
    expect(x.seed.verify(body, x.hub)).toMatchObject({ ok: false, reason: expect.stringMatching(/^recipientId/) });
  });

  it("lists users, groups and policies as NameIDs", async () => {
    const users = await x.sp.directory("users");
    expect(users.status, users.text).toBe(200);
    const ids = (r: typeof users) => r.body.items.map((i: { id: string }) => i.id);
    expect(ids(users)).toEqual(expect.arrayContaining(["email:rita@example.com", "email:sam@example.com"]));
    const groups = await x.sp.directory("groups");
    expect(groups.status, groups.text).toBe(200);
    expect(ids(groups)).toEqual(expect.arrayContaining(["group:payments", "group:ops"]));
    const policies = await x.sp.directory("policies");
    expect(policies.status, policies.text).toBe(200);
    expect(ids(policies)).toEqual(expect.arrayContaining(Object.values(POLICIES).map((p) => `policy:${p}`)));
    for (const r of [users, groups, policies]) {
      for (const item of r.body.items) {
        expect(item.id).toMatch(/^(email|persistent|group|policy):.+/);
        expect(Object.keys(item).every((k) => ["id", "label", "provenance", "namespace", "count"].includes(k)), JSON.stringify(item)).toBe(true);
      }
      expect(Object.keys(r.body).every((k) => ["items", "nextCursor"].includes(k)), r.text).toBe(true);
    }
  });

  it("pages with limit and cursor", async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 10; i++) {
      const page = await x.sp.directory("users", { limit: 1, cursor });
      expect(page.status, page.text).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(1);
      seen.push(...page.body.items.map((it: { id: string }) => it.id));
      cursor = page.body.nextCursor;
      if (!cursor) break;
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expect.arrayContaining(["email:rita@example.com", "email:sam@example.com"]));
  });

  it("binds each query to its requestUri, including the org prefix and the query string", async () => {
    expectError(await x.sp.directory("users", { overrides: { requestUri: "/v1/users" } }), "wrong_recipient", 403);
    expectError(await x.sp.directory("users", { overrides: { requestUri: x.sp.requestUri("/v1/groups") } }), "wrong_recipient", 403);
    expectError(await x.sp.directory("groups", { overrides: { recipientId: "other.hub" } }), "wrong_recipient", 403);
    const withQuery = await x.sp.directory("users", { query: "?page=2" });
    expect(withQuery.status, withQuery.text).toBe(200);
    expectError(await x.sp.directory("users", { query: "?page=2", overrides: { requestUri: x.sp.requestUri("/v1/users") } }), "wrong_recipient", 403);
    expectError(await x.sp.directory("policies", { overrides: { timestamp: "2020-01-01T00:00:00Z" } }), "timestamp_out_of_range", 400);
  });

  it("refuses directory queries from strangers and forged signatures", async () => {
    const stranger = new SpClient(x.host, "nobody.example.net", hybridSigner(), x.hub.entity);
    expectError(await stranger.directory("users"), "unknown_sender", 401);
    const forged = new SpClient(x.host, x.sp.senderId, hybridSigner(x.sp.signer.keysetId), x.hub.entity);
    expectError(await forged.directory("users"), "invalid_signature", 401);
  });
});

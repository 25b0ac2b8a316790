import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hubOf, newSp, poll, post, publicKeysets, registerSp, rfc3339, signed, submit, type Hub, type TestSp } from "../helpers/stepauth-sp.js";
import { call, newDatabase, refundPolicy, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

/** The SP's refunds: up to 100 approved by a condition, more sent to review. */
const spRefunds = {
  policy_id: "sp-refunds",
  description: "Refunds asked for by SPs\nSecond line",
  tools: ["payments.refund"],
  conditions: [
    { id: "big", when: "int(args.amount) > 100", decision: "review" },
    { id: "small", when: "int(args.amount) <= 100", decision: "approve" },
  ],
  default_decision: "review",
};
const refund = (amount: string) => ({ action: { details: [{ key: "amount", label: "Amount", value: amount }] } });

/** Senders and the hub keyset through the admin API, and the directory listings SPs read. */
describe.each<Engine>(["pglite", "postgres"])("StepAuth administration on %s", (engine) => {
  let db: TestDatabase;
  let v: TestVault;
  let hub: Hub;
  let sp: TestSp;
  const app = () => v.vault.app;
  const admin = (method: string, url: string, body?: unknown) =>
    app().inject({ method: method as "GET", url, headers: { "x-vault-api-key": v.adminKey }, ...(body === undefined ? {} : { payload: body as object }) });
  const directory = (kind: string, extra: Record<string, unknown> = {}, query = "") => {
    const url = `${hub.base}/${kind}${query}`;
    return post(app(), url, signed(sp, { senderId: sp.entity, recipientId: hub.entity, requestUri: url, timestamp: rfc3339(Date.now()), ...extra }));
  };

  beforeAll(async () => {
    db = newDatabase(engine);
    v = await startTestVault(db, { env: { VAULT_CEL_TIMEOUT_MS: "2000" } });
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy })).status).toBe(200);
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: spRefunds })).status).toBe(200);
    for (const [name, groups] of [["ana", ["finance"]], ["bo", ["finance", "ops"]], ["cy", []]] as const) {
      await call(v.url, "POST", "/reviewers", { key: v.adminKey, body: { name, email: `${name}@example.com`, groups } });
    }
    sp = newSp();
    await registerSp(app(), v.adminKey, sp);
    hub = await hubOf(app(), v.tenantId);
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it("validates registrations: keyset order and lengths, the callback pattern, a repeated entity", async () => {
    const [ks] = publicKeysets(newSp());
    const swapped = { ...ks, keys: [{ ...ks!.keys[1]!, idx: 0 }, { ...ks!.keys[0]!, idx: 1 }] };
    for (const body of [
      { entity: "x.example.com", keysets: [swapped] },
      { entity: "x.example.com", keysets: [{ ...ks, keys: [{ ...ks!.keys[0]!, pub: "AAAA" }, ks!.keys[1]] }] },
      { entity: "x.example.com", keysets: [ks], callback_pattern: "https://sp.example.com*" },
      { entity: "x.example.com", keysets: [ks], callback_pattern: "http://sp.example.com/cb" },
      { entity: "x.example.com", keysets: [ks], callback_pattern: "https://sp.example.com/a*/b" },
      { entity: "bad#entity", keysets: [ks] },
      { entity: "x.example.com", keysets: [] },
    ]) {
      const res = await admin("POST", "/stepauth/senders", body);
      expect(res.statusCode, JSON.stringify(body).slice(0, 100)).toBe(400);
      expect(res.json().code).toBe("validation_failed");
    }
    expect((await admin("POST", "/stepauth/senders", { entity: sp.entity, keysets: [ks] })).json().code).toBe("stepauth_sender_exists");
    const agent = await app().inject({ method: "GET", url: "/stepauth/senders", headers: { "x-vault-api-key": (await call(v.url, "POST", "/keys", { key: v.adminKey, body: { scope: "agent" } })).body.api_key } });
    expect(agent.statusCode).toBe(403);
  });

  // First to submit: every request under the old keyset counts (one approved but never polled would keep it published).
  it("rotation keeps the old keyset published while a request under it is undecided, and signs that request with it", async () => {
    const pending = await submit(app(), hub, sp, refund("500"));
    expect(pending.res.statusCode).toBe(202);
    const old = hub.keysets[0]!.keysetId;
    const rotated = (await admin("POST", "/stepauth/hub/rotate")).json();
    expect(rotated.keysets.map((k: { status: string; published: boolean }) => [k.status, k.published])).toEqual([["current", true], ["retired", true]]);
    const published = (await hubOf(app(), v.tenantId)).keysets.map((k) => k.keysetId);
    expect(published).toHaveLength(2);
    expect(published[1]).toBe(old);
    // A request after the rotation is signed by the new keyset.
    const fresh = await submit(app(), hub, sp, refund("5"));
    const freshPoll = await poll(app(), hub, sp, fresh);
    expect(JSON.parse(freshPoll.res.body).signature.keysetId).toBe(published[0]);
    // Deciding the old request (an admin denies it) and signing its decision: the old keyset is no longer needed.
    const id = (await (await v.vault.ctx.tenantDbs.get(v.tenantId)).query<{ clearance_request_id: string }>("SELECT clearance_request_id FROM stepauth_requests WHERE request_id = $1", [pending.requestId]))[0]!.clearance_request_id;
    expect((await call(v.url, "POST", `/reviews/${id}/decision`, { key: v.adminKey, body: { approved: false, review_reason: "no" } })).status).toBe(200);
    const oldPoll = await poll(app(), hub, sp, pending);
    expect(oldPoll.res.statusCode, oldPoll.res.body).toBe(200);
    expect(oldPoll.verified).toMatchObject({ ok: true, decision: { decision: "denied" } });
    expect(JSON.parse(oldPoll.res.body).signature.keysetId).toBe(old);
    // Still published (an SP polling later may verify against fresh metadata) until its requests are
    // past expiresAt + 24 h; moved there by hand, the old keyset leaves the metadata.
    expect((await hubOf(app(), v.tenantId)).keysets).toHaveLength(2);
    const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
    await sql.query("UPDATE stepauth_requests SET expires_at = now() - interval '25 hours' WHERE hub_keyset_id = $1", [old]);
    expect((await hubOf(app(), v.tenantId)).keysets.map((k) => k.keysetId)).toEqual([published[0]]);
    expect((await admin("GET", "/stepauth/hub")).json().keysets.map((k: { published: boolean }) => k.published)).toEqual([true, false]);
  });

  it("lists, changes, removes and enables a sender again; a removed sender is unknown_sender", async () => {
    const other = newSp();
    const created = (await registerSp(app(), v.adminKey, other)).id;
    expect((await admin("GET", "/stepauth/senders")).json().senders.map((s: { entity: string }) => s.entity)).toContain(other.entity);
    const changed = await admin("PATCH", `/stepauth/senders/${created}`, { callback_pattern: "https://other.example.com/cb", description: "Ops" });
    expect(changed.json()).toMatchObject({ callback_pattern: "https://other.example.com/cb", description: "Ops", disabled_at: null });
    expect((await admin("DELETE", `/stepauth/senders/${created}`)).json().disabled_at).toEqual(expect.any(String));
    const refused = (await submit(app(), hub, other)).res;
    expect(refused.json()).toMatchObject({ error: "unknown_sender" });
    await admin("PATCH", `/stepauth/senders/${created}`, { disabled: false });
    expect((await submit(app(), hub, other)).res.statusCode).toBe(202);
    expect((await admin("GET", "/stepauth/senders/sps_nope")).json().code).toBe("stepauth_sender_not_found");
  });

  it("sets the hub entity; requests keep the entity they were addressed to", async () => {
    const before = await submit(app(), hub, sp, refund("5"));
    try {
      const set = await admin("PUT", "/stepauth/hub", { entity: "hub.example.com" });
      expect(set.json().entity).toBe("hub.example.com");
      const renamed = await hubOf(app(), v.tenantId);
      expect(renamed.entity).toBe("hub.example.com");
      // Polled at the new entity; the decision's sender is the entity the request was addressed to.
      expect((await poll(app(), hub, sp, before, renamed.entity)).verified).toMatchObject({ ok: true, decision: { senderId: hub.entity } });
      expect((await submit(app(), hub, sp)).res.json()).toMatchObject({ error: "wrong_recipient" });
    } finally {
      await admin("PUT", "/stepauth/hub", { entity: hub.entity });
    }
  });

  it("lists users, groups and policies as NameIDs, in pages bound to their path", async () => {
    const users = await directory("users");
    expect(users.statusCode, users.body).toBe(200);
    expect(users.json().items.map((i: { id: string }) => i.id)).toEqual(["email:ana@example.com", "email:bo@example.com", "email:cy@example.com"]);
    const first = (await directory("users", { limit: 2 })).json();
    expect(first.items).toHaveLength(2);
    const second = (await directory("users", { limit: 2, cursor: first.nextCursor })).json();
    expect(second).toEqual({ items: [{ id: "email:cy@example.com", label: "cy", provenance: "countersign" }] });
    expect((await directory("groups")).json().items).toEqual([
      { id: "group:finance", label: "finance", provenance: "countersign", count: 2 },
      { id: "group:ops", label: "ops", provenance: "countersign", count: 1 },
    ]);
    expect((await directory("policies")).json().items).toEqual([
      { id: "policy:refund-policy", label: "Refunds of customer payments", provenance: "countersign" },
      { id: "policy:sp-refunds", label: "Refunds asked for by SPs", provenance: "countersign" },
    ]);
    // requestUri binds the query to its path: the users query replayed against /groups is refused.
    const url = `${hub.base}/users`;
    const replay = await post(app(), `${hub.base}/groups`, signed(sp, { senderId: sp.entity, recipientId: hub.entity, requestUri: url, timestamp: rfc3339(Date.now()) }));
    expect(replay.statusCode).toBe(403);
    expect(replay.json()).toMatchObject({ error: "wrong_recipient" });
    expect((await directory("users", { cursor: "not-ours" })).json()).toMatchObject({ error: "malformed_request" });
  });
});

import type http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toBase64, utf8 } from "../../src/protocols/encoding.js";
import { KEYSET_STATES_SQL, RETENTION_AFTER_EXPIRY_MS } from "../../src/stepauth/hub-keys.js";
import { getStepAuthRequest } from "../../src/stepauth/request-store.js";
import { cancel, hubOf, newSp, poll, post, registerSp, requestIdOf, requestJson, rfc3339, signed, startCallbackReceiver, startHubVault, submit, type Hub, type HubVault, type TestSp } from "../helpers/stepauth-sp.js";
import { call, newDatabase, newTenant, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

/**
 * A hostile outsider and a demanding reviewer against the hub (docs/stepauth.md): text PostgreSQL
 * cannot store, tenant isolation, races between cancel, review and poll, and callbacks whose SP
 * answers badly. Every answer is the reference's code with `error` and `message`, never a 5xx.
 */
const policy = {
  policy_id: "hostile-refunds",
  description: "Refunds",
  tools: ["payments.refund"],
  conditions: [
    { id: "big", when: "int(args.amount) > 100", decision: "review" },
    { id: "small", when: "int(args.amount) <= 100", decision: "approve" },
  ],
  default_decision: "review",
};
/** Rows a plan's nodes on `table` produced or filtered away, over all their loops (EXPLAIN ANALYZE, FORMAT JSON). */
function rowsTouched(plan: unknown, table: string): number {
  const parsed: unknown = typeof plan === "string" ? JSON.parse(plan) : plan;
  let total = 0;
  const walk = (node: Record<string, unknown>) => {
    if (node["Relation Name"] === table) {
      const loops = Number(node["Actual Loops"] ?? 1);
      total += (Number(node["Actual Rows"] ?? 0) + Number(node["Rows Removed by Filter"] ?? 0)) * loops;
    }
    for (const child of (node.Plans as Record<string, unknown>[] | undefined) ?? []) walk(child);
  };
  for (const top of parsed as { Plan: Record<string, unknown> }[]) walk(top.Plan);
  return total;
}
const amount = (value: string) => ({ action: { details: [{ key: "amount", label: "Amount", value }] } });

describe.each<Engine>(["pglite", "postgres"])("StepAuth against a hostile sender on %s", (engine) => {
  let hv: HubVault | undefined;
  let v: TestVault;
  let hub: Hub;
  let sp: TestSp;
  let ana = "";
  let receiver: Awaited<ReturnType<typeof startCallbackReceiver>> | undefined;
  let callbackBase = "";
  let respond: (body: string, res: http.ServerResponse) => void = (_b, res) => res.writeHead(200).end("{}");
  const received: string[] = [];
  const app = () => v.vault.app;
  const tenantSql = () => v.vault.ctx.tenantDbs.get(v.tenantId);
  const expectError = (res: { statusCode: number; json(): any; body: string }, status: number, code: string) => {
    expect(res.statusCode, res.body.slice(0, 300)).toBe(status);
    expect(res.json()).toMatchObject({ code, error: code, message: expect.any(String) });
  };
  const rowOf = async (requestId: string, sender = sp) => getStepAuthRequest(await tenantSql(), sender.entity, requestId);
  const ledgerTypes = async (clearanceId: string) =>
    (await (await tenantSql()).query<{ event_type: string }>("SELECT event_type FROM ledger_events WHERE request_id = $1 ORDER BY seq", [clearanceId])).map((e) => e.event_type);

  beforeAll(async () => {
    receiver = await startCallbackReceiver((body, res) => {
      received.push(body);
      respond(body, res);
    });
    callbackBase = receiver.base;
    hv = await startHubVault(engine, { policy, callbackPattern: `${callbackBase}*` });
    ({ v, sp, hub, reviewerKey: ana } = hv);
  });
  afterAll(async () => {
    await hv?.close();
    await receiver?.close();
  });

  it("refuses U+0000 anywhere in a request as malformed_request, stores nothing, and takes the corrected request afterwards", async () => {
    const nul = "\u0000";
    const cases: Record<string, unknown>[] = [
      { action: { details: [{ key: "amount", label: "Amount", value: `5${nul}` }] } },
      { action: { details: [{ key: `a${nul}`, label: "A", value: "5" }] } },
      { action: { details: [{ key: "a", label: `A${nul}`, value: "5" }] } },
      { action: { summary: `Refund${nul}` } },
      { action: { name: `n${nul}` } },
      { action: { type: `payments.refund${nul}` } },
      { action: { approver: `policy:hostile-refunds${nul}` } },
      { action: { approver: `email:ana@example.com${nul}` } },
      { action: { target: { id: `o${nul}`, kind: "order" } } },
      { principal: { subject: `email:pat${nul}@customer.example` } },
      { principal: { subject: "email:pat@customer.example", attributes: [{ key: "role", label: "Role", value: `x${nul}` }] } },
      { principal: { subject: "email:pat@customer.example", operator: { subject: `email:op${nul}@x.example` } } },
      { policyVersion: `v1${nul}` },
      { unknownMember: `x${nul}` },
    ];
    for (const over of cases) {
      const req = requestJson(sp, hub.entity, over);
      const res = await post(app(), `${hub.base}/authorization-requests`, signed(sp, req.bytes));
      expectError(res, 400, "malformed_request");
      expect(await rowOf(req.requestId), JSON.stringify(over)).toBeUndefined();
      // Nothing was kept: the same requestId, corrected, is a new request.
      const fixed = await submit(app(), hub, sp, { requestId: req.requestId });
      expect(fixed.res.statusCode, fixed.res.body).toBe(202);
    }
  });

  it("refuses U+0000 and lone surrogates in queries and in the senderId before any lookup", async () => {
    const url = `${hub.base}/authorization-requests/req_x/decision`;
    const nulSender = { ...sp, entity: `${sp.entity}\u0000` };
    expectError(await post(app(), url, signed(sp, { senderId: nulSender.entity, recipientId: hub.entity, requestUri: url, timestamp: rfc3339(Date.now()) })), 400, "malformed_request");
    const lone = `{"senderId":"${sp.entity}","recipientId":"${hub.entity}","requestUri":"${url}","timestamp":"${rfc3339(Date.now())}","x":"\\ud800"}`;
    expectError(await post(app(), url, signed(sp, utf8(lone))), 400, "malformed_request");
    expectError(await cancel(app(), hub, sp, "req_\u0000"), 400, "malformed_request");
    // A senderId no registration can have (not printable ASCII): unknown_sender without touching the database.
    const odd = JSON.stringify({ payload: toBase64(utf8(JSON.stringify({ senderId: "sp\u00e9.example.com" }))), signature: { keysetId: "k", signatures: [] } });
    expectError(await post(app(), `${hub.base}/authorization-requests`, odd), 401, "unknown_sender");
  });

  it("a submit the database refuses after the row was stored answers the error and keeps nothing, so the SDK's retry is a new submit", async () => {
    const sql = await tenantSql();
    await sql.query("ALTER TABLE clearance_requests ADD CONSTRAINT hostile_refuse CHECK (tool_name <> 'payments.refused')");
    const req = requestJson(sp, hub.entity, { action: { type: "payments.refused" } });
    try {
      const refused = await post(app(), `${hub.base}/authorization-requests`, signed(sp, req.bytes));
      expect(refused.statusCode).toBeGreaterThanOrEqual(500); // a broken database: the SDK retries 5xx
      expect(await rowOf(req.requestId)).toBeUndefined();
    } finally {
      await sql.query("ALTER TABLE clearance_requests DROP CONSTRAINT hostile_refuse");
    }
    const retried = await post(app(), `${hub.base}/authorization-requests`, signed(sp, req.bytes));
    expect(retried.statusCode, retried.body).toBe(202);
    expect((await rowOf(req.requestId))?.clearance_request_id).toEqual(expect.any(String));
  });

  it("keeps tenants apart: another tenant's sender is unknown, its directory lists only its own reviewers, an unknown tenant is 404", async () => {
    const other = await newTenant(v, `hostile-${engine}-${Date.now()}`);
    await call(v.url, "POST", "/reviewers", { key: other.adminKey, body: { name: "Zed", email: "zed@other.example", groups: ["other-group"] } });
    const otherHub = await hubOf(app(), other.tenantId);
    expect(otherHub.entity).not.toBe(hub.entity);
    // sp is registered in the first tenant only.
    const req = requestJson(sp, otherHub.entity);
    expectError(await post(app(), `${otherHub.base}/authorization-requests`, signed(sp, req.bytes)), 401, "unknown_sender");
    const otherSp = newSp();
    await registerSp(app(), other.adminKey, otherSp);
    for (const kind of ["users", "groups"]) {
      const url = `${otherHub.base}/${kind}`;
      const res = await post(app(), url, signed(otherSp, { senderId: otherSp.entity, recipientId: otherHub.entity, requestUri: url, timestamp: rfc3339(Date.now()) }));
      expect(res.statusCode, res.body).toBe(200);
      const ids = (res.json() as { items: { id: string }[] }).items.map((i) => i.id);
      expect(ids).toEqual(kind === "users" ? ["email:zed@other.example"] : ["group:other-group"]);
    }
    // The other tenant's sender cannot poll or cancel this tenant's requests, even through this tenant's prefix.
    const mine = await submit(app(), hub, sp, amount("500"));
    expect(mine.res.statusCode).toBe(202);
    expectError(await cancel(app(), hub, otherSp, mine.requestId), 401, "unknown_sender");
    for (const path of ["/stepauth/t_00000000000000000000/v1/authorization-requests", "/stepauth/t_00000000000000000000/v1/authorization-requests/cancel", "/stepauth/t_00000000000000000000/v1/users"]) {
      expectError(await post(app(), path, signed(sp, req.bytes)), 404, "not_found");
    }
    expectError(await app().inject({ method: "GET", url: "/stepauth/t_00000000000000000000/v1/metadata" }), 404, "not_found");
    expectError(await app().inject({ method: "GET", url: "/stepauth/not.a.tenant/v1/metadata" }), 404, "not_found");
    expectError(await post(app(), "/stepauth/..%2f..%2fadmin/v1/authorization-requests", signed(sp, req.bytes)), 404, "not_found");
  });

  it("every answer under the SP prefix carries error and message, a path or method that is no route too, and none is a 5xx", async () => {
    const cases: [string, string, number, string][] = [
      ["GET", `${hub.base}/authorization-requests`, 404, "not_found"],
      ["POST", `${hub.base}/nope`, 404, "not_found"],
      ["POST", `${hub.base}/metadata`, 404, "not_found"],
      ["POST", `${hub.base}/authorization-requests/%ZZ/decision`, 400, "bad_request"],
      ["POST", `${hub.base}/authorization-requests//decision`, 404, "not_found"],
    ];
    for (const [method, url, status, code] of cases) expectError(await app().inject({ method: method as "GET", url, payload: method === "GET" ? undefined : "{}" }), status, code);
  });

  it("bounds hostile shapes cheaply: deep nesting anywhere, nine levels of groups, a thousand and one entries", async () => {
    const group = (depth: number): unknown => (depth === 0 ? "v" : [{ key: "g", label: "G", value: group(depth - 1) }]);
    const deepText = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
    const bodies: [Uint8Array, number, string | null][] = [
      [requestJson(sp, hub.entity, { action: { details: group(9) } }).bytes, 400, "malformed_request"],
      [requestJson(sp, hub.entity, { action: { details: Array.from({ length: 1001 }, (_, i) => ({ key: `k${i}`, label: "", value: "v" })) } }).bytes, 400, "malformed_request"],
      [utf8(new TextDecoder().decode(requestJson(sp, hub.entity).bytes).replace(/}$/, `,"pad":${deepText}}`)), 202, null],
      [requestJson(sp, hub.entity, { action: { details: group(8) } }).bytes, 202, null],
    ];
    for (const [bytes, status, code] of bodies) {
      const started = performance.now();
      const res = await post(app(), `${hub.base}/authorization-requests`, signed(sp, bytes));
      expect(res.statusCode, res.body.slice(0, 200)).toBe(status);
      if (code) expect(res.json()).toMatchObject({ error: code });
      expect(performance.now() - started).toBeLessThan(3000);
    }
  });

  it("a forged directory cursor is malformed_request on every listing, never a database error", async () => {
    for (const kind of ["users", "groups", "policies"]) {
      for (const after of ["a\u0000b", "\ud800"]) {
        const cursor = Buffer.from(JSON.stringify({ after }), "utf8").toString("base64url");
        const url = `${hub.base}/${kind}`;
        const res = await post(app(), url, signed(sp, { senderId: sp.entity, recipientId: hub.entity, requestUri: url, timestamp: rfc3339(Date.now()), cursor }));
        expectError(res, 400, "malformed_request");
      }
    }
  });

  it("the public metadata costs the same however many requests a retired keyset once signed", async () => {
    const sql = await tenantSql();
    const { keysetId } = (await hubOf(app(), v.tenantId)).keysets[0]!;
    // A long history under the keyset about to be retired: all of it past expiresAt + 24 h.
    await sql.query(
      `INSERT INTO stepauth_requests (sender_id, request_id, payload, request_digest, hub_keyset_id, expires_at, created_at, clearance_request_id)
       SELECT 'history.example.com', 'r' || g, '\\x7b7d', 'd', $1, now() - interval '10 days', now() - interval '11 days', 'hist_' || g
         FROM generate_series(1, 20000) g`,
      [keysetId],
    );
    await sql.query("DELETE FROM stepauth_requests WHERE hub_keyset_id = $1 AND sender_id <> 'history.example.com'", [keysetId]);
    await sql.query("ANALYZE stepauth_requests");
    try {
      expect((await app().inject({ method: "POST", url: "/stepauth/hub/rotate", headers: { "x-vault-api-key": v.adminKey } })).statusCode).toBe(200);
      const res = await app().inject({ method: "GET", url: `${hub.base}/metadata` });
      expect(res.json().keysets.map((k: { keysetId: string }) => k.keysetId)).not.toContain(keysetId);
      // The query behind it reads a handful of index entries, not the history (which a scan filters row by row).
      const [plan] = await sql.query<{ "QUERY PLAN": unknown }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${KEYSET_STATES_SQL}`, [new Date(Date.now() - RETENTION_AFTER_EXPIRY_MS)]);
      expect(rowsTouched(plan!["QUERY PLAN"], "stepauth_requests")).toBeLessThan(100);
    } finally {
      await sql.query("DELETE FROM stepauth_requests WHERE sender_id = 'history.example.com'");
      hub = await hubOf(app(), v.tenantId);
    }
  });

  it("a sender sees only its own requests: another sender's requestId is request_not_found on poll and cancel", async () => {
    const mine = await submit(app(), hub, sp, amount("5"));
    expect(mine.res.statusCode).toBe(202);
    const other = newSp();
    await registerSp(app(), v.adminKey, other);
    const polled = await poll(app(), hub, other, mine);
    expectError(polled.res, 404, "request_not_found");
    expectError((await poll(app(), hub, sp, { requestId: "r".repeat(300), bytes: mine.bytes })).res, 404, "request_not_found");
    expectError(await cancel(app(), hub, other, mine.requestId), 404, "request_not_found");
    // Still the owner's, undecided by the stranger's cancel.
    expect((await poll(app(), hub, sp, mine)).verified).toMatchObject({ ok: true, decision: { decision: "approved" } });
  });

  it("concurrent polls sign once: every answer is the same bytes, and there is one stepauth.decision event", async () => {
    const req = await submit(app(), hub, sp, amount("7"));
    expect(req.res.statusCode).toBe(202);
    const answers = await Promise.all(Array.from({ length: 6 }, () => poll(app(), hub, sp, req)));
    expect(answers.map((a) => a.res.statusCode)).toEqual(Array(6).fill(200));
    expect(new Set(answers.map((a) => a.res.body)).size).toBe(1);
    expect(answers[0]!.verified).toMatchObject({ ok: true, decision: { decision: "approved" } });
    const row = (await rowOf(req.requestId))!;
    expect((await ledgerTypes(row.clearance_request_id!)).filter((t) => t === "stepauth.decision")).toHaveLength(1);
    // The digest in the decision is over the stored bytes, which are the bytes sent.
    expect(Buffer.from(row.payload).equals(Buffer.from(req.bytes))).toBe(true);
  });

  it("cancel racing a reviewer's approval: exactly one wins, and a cancelled request is never signed approved", async () => {
    for (let i = 0; i < 4; i++) {
      const req = await submit(app(), hub, sp, amount("500"));
      expect(req.res.statusCode).toBe(202);
      const clearanceId = (await rowOf(req.requestId))!.clearance_request_id!;
      const [cancelled, approved] = await Promise.all([
        cancel(app(), hub, sp, req.requestId),
        call(v.url, "POST", `/reviews/${clearanceId}/decision`, { key: ana, body: { approved: true } }),
      ]);
      const decision = (await poll(app(), hub, sp, req)).verified;
      if (cancelled.statusCode === 200) {
        expect(approved.status).not.toBe(200);
        expect(decision).toMatchObject({ ok: true, decision: { decision: "denied", decidedBy: [] } });
      } else {
        expectError(cancelled, 409, "already_decided");
        expect(approved.status).toBe(200);
        expect(decision).toMatchObject({ ok: true, decision: { decision: "approved" } });
      }
      // Once signed, a cancel never succeeds.
      expect((await cancel(app(), hub, sp, req.requestId)).statusCode).toBe(409);
    }
  });

  it("a cancel that read the request before its submit linked it cannot succeed once the request was decided and signed approved", async () => {
    const req = await submit(app(), hub, sp, amount("8"));
    const signedNow = await poll(app(), hub, sp, req);
    expect(signedNow.verified).toMatchObject({ ok: true, decision: { decision: "approved" } });
    // The row as a cancel read it a moment before the submit linked it (an interleaving, replayed).
    const stale = { ...(await rowOf(req.requestId))!, clearance_request_id: null, decision_payload: null, decision_envelope: null };
    expect(await v.vault.ctx.stepauth.queries.cancelRow(await tenantSql(), v.tenantId, stale)).toBe("decided");
    expect((await rowOf(req.requestId))!.cancelled_at).toBeNull();
  });

  it("an approval that arrives after expiresAt is signed denied, with nobody named", async () => {
    const now = Date.now();
    const req = await submit(app(), hub, sp, { ...amount("600"), expiresAt: rfc3339(now + 2000) });
    expect(req.res.statusCode, req.res.body).toBe(202);
    const clearanceId = (await rowOf(req.requestId))!.clearance_request_id!;
    await new Promise((r) => setTimeout(r, 2300));
    // The review sweeper has not run: the reviewer still tries.
    await call(v.url, "POST", `/reviews/${clearanceId}/decision`, { key: ana, body: { approved: true } });
    expect((await poll(app(), hub, sp, req)).verified).toMatchObject({ ok: true, decision: { decision: "denied", decidedBy: [] } });
  });

  describe("callbacks", () => {
    const drain = () => v.vault.ctx.outboxWorker.drain();
    const outboxOf = async (clearanceId: string) =>
      (await tenantSql()).query<{ status: string; attempts: number; last_error: string | null }>("SELECT status, attempts, last_error FROM outbox WHERE kind = 'callback' AND request_id = $1", [clearanceId]);
    const deliveredTo = (requestId: string) => received.filter((b) => requestIdOf(b) === requestId);
    const submitWithCallback = async (path: string) => {
      const req = await submit(app(), hub, sp, { callbackUrl: `${callbackBase}${path}`, ...amount("9") });
      expect(req.res.statusCode, req.res.body).toBe(202);
      return { ...req, clearanceId: (await rowOf(req.requestId))!.clearance_request_id! };
    };

    it("an ExecutionResult whose error text is unstorable (a lone surrogate, a pair cut at the length limit) is recorded once, cleaned", async () => {
      for (const error of ["\ud800 broken", `${"a".repeat(499)}\u{1F600}tail`]) {
        respond = (body, res) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ requestId: requestIdOf(body), status: "error", error }));
        const req = await submitWithCallback("exec");
        await drain();
        expect(await outboxOf(req.clearanceId)).toMatchObject([{ status: "delivered" }]);
        const row = (await rowOf(req.requestId))!;
        expect(row.execution).toMatchObject({ status: "error", error: expect.any(String) });
        expect(/\p{Surrogate}/u.test(row.execution!.error!)).toBe(false);
        expect((await ledgerTypes(req.clearanceId)).filter((t) => t === "stepauth.executed")).toHaveLength(1);
      }
    });

    it("an answer that is not an ExecutionResult for this request is a delivery with nothing recorded; a redelivery records the result once", async () => {
      const answers = ["not json", JSON.stringify({ requestId: "req_someone_else", status: "success" }), JSON.stringify([1, 2]), `{"requestId":"x","status":"success","pad":"${"p".repeat(100_000)}"}`];
      for (const answer of answers) {
        respond = (_body, res) => res.writeHead(200).end(answer);
        const req = await submitWithCallback("odd");
        await drain();
        const [entry] = await outboxOf(req.clearanceId);
        expect(entry).toMatchObject({ status: "delivered", last_error: expect.stringContaining("not an ExecutionResult") });
        expect((await rowOf(req.requestId))!.execution).toBeNull();
      }
      respond = (body, res) => res.writeHead(200).end(JSON.stringify({ requestId: requestIdOf(body), status: "success" }));
      const req = await submitWithCallback("twice");
      await drain();
      // At least once: the same decision delivered again (as after a lost lease) records nothing new.
      const sql = await tenantSql();
      await v.vault.ctx.outbox.callback(sql, { requestId: req.clearanceId, eventType: "stepauth.decision", url: `${callbackBase}twice`, payload: JSON.stringify({ sender: sp.entity, request_id: req.requestId }) });
      await drain();
      expect((await outboxOf(req.clearanceId)).map((e) => e.status)).toEqual(["delivered", "delivered"]);
      expect((await ledgerTypes(req.clearanceId)).filter((t) => t === "stepauth.executed")).toHaveLength(1);
    });

    it("checks the sender's pattern before every attempt: a pattern changed after the submit stops delivery", async () => {
      respond = (_b, res) => res.writeHead(500).end("down");
      const req = await submitWithCallback("moved");
      await drain();
      const before = received.length;
      const id = (await app().inject({ method: "GET", url: "/stepauth/senders", headers: { "x-vault-api-key": v.adminKey } })).json().senders.find((x: { entity: string }) => x.entity === sp.entity).id;
      const patched = await app().inject({ method: "PATCH", url: `/stepauth/senders/${id}`, headers: { "x-vault-api-key": v.adminKey }, payload: { callback_pattern: "https://sp.example.com/elsewhere/*" } });
      expect(patched.statusCode, patched.body).toBe(200);
      try {
        await (await tenantSql()).query("UPDATE outbox SET next_attempt_at = now() - interval '1 second' WHERE request_id = $1", [req.clearanceId]);
        await drain();
        expect(received.length).toBe(before);
        expect((await outboxOf(req.clearanceId))[0]).toMatchObject({ status: "pending", last_error: expect.stringContaining("pattern") });
      } finally {
        await app().inject({ method: "PATCH", url: `/stepauth/senders/${id}`, headers: { "x-vault-api-key": v.adminKey }, payload: { callback_pattern: `${callbackBase}*` } });
      }
    });

    it("does not follow a redirect: a 3xx is a failed attempt, retried, never a request to the Location", async () => {
      respond = (_b, res) => res.writeHead(307, { location: `${callbackBase}stolen` }).end();
      const before = received.length;
      const req = await submitWithCallback("redirect");
      await drain();
      expect(received.length).toBe(before + 1);
      expect((await outboxOf(req.clearanceId))[0]).toMatchObject({ status: "pending", last_error: expect.stringContaining("307") });
      expect(deliveredTo(req.requestId)).toHaveLength(1);
    });
  });
});

describe("StepAuth hub defences that need their own vault", () => {
  const vaults: { v: TestVault; db: TestDatabase }[] = [];
  const start = async (env: Record<string, string>) => {
    const db = newDatabase("pglite");
    const v = await startTestVault(db, { env: { VAULT_CEL_TIMEOUT_MS: "2000", ...env } });
    vaults.push({ v, db });
    return v;
  };
  afterAll(async () => {
    for (const { v, db } of vaults) {
      await v.close();
      await db.drop();
    }
  });

  it("forgeries in a registered sender's name do not use up its rate; its own requests over the rate get 503, never 429", async () => {
    const v = await start({ VAULT_RATE_LIMIT_RPS: "1", VAULT_RATE_LIMIT_BURST: "2" });
    const sp = newSp();
    await registerSp(v.vault.app, v.adminKey, sp);
    const hub = await hubOf(v.vault.app, v.tenantId);
    const forger = newSp(sp.entity);
    for (let i = 0; i < 6; i++) {
      const forged = await submit(v.vault.app, hub, forger);
      expect(forged.res.statusCode).toBe(401);
      expect(forged.res.json()).toMatchObject({ error: "invalid_signature" });
    }
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await submit(v.vault.app, hub, sp)).res.statusCode);
    expect(statuses.slice(0, 2)).toEqual([202, 202]);
    expect(statuses).toContain(503);
    expect(statuses).not.toContain(429);
  });

  it("never delivers a callback to a loopback, private or metadata address unless private targets are allowed", async () => {
    const hits: string[] = [];
    const server = await startCallbackReceiver((body, res) => {
      hits.push(body);
      res.writeHead(200).end("{}");
    });
    try {
      const v = await start({ VAULT_CEL_TIMEOUT_MS: "2000" });
      expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: policy })).status).toBe(200);
      const sp = newSp();
      await registerSp(v.vault.app, v.adminKey, sp, `${server.base}x`);
      const hub = await hubOf(v.vault.app, v.tenantId);
      const req = await submit(v.vault.app, hub, sp, amount("3"));
      expect(req.res.statusCode, req.res.body).toBe(202);
      await v.vault.ctx.outboxWorker.drain();
      expect(hits).toEqual([]);
      const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
      const [entry] = await sql.query<{ status: string; last_error: string }>("SELECT status, last_error FROM outbox WHERE kind = 'callback'");
      expect(entry).toMatchObject({ status: "pending", last_error: expect.stringContaining("target refused") });
      // The decision is still there by poll.
      expect((await poll(v.vault.app, hub, sp, req)).verified).toMatchObject({ ok: true, decision: { decision: "approved" } });
      // A cloud metadata address behind an https URL: refused before any connection.
      const metadataSp = newSp();
      await registerSp(v.vault.app, v.adminKey, metadataSp, "https://169.254.169.254/latest/*");
      const stolen = await submit(v.vault.app, hub, metadataSp, { callbackUrl: "https://169.254.169.254/latest/meta-data", ...amount("3") });
      expect(stolen.res.statusCode, stolen.res.body).toBe(202);
      await v.vault.ctx.outboxWorker.drain();
      const entries = await sql.query<{ target: string; last_error: string }>("SELECT target, last_error FROM outbox WHERE kind = 'callback' AND target LIKE 'https://169.254%'");
      expect(entries).toMatchObject([{ last_error: expect.stringContaining("target refused") }]);
    } finally {
      await server.close();
    }
  });

  it("without VAULT_PUBLIC_URL, a vault bound to every interface on port 0 publishes localhost and the port it bound, never 0.0.0.0 or port 0", async () => {
    const v = await start({ VAULT_HOST: "0.0.0.0" });
    const port = new URL(v.url).port;
    expect(port).not.toBe("0");
    const metadata = (await v.vault.app.inject({ method: "GET", url: `/stepauth/${v.tenantId}/v1/metadata` })).json();
    expect(metadata.host).toBe(`http://localhost:${port}/stepauth/${v.tenantId}`);
    expect(metadata.entity).toBe(`localhost:${port}/stepauth/${v.tenantId}`);
    // A Host header never changes what is published.
    const spoofed = await v.vault.app.inject({ method: "GET", url: `/stepauth/${v.tenantId}/v1/metadata`, headers: { host: "evil.example" } });
    expect(spoofed.json()).toMatchObject({ host: metadata.host, entity: metadata.entity });
  });
});

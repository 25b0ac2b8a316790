import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toBase64, utf8 } from "../../src/protocols/encoding.js";
import { verifyDecisionEnvelope } from "../../src/protocols/stepauth/decision.js";
import { getStepAuthRequest } from "../../src/stepauth/request-store.js";
import { cancel, hubOf, newSp, poll, post, registerSp, requestJson, rfc3339, signed, submit, type Hub, type TestSp } from "../helpers/stepauth-sp.js";
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
const amount = (value: string) => ({ action: { details: [{ key: "amount", label: "Amount", value }] } });

describe.each<Engine>(["pglite", "postgres"])("StepAuth against a hostile sender on %s", (engine) => {
  let db: TestDatabase;
  let v: TestVault;
  let hub: Hub;
  let sp: TestSp;
  let ana = "";
  let receiver: http.Server;
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
    receiver = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        received.push(body);
        respond(body, res);
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    callbackBase = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/cb/`;
    db = newDatabase(engine);
    v = await startTestVault(db, { env: { VAULT_CEL_TIMEOUT_MS: "2000", VAULT_WEBHOOK_ALLOW_PRIVATE_TARGETS: "true", VAULT_REVIEW_SWEEP_INTERVAL_SECONDS: "3600" } });
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: policy })).status).toBe(200);
    ana = (await call(v.url, "POST", "/reviewers", { key: v.adminKey, body: { name: "Ana", email: "ana@example.com", groups: ["finance"] } })).body.api_key;
    sp = newSp();
    await registerSp(app(), v.adminKey, sp, `${callbackBase}*`);
    hub = await hubOf(app(), v.tenantId);
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
    await new Promise((r) => receiver?.close(r));
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
});

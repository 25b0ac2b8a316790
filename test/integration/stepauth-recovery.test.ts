import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requestDigest } from "../../src/protocols/stepauth/decision.js";
import { insertStepAuthRequest } from "../../src/stepauth/request-store.js";
import { cancel, hubOf, newSp, poll, registerSp, requestJson, submit, type Hub, type TestSp } from "../helpers/stepauth-sp.js";
import { call, newDatabase, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

const autoApprove = {
  policy_id: "sp-auto",
  tools: ["payments.refund"],
  conditions: [{ id: "small", when: "int(args.amount) <= 100", decision: "approve" }],
  default_decision: "review",
};

/**
 * The queued judge (the decision comes after the 202, from a worker) and the link sweeper, which
 * finishes a submit that a crash cut between storing the StepAuth request and creating its
 * clearance request.
 */
describe.each<Engine>(["pglite", "postgres"])("StepAuth with a queued judge, and after an interrupted submit, on %s", (engine) => {
  let db: TestDatabase;
  let v: TestVault;
  let hub: Hub;
  let sp: TestSp;
  const app = () => v.vault.app;
  const sql = () => v.vault.ctx.tenantDbs.get(v.tenantId);
  const pollUntilDecided = async (req: { requestId: string; bytes: Uint8Array }) => {
    for (let i = 0; i < 100; i++) {
      const p = await poll(app(), hub, sp, req);
      if (p.res.statusCode === 200) return p;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error("no decision");
  };

  beforeAll(async () => {
    db = newDatabase(engine);
    v = await startTestVault(db, { env: { VAULT_CEL_TIMEOUT_MS: "2000", VAULT_CLEARANCE_MODE: "queued" } });
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: autoApprove })).status).toBe(200);
    sp = newSp();
    await registerSp(app(), v.adminKey, sp);
    hub = await hubOf(app(), v.tenantId);
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it("answers 202 at once and signs the worker's decision", async () => {
    const req = await submit(app(), hub, sp);
    expect(req.res.statusCode, req.res.body).toBe(202);
    expect((await pollUntilDecided(req)).verified).toMatchObject({ ok: true, decision: { decision: "approved", decidedBy: ["policy:sp-auto"] } });
  });

  it("links a request whose clearance request was created but not linked (the submit is idempotent)", async () => {
    const req = await submit(app(), hub, sp);
    const db = await sql();
    const [before] = await db.query<{ clearance_request_id: string }>("SELECT clearance_request_id FROM stepauth_requests WHERE request_id = $1", [req.requestId]);
    await db.query("UPDATE stepauth_requests SET clearance_request_id = NULL, created_at = created_at - interval '1 minute' WHERE request_id = $1", [req.requestId]);
    await v.vault.ctx.stepauth.sweeper.drain();
    const [after] = await db.query<{ clearance_request_id: string }>("SELECT clearance_request_id FROM stepauth_requests WHERE request_id = $1", [req.requestId]);
    expect(after!.clearance_request_id).toBe(before!.clearance_request_id);
  });

  it("submits a stored request that never reached the judge, and cancels it if its sender cancelled meanwhile", async () => {
    const at = Date.now() - 60_000;
    const db = await sql();
    const keysetId = hub.keysets[0]!.keysetId;
    const store = async (over: Record<string, unknown> = {}) => {
      const req = requestJson(sp, hub.entity, over, at);
      await insertStepAuthRequest(db, { senderId: sp.entity, requestId: req.requestId, payload: req.bytes, requestDigest: requestDigest(req.bytes), callbackUrl: null, hubKeysetId: keysetId, expiresAt: new Date(at + 30 * 60_000), createdAt: new Date(at) });
      return req;
    };
    const lost = await store();
    const cancelled = await store();
    expect((await poll(app(), hub, sp, lost)).res.statusCode).toBe(202);
    expect((await cancel(app(), hub, sp, cancelled.requestId)).statusCode).toBe(200);
    await v.vault.ctx.stepauth.sweeper.drain();
    expect((await pollUntilDecided(lost)).verified).toMatchObject({ ok: true, decision: { decision: "approved" } });
    expect((await pollUntilDecided(cancelled)).verified).toMatchObject({ ok: true, decision: { decision: "denied", decidedBy: [] } });
    expect((await db.query("SELECT count(*)::int AS n FROM stepauth_requests WHERE clearance_request_id IS NULL"))[0]).toEqual({ n: 0 });
  });
});

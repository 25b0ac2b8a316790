import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toolArgsHash } from "../../src/tokens/canonical-json.js";
import { setUpGrants, steadyCel, type Reviewer } from "../helpers/grants.js";
import { verifyLikeSdk } from "../helpers/sdk-checks.js";
import { call, newDatabase, newKey, newPgDatabase, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

/** Scoped grants and edit-on-approve where more than one process decides (review R3 of issue 17; the rest: grants-attacks.test.ts). */
const env = { ...steadyCel, VAULT_REVIEW_SWEEP_INTERVAL_SECONDS: "3600" };

/**
 * Two vault processes on one PostgreSQL database (what a real deployment runs): a grant made through
 * one is used through the other, and a revoke through either stops it for every request judged
 * after it, on both, including requests racing the revoke.
 */
describe("a grant revoked on one vault instance stops at once on the other", () => {
  let db: TestDatabase;
  let a: TestVault;
  let b: TestVault;
  let agent: string;
  let people: Record<string, Reviewer>;
  const refund = (on: TestVault, amount: number) =>
    call(on.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount, currency: "usd" }, agent_id: "agent-7", session_id: "s-1" } });

  beforeAll(async () => {
    db = newPgDatabase();
    a = await startTestVault(db, { env });
    b = await startTestVault(db, { adminKey: a.adminKey, env });
    agent = await newKey(a, "agent");
    people = await setUpGrants(a, ["ana"]);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await db?.drop();
  });

  it("approves through either instance until the revoke commits, and through neither after", async () => {
    const first = await refund(a, 100);
    expect(first.body.status).toBe("pending_review");
    const vote = await call(a.url, "POST", `/reviews/${first.body.request_id}/decision`, { key: people.ana!.api_key, body: { approved: true, grant: { scope: "window", window_minutes: 60, constraint: "args.amount <= 200" } } });
    const grantId = vote.body.grant.id as string;
    const viaB = await refund(b, 150);
    expect(viaB.body).toMatchObject({ status: "approved", grant_id: grantId });
    expect((await verifyLikeSdk(b.url, viaB.body.token)).request_id).toBe(viaB.body.request_id);

    // Requests through A race a revoke through B: each is either approved by the grant (committed
    // before the revoke) or a review; none is approved after the revoke answered.
    const racing = Array.from({ length: 24 }, (_, i) => refund(i % 2 ? a : b, 120 + i));
    const revoked = await call(b.url, "POST", `/grants/${grantId}/revoke`, { key: people.ana!.api_key, body: { reason: "race" } });
    expect(revoked.status, JSON.stringify(revoked.body)).toBe(200);
    const after = await Promise.all(Array.from({ length: 10 }, (_, i) => refund(i % 2 ? a : b, 130 + i)));
    for (const res of after) expect(res.body).toMatchObject({ status: "pending_review", reason_code: "policy_default" });
    const raced = await Promise.all(racing);
    for (const res of raced) {
      expect(["approved", "pending_review"]).toContain(res.body.status);
      if (res.body.status === "approved") expect(res.body.grant_id).toBe(grantId);
    }
    // The database holds exactly the approvals that were answered as such: none decided behind the answers' backs.
    const sql = await a.vault.ctx.tenantDbs.get(a.tenantId);
    const rows = await sql.query<{ id: string }>("SELECT id FROM clearance_requests WHERE grant_id = $1", [grantId]);
    expect(rows.length).toBe(1 + raced.filter((r) => r.body.status === "approved").length);
  });
});

/** Edit-on-approve when the vault decides on a queue (VAULT_CLEARANCE_MODE=queued): the agent polls, as the SDK does. */
describe("edit-on-approve on the queued decision path", () => {
  let db: TestDatabase;
  let v: TestVault;
  let agent: string;
  let people: Record<string, Reviewer>;

  beforeAll(async () => {
    db = newDatabase("pglite");
    v = await startTestVault(db, { env: { ...env, VAULT_CLEARANCE_MODE: "queued" } });
    agent = await newKey(v, "agent");
    people = await setUpGrants(v, ["ana"]);
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it("binds the token to the edited arguments, refuses the original ones, and refuses an edit the policy cannot judge", async () => {
    const original = { amount: 700, currency: "usd", order_id: "Q-1" };
    const edited = { amount: 300, currency: "usd", order_id: "Q-1" };
    const asked = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: original, agent_id: "agent-7" } });
    const id = asked.body.request_id as string;
    let status = asked.body.status;
    for (let i = 0; i < 50 && status === "processing"; i++) status = (await call(v.url, "GET", `/clearance-status/${id}?wait=1`, { key: agent })).body.status;
    expect(status).toBe("pending_review");
    const sneaky = await call(v.url, "POST", `/reviews/${id}/decision`, { key: people.ana!.api_key, body: { approved: true, edited_tool_args: { ...edited, amount: "3000" } } });
    expect(sneaky.body.code).toBe("edited_args_denied");
    const vote = await call(v.url, "POST", `/reviews/${id}/decision`, { key: people.ana!.api_key, body: { approved: true, edited_tool_args: edited } });
    expect(vote.body).toMatchObject({ status: "approved", tool_args_hash: toolArgsHash(original), edited_tool_args: edited, edited_tool_args_hash: toolArgsHash(edited) });
    const seen = await call(v.url, "GET", `/clearance-status/${id}`, { key: agent });
    expect(seen.body).toMatchObject({ status: "approved", edited_tool_args: edited });
    expect((await verifyLikeSdk(v.url, seen.body.token)).tool_args_hash).toBe(toolArgsHash(edited));
    expect((await call(v.url, "POST", "/consume-token", { key: agent, body: { token: seen.body.token, tool_name: "stripe_refund", tool_args: original } })).body.code).toBe("token_binding_mismatch");
    expect((await call(v.url, "POST", "/consume-token", { key: agent, body: { token: seen.body.token, tool_name: "stripe_refund", tool_args: edited } })).status).toBe(200);
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Countersign } from "../../src/sdk/index.js";
import { canonicalJson, toolArgsHash } from "../../src/tokens/canonical-json.js";
import { ledgerEntriesOf, setUpGrants, steadyCel, type Reviewer } from "../helpers/grants.js";
import { runCli } from "../helpers/ledger-fixture.js";
import { ledgixClearanceResponse, verifyLikeSdk } from "../helpers/sdk-checks.js";
import { call, newDatabase, newKey, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

/**
 * Edit-on-approve and the quorum of a grant: a reviewer lowers an amount before approving, the token
 * binds the edited arguments (the agent sees both, the ledger keeps both), and /consume-token then
 * takes only the edited ones; every approving vote of a 2-of-N review must approve the same grant
 * and the same edits. Then the queued decision path with the SDK unchanged, and the CLI.
 */
for (const engine of ["pglite", "postgres"] as Engine[]) {
  describe(`edit-on-approve and grant quorum on ${engine}`, () => {
    let db: TestDatabase;
    let v: TestVault;
    let agent: string;
    let people: Record<string, Reviewer>;
    const request = async (args: Record<string, unknown>) => {
      const res = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: args, agent_id: "agent-7", session_id: "s-1" } });
      expect(res.body.status, JSON.stringify(res.body)).toBe("pending_review");
      return res.body.request_id as string;
    };
    const vote = (who: string, id: string, body: Record<string, unknown>) => call(v.url, "POST", `/reviews/${id}/decision`, { key: people[who]!.api_key, body: { approved: true, ...body } });

    beforeAll(async () => {
      db = newDatabase(engine);
      v = await startTestVault(db, { env: { ...steadyCel, VAULT_REVIEW_SWEEP_INTERVAL_SECONDS: "3600" } });
      agent = await newKey(v, "agent");
      people = await setUpGrants(v, ["ana", "bo", "cy"]);
    });
    afterAll(async () => {
      await v?.close();
      await db?.drop();
    });

    it("the token binds the edited arguments; the agent sees both; consume takes only the edited ones; the ledger keeps both", async () => {
      const original = { amount: 900, currency: "usd", order_id: "A-1043" };
      const edited = { amount: 500, currency: "usd", order_id: "A-1043" };
      const id = await request(original);
      const approved = await vote("ana", id, { review_reason: "partial refund only", edited_tool_args: edited });
      expect(approved.status, JSON.stringify(approved.body)).toBe(200);
      expect(approved.body).toMatchObject({ status: "approved", tool_args_hash: toolArgsHash(original), edited_tool_args: edited, edited_tool_args_hash: toolArgsHash(edited) });
      const seen = await call(v.url, "GET", `/clearance-status/${id}`, { key: agent });
      expect(ledgixClearanceResponse.parse(seen.body).status).toBe("approved");
      expect(seen.body).toMatchObject({ tool_args_hash: toolArgsHash(original), edited_tool_args: edited, edited_tool_args_hash: toolArgsHash(edited) });
      const claims = await verifyLikeSdk(v.url, seen.body.token);
      expect(claims.tool_args_hash).toBe(toolArgsHash(edited));
      const withOriginal = await call(v.url, "POST", "/consume-token", { key: agent, body: { token: seen.body.token, tool_name: "stripe_refund", tool_args: original } });
      expect(withOriginal.status).toBe(403);
      expect(withOriginal.body.code).toBe("token_binding_mismatch");
      const withEdited = await call(v.url, "POST", "/consume-token", { key: agent, body: { token: seen.body.token, tool_name: "stripe_refund", tool_args: edited } });
      expect(withEdited.status, JSON.stringify(withEdited.body)).toBe(200);
      expect(withEdited.body.tool_args_hash).toBe(toolArgsHash(edited));

      await v.vault.ctx.ledgerLoop.drain();
      const events = await ledgerEntriesOf(v, v.adminKey, id);
      const approval = events.find((e) => e.event_type === "review.approved")!;
      expect(approval.tool_args).toEqual(original);
      expect(approval.intent_hash || approval.intent_hash_committed).toBe(toolArgsHash(original));
      expect(approval.evidence_chunks).toContainEqual({ type: "edit", args: canonicalJson(edited), hash: toolArgsHash(edited) });
      expect(approval.reason).toContain("with edited arguments");
      // The burn names the edited arguments the token was for.
      const burn = events.find((e) => e.event_type === "token.consumed")!;
      expect(burn.evidence_chunks).toContainEqual({ type: "edit", args: canonicalJson(edited), hash: toolArgsHash(edited) });
      const detail = await call(v.url, "GET", `/reviews/${id}`, { key: people.bo!.api_key });
      expect(detail.body).toMatchObject({ edited_tool_args: edited, approval_terms: { grant: null, edited_tool_args: edited } });
    });

    it("an edit may not turn the action into one the policy denies", async () => {
      const id = await request({ amount: 900, currency: "usd" });
      const res = await vote("ana", id, { edited_tool_args: { amount: 5000, currency: "usd" } });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: "edited_args_denied", detail: expect.stringContaining("The policy denies the edited arguments: ") });
      expect(res.body.detail).toContain("Amount exceeds $1000 limit");
      expect((await vote("ana", id, { edited_tool_args: { amount: 50, currency: "usd" } })).body.status).toBe("approved");
    });

    it("edited arguments equal to the requested ones are no edit; a constraint is checked on the edited arguments", async () => {
      const args = { amount: 900, currency: "usd" };
      const same = await vote("ana", await request(args), { edited_tool_args: { currency: "usd", amount: 900 } });
      expect(same.body).toMatchObject({ status: "approved", tool_args_hash: toolArgsHash(args) });
      expect(same.body.edited_tool_args).toBeUndefined();
      const id = await request(args);
      const both = await vote("ana", id, { edited_tool_args: { amount: 150, currency: "usd" }, grant: { scope: "window", window_minutes: 30, constraint: "args.amount <= 200" } });
      expect(both.status, JSON.stringify(both.body)).toBe(200);
      expect(both.body.grant).toMatchObject({ constraint: "args.amount <= 200", source_request_id: id });
      await call(v.url, "POST", `/grants/${both.body.grant.id}/revoke`, { key: v.adminKey, body: {} });
    });

    it("2 of N: every approving vote must carry the same grant and edits as the first (409 vote_mismatch), and the grant records both", async () => {
      expect((await call(v.url, "PUT", "/review-settings", { key: v.adminKey, body: { minimum_confidence_bucket: "high", approvals_required: 2 } })).status).toBe(200);
      const grant = { scope: "window", window_minutes: 30, constraint: "args.amount <= 300" };
      const id = await request({ amount: 250, currency: "usd" });
      const first = await vote("ana", id, { grant });
      expect(first.body).toMatchObject({ status: "pending_review", review: { approvals: { received: 1, required: 2 } } });
      expect(first.body.grant).toBeUndefined();
      for (const other of [{ grant: { ...grant, window_minutes: 60 } }, {}, { grant: { scope: "once" } }, { grant, edited_tool_args: { amount: 200, currency: "usd" } }]) {
        const res = await vote("bo", id, other);
        expect(res.status, JSON.stringify(res.body)).toBe(409);
        expect(res.body.code).toBe("vote_mismatch");
      }
      expect((await vote("bo", id, { grant: { ...grant, window_minutes: 60 } })).body.detail).toBe(
        "Grant differs: the first approval granted window 30 min where args.amount <= 300; this vote grants window 60 min where args.amount <= 300. Approve the same terms, or deny",
      );
      const second = await vote("bo", id, { grant });
      expect(second.status, JSON.stringify(second.body)).toBe(200);
      expect(second.body).toMatchObject({ status: "approved", grant: { approvers: [{ reviewer_name: "ana" }, { reviewer_name: "bo" }] } });
      await v.vault.ctx.ledgerLoop.drain();
      const events = await ledgerEntriesOf(v, v.adminKey, id);
      expect(events.find((e) => e.event_type === "review.vote")!.evidence_chunks).toContainEqual({ type: "grant", grant: "", scope: "window", constraint: "args.amount <= 300" });
      expect(events.find((e) => e.event_type === "review.approved")!.evidence_chunks).toContainEqual({ type: "grant", grant: second.body.grant.id, scope: "window", constraint: "args.amount <= 300" });
      // Under 2-of-N rules, the two approvals behind it cover a later request.
      const later = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 280, currency: "usd" }, agent_id: "agent-7" } });
      expect(later.body).toMatchObject({ status: "approved", grant_id: second.body.grant.id });
      await call(v.url, "POST", `/grants/${second.body.grant.id}/revoke`, { key: v.adminKey, body: {} });
      expect((await call(v.url, "PUT", "/review-settings", { key: v.adminKey, body: { minimum_confidence_bucket: "high", approvals_required: 1 } })).status).toBe(200);
    });
  });
}

describe("grants on the queued decision path, with the SDK unchanged, and the CLI", () => {
  let db: TestDatabase;
  let v: TestVault;
  let people: Record<string, Reviewer>;
  let cs: Countersign;
  let env: Record<string, string>;

  beforeAll(async () => {
    db = newDatabase("pglite");
    v = await startTestVault(db, { env: { ...steadyCel, VAULT_CLEARANCE_MODE: "queued", VAULT_REVIEW_SWEEP_INTERVAL_SECONDS: "3600" } });
    cs = new Countersign({ baseUrl: v.url, apiKey: await newKey(v, "agent"), timeoutMs: 10_000 });
    people = await setUpGrants(v, ["ana"]);
    env = { COUNTERSIGN_URL: v.url, COUNTERSIGN_API_KEY: people.ana!.api_key };
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it("a grant approves a queued request the SDK asked for; the CLI lists, shows and revokes it, which stops it", async () => {
    const args = { amount: 40, currency: "usd" };
    const first = await cs.requestClearance({ tool: "stripe_refund", args, agentId: "agent-7" }, { waitSeconds: 10 });
    expect(first.status).toBe("pending_review");
    const vote = await call(v.url, "POST", `/reviews/${first.requestId}/decision`, {
      key: people.ana!.api_key,
      body: { approved: true, grant: { scope: "window", window_minutes: 90, constraint: 'args.amount <= 50 && args.currency == "usd"' } },
    });
    expect(vote.status, JSON.stringify(vote.body)).toBe(200);
    const grantId = vote.body.grant.id as string;
    const later = await cs.requestClearance({ tool: "stripe_refund", args: { amount: 45, currency: "usd" }, agentId: "agent-7" }, { waitSeconds: 10 });
    expect(later).toMatchObject({ status: "approved", reasonCode: "grant_approved" });
    expect(later.raw.grant_id).toBe(grantId);
    const claims = await cs.verifyToken(later.token!, { tool: "stripe_refund", args: { amount: 45, currency: "usd" }, tenantId: v.tenantId });
    expect(claims.request_id).toBe(later.requestId);

    const listed = await runCli(["grants", "list", "--json"], env);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout).grants.map((g: { id: string }) => g.id)).toEqual([grantId]);
    const text = await runCli(["grants", "list"], env);
    expect(text.stdout).toContain(`${grantId}  active   window   stripe_refund  agent agent-7  until `);
    expect(text.stdout).toContain("where amount ≤ 50 and currency = usd");
    const shown = await runCli(["grants", "show", grantId], env);
    expect(shown.stdout).toContain(`from:        ${first.requestId}, approved by ana`);
    const revoked = await runCli(["grants", "revoke", grantId, "--reason", "done", "--json"], env);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(JSON.parse(revoked.stdout)).toMatchObject({ id: grantId, status: "revoked", revoke_reason: "done" });
    expect((await runCli(["grants", "revoke", grantId], env)).stderr).toContain("grant_already_revoked");
    const after = await cs.requestClearance({ tool: "stripe_refund", args: { amount: 45, currency: "usd" }, agentId: "agent-7" }, { waitSeconds: 10 });
    expect(after.status).toBe("pending_review");
    expect((await runCli(["grants", "list"], env)).stdout.trim()).toBe("(no grants)");
  });
});

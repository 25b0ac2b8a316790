import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { toolArgsHash } from "../../src/tokens/canonical-json.js";
import { grantListSchema, grantSchema } from "../../src/http/openapi/schemas/grants.js";
import { reviewDecisionResponseSchema, reviewDetailSchema } from "../../src/http/openapi/schemas/reviews.js";
import { allowPrivate, deliveries, register } from "../helpers/outbox-api.js";
import { ledgerEntriesOf, setUpGrants, steadyCel, type Reviewer } from "../helpers/grants.js";
import { ledgixClearanceResponse, verifyLikeSdk } from "../helpers/sdk-checks.js";
import { call, newDatabase, newKey, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

/**
 * Scoped grants end to end, through the endpoints the Ledgix SDK uses as it always has
 * (/request-clearance, /clearance-status, /consume-token; answers checked against the SDK's own
 * response contract and tokens verified as it verifies them): a reviewer widens an approval into a
 * window grant with a constraint, later matching requests are approved by it with their own token and
 * ledger event naming the grant, anything else still goes to a person, and a revoke stops it at once.
 */
for (const engine of ["pglite", "postgres"] as Engine[]) {
  describe(`scoped grants on ${engine}`, () => {
    let db: TestDatabase;
    let v: TestVault;
    let agent: string;
    let otherAgentKey: string;
    let people: Record<string, Reviewer>;
    const clock = new ManualClock(Date.now());
    let orders = 0;
    const refund = (args: Record<string, unknown>, extra: Record<string, unknown> = {}, key = agent) =>
      call(v.url, "POST", "/request-clearance", {
        key,
        body: { tool_name: "stripe_refund", tool_args: { order_id: `o-${++orders}`, currency: "usd", ...args }, agent_id: "agent-7", session_id: "s-1", ...extra },
      });
    const pending = async (args: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
      const res = await refund(args, extra);
      expect(res.body, JSON.stringify(res.body)).toMatchObject({ status: "pending_review", reason_code: "policy_default" });
      return res.body.request_id as string;
    };
    const vote = (who: string, id: string, body: Record<string, unknown>) => call(v.url, "POST", `/reviews/${id}/decision`, { key: people[who]!.api_key, body: { approved: true, ...body } });
    const windowGrant = { scope: "window", window_minutes: 60, constraint: 'args.amount <= 200 && args.currency == "usd"' };

    beforeAll(async () => {
      db = newDatabase(engine);
      v = await startTestVault(db, { env: { ...allowPrivate, ...steadyCel, VAULT_REVIEW_SWEEP_INTERVAL_SECONDS: "3600" }, overrides: { clock } });
      agent = await newKey(v, "agent");
      otherAgentKey = await newKey(v, "agent");
      people = await setUpGrants(v, ["ana", "bo"]);
    });
    afterAll(async () => {
      await v?.close();
      await db?.drop();
    });

    it("an approval widened into a window grant approves later matching requests, each with its own token and ledger event naming the grant", async () => {
      const first = await pending({ amount: 150 });
      const approved = await vote("ana", first, { review_reason: "refunds like this for the next hour", grant: windowGrant });
      expect(approved.status, JSON.stringify(approved.body)).toBe(200);
      reviewDecisionResponseSchema.parse(approved.body);
      const grant = approved.body.grant;
      expect(grant).toMatchObject({
        status: "active",
        scope: "window",
        tool_name: "stripe_refund",
        policy_id: "refund-policy",
        agent_id: "agent-7",
        window_minutes: 60,
        constraint: windowGrant.constraint,
        constraint_words: "amount ≤ 200 and currency = usd",
        source_request_id: first,
        approvers: [{ reviewer_id: people.ana!.reviewer_id, reviewer_name: "ana", passkey: false }],
      });
      expect(new Date(grant.expires_at).getTime() - new Date(grant.starts_at).getTime()).toBe(60 * 60_000);
      expect(approved.body).toMatchObject({ status: "approved", reason_code: "review_approved" });

      // A later request the constraint covers: approved by the grant, as the SDK reads it.
      const args = { amount: 180, currency: "usd", order_id: "o-later" };
      const later = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: args, agent_id: "agent-7", session_id: "s-2" } });
      expect(later.status).toBe(200);
      const sdkView = ledgixClearanceResponse.parse(later.body);
      expect(sdkView).toMatchObject({ status: "approved", decision_status: "approved", reason_code: "grant_approved", policy_version_id: null });
      expect(later.body.grant_id).toBe(grant.id);
      expect(later.body.reason).toContain(`Approved by grant ${grant.id}`);
      const claims = await verifyLikeSdk(v.url, later.body.token);
      expect(claims).toMatchObject({ tool: "stripe_refund", tool_args_hash: toolArgsHash(args), agent_id: "agent-7", request_id: later.body.request_id });
      const status = await call(v.url, "GET", `/clearance-status/${later.body.request_id}`, { key: agent });
      expect(status.body).toMatchObject({ status: "approved", grant_id: grant.id, token: later.body.token });
      const consumed = await call(v.url, "POST", "/consume-token", { key: agent, body: { token: later.body.token, tool_name: "stripe_refund", tool_args: args } });
      expect(consumed.status, JSON.stringify(consumed.body)).toBe(200);
      // Not re-issuable: a re-issue would outlive a revoke of the grant.
      const mint = await call(v.url, "POST", "/mint-token", { key: agent, body: { tool_name: "stripe_refund", tool_args: args, original_request_id: later.body.request_id } });
      expect(mint.body.code).toBe("approval_not_reusable");

      await v.vault.ctx.ledgerLoop.drain();
      const [event] = await ledgerEntriesOf(v, agent, later.body.request_id);
      expect(event).toMatchObject({ event_type: "clearance.approved", approved: true });
      // Served redacted to SDK users when a body has keys the SDK would rename (the retrieval evidence): the hash is then `intent_hash_committed`.
      expect(event!.intent_hash || event!.intent_hash_committed).toBe(toolArgsHash(args));
      expect(event!.evidence_chunks).toContainEqual({ type: "grant", grant: grant.id, scope: "window", constraint: windowGrant.constraint });
      // The source approval names the grant too, and the grant's creation is its own audit event.
      const source = await ledgerEntriesOf(v, agent, first);
      expect(source.at(-1)).toMatchObject({ event_type: "review.approved" });
      expect(source.at(-1)!.evidence_chunks).toContainEqual({ type: "grant", grant: grant.id, scope: "window", constraint: windowGrant.constraint });
      const [created] = await ledgerEntriesOf(v, agent, grant.id);
      expect(created).toMatchObject({ event_type: "vault.audit", event_uuid: grant.created_event_uuid, tool_name: "audit:grant.created", agent_id: people.ana!.reviewer_id, policy_id: "refund-policy" });
      expect(created!.tool_args).toMatchObject({ grant: grant.id, scope: "window", tool: "stripe_refund", agent: "agent-7", minutes: 60, request: first, approvers: [people.ana!.reviewer_id] });
      const bundle = await call(v.url, "GET", `/ledger/proof/bundle?request_id=${grant.id}`, { key: agent });
      expect(bundle.status).toBe(200);
    });

    it("never widens past a binding deny or review condition, nor to another agent, key, tool, or arguments the constraint excludes", async () => {
      const { id } = ((await call(v.url, "GET", "/grants", { key: people.bo!.api_key })).body.grants as { id: string }[])[0]!;
      expect(id).toMatch(/^grt_/);
      // The constraint is false.
      expect((await refund({ amount: 250 })).body).toMatchObject({ status: "pending_review", reason_code: "policy_default" });
      expect((await refund({ amount: 150, currency: "eur" })).body.status).toBe("pending_review");
      // A constraint that cannot be evaluated (no amount): no grant (fail closed); the condition errors too.
      expect((await refund({ note: "no amount" })).body.status).toBe("pending_review");
      // A binding review condition and a binding deny are never widened.
      expect((await refund({ amount: 150, flagged: true })).body).toMatchObject({ status: "pending_review", reason_code: "condition_matched" });
      expect((await refund({ amount: 1500 })).body).toMatchObject({ status: "denied", reason_code: "condition_matched" });
      // Another agent, another API key with the same agent_id, another tool.
      expect((await refund({ amount: 150 }, { agent_id: "agent-8" })).body.status).toBe("pending_review");
      expect((await refund({ amount: 150 }, {}, otherAgentKey)).body.status).toBe("pending_review");
      const payout = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_payout", tool_args: { amount: 150, currency: "usd" }, agent_id: "agent-7" } });
      expect(payout.body).toMatchObject({ status: "pending_review", reason_code: "policy_default" });
      // And the matching one still is.
      expect((await refund({ amount: 199 })).body).toMatchObject({ status: "approved", grant_id: id });
    });

    it("a grant stops counting when the review rules tighten past its approvals", async () => {
      expect((await call(v.url, "PUT", "/review-settings", { key: v.adminKey, body: { minimum_confidence_bucket: "high", approvals_required: 2 } })).status).toBe(200);
      expect((await refund({ amount: 120 })).body.status).toBe("pending_review");
      expect((await call(v.url, "PUT", "/review-settings", { key: v.adminKey, body: { minimum_confidence_bucket: "high", approvals_required: 1 } })).status).toBe(200);
      expect((await refund({ amount: 120 })).body.status).toBe("approved");
    });

    it("revoking stops the grant at once, in the ledger and as a grant.revoked webhook", async () => {
      const hook = await register(v, "http://127.0.0.1:9/grant-hook", { events: ["grant.revoked"] });
      const [g] = (await call(v.url, "GET", "/grants", { key: people.bo!.api_key })).body.grants;
      const revoked = await call(v.url, "POST", `/grants/${g.id}/revoke`, { key: people.bo!.api_key, body: { reason: "ticket closed" } });
      expect(revoked.status, JSON.stringify(revoked.body)).toBe(200);
      grantSchema.parse(revoked.body);
      expect(revoked.body).toMatchObject({ id: g.id, status: "revoked", revoked_by: people.bo!.reviewer_id, revoke_reason: "ticket closed" });
      expect((await refund({ amount: 150 })).body).toMatchObject({ status: "pending_review", reason_code: "policy_default" });
      expect((await call(v.url, "POST", `/grants/${g.id}/revoke`, { key: people.bo!.api_key, body: {} })).body.code).toBe("grant_already_revoked");
      expect((await call(v.url, "GET", "/grants", { key: people.bo!.api_key })).body.grants).toEqual([]);
      const all = await call(v.url, "GET", "/grants?status=all", { key: v.adminKey });
      grantListSchema.parse(all.body);
      expect(all.body.grants.map((x: { id: string }) => x.id)).toContain(g.id);
      const [delivery] = await deliveries(v, hook.id);
      expect(delivery).toMatchObject({ event_type: "grant.revoked" });
      await v.vault.ctx.ledgerLoop.drain();
      const events = await ledgerEntriesOf(v, v.adminKey, g.id);
      expect(events.map((e) => e.tool_name)).toEqual(["audit:grant.created", "audit:grant.revoked"]);
      expect(events[1]).toMatchObject({ event_uuid: revoked.body.revoked_event_uuid, agent_id: people.bo!.reviewer_id });
      // Agents may not list or revoke grants; unknown grants are 404.
      expect((await call(v.url, "GET", "/grants", { key: agent })).body.code).toBe("insufficient_scope");
      expect((await call(v.url, "POST", `/grants/${g.id}/revoke`, { key: agent, body: {} })).body.code).toBe("insufficient_scope");
      expect((await call(v.url, "GET", "/grants/grt_nope", { key: v.adminKey })).body.code).toBe("grant_not_found");
    });

    it("a window grant ends when its window does", async () => {
      const id = await pending({ amount: 60 });
      const res = await vote("ana", id, { grant: { scope: "window", window_minutes: 1 } });
      expect(res.body.grant).toMatchObject({ window_minutes: 1, constraint: null, constraint_words: "any arguments" });
      expect((await refund({ amount: 70 })).body.status).toBe("approved");
      clock.advance(61_000);
      expect((await refund({ amount: 70 })).body.status).toBe("pending_review");
      expect((await call(v.url, "GET", `/grants/${res.body.grant.id}`, { key: v.adminKey })).body.status).toBe("expired");
    });

    it("a session grant covers only that agent's session, and a request without a session cannot make one", async () => {
      const id = await pending({ amount: 80 }, { session_id: "sess-A" });
      const res = await vote("ana", id, { grant: { scope: "session", constraint: "args.amount < 100" } });
      expect(res.body.grant).toMatchObject({ scope: "session", session_id: "sess-A", window_minutes: null });
      expect((await refund({ amount: 90 }, { session_id: "sess-A" })).body).toMatchObject({ status: "approved", grant_id: res.body.grant.id });
      expect((await refund({ amount: 90 }, { session_id: "sess-B" })).body.status).toBe("pending_review");
      expect((await refund({ amount: 90 }, { session_id: "" })).body.status).toBe("pending_review");
      const sessionless = await pending({ amount: 80 }, { session_id: "" });
      expect((await vote("ana", sessionless, { grant: { scope: "session" } })).body.code).toBe("grant_not_allowed");
      await call(v.url, "POST", `/grants/${res.body.grant.id}/revoke`, { key: v.adminKey, body: {} });
    });

    it("refuses a constraint that does not compile, reads more than args, or is false on the request; and a grant on a deny", async () => {
      const id = await pending({ amount: 150 });
      const bad = async (grant: Record<string, unknown>, code: string) => {
        const res = await vote("ana", id, { grant });
        expect(res.status, JSON.stringify(res.body)).toBe(400);
        expect(res.body.code).toBe(code);
      };
      await bad({ scope: "window", window_minutes: 5, constraint: "args.amount <=" }, "invalid_constraint");
      await bad({ scope: "window", window_minutes: 5, constraint: 'context.team == "a"' }, "invalid_constraint");
      await bad({ scope: "window", window_minutes: 5, constraint: "args.amount < 100" }, "constraint_excludes_request");
      await bad({ scope: "window" }, "validation_failed");
      await bad({ scope: "week", window_minutes: 5 }, "validation_failed");
      const deny = await call(v.url, "POST", `/reviews/${id}/decision`, { key: people.ana!.api_key, body: { approved: false, grant: { scope: "session" } } });
      expect(deny.body.code).toBe("grant_not_allowed");
      // None of it was a vote: ana may still approve.
      expect((await vote("ana", id, {})).body.status).toBe("approved");
      // The plain-words endpoint the console types into.
      const words = await call(v.url, "POST", "/grants/describe-constraint", { key: people.bo!.api_key, body: { constraint: 'args.amount <= 200 && args.currency == "usd"' } });
      expect(words.body).toEqual({ valid: true, words: "amount ≤ 200 and currency = usd" });
      const invalid = await call(v.url, "POST", "/grants/describe-constraint", { key: people.bo!.api_key, body: { constraint: "tool == 'x'" } });
      expect(invalid.body).toMatchObject({ valid: false, words: "tool == 'x'", error: expect.stringContaining("reads only args") });
    });

    it("the review detail shows what further approvals must repeat, and what came of it", async () => {
      const id = await pending({ amount: 150 });
      await vote("ana", id, { grant: { scope: "window", window_minutes: 15 } });
      const detail = await call(v.url, "GET", `/reviews/${id}`, { key: people.bo!.api_key });
      reviewDetailSchema.parse(detail.body);
      expect(detail.body).toMatchObject({ approval_terms: { grant: { scope: "window", window_minutes: 15, constraint: null }, edited_tool_args: null }, created_grant_id: expect.stringMatching(/^grt_/), grant_id: null });
    });
  });
}

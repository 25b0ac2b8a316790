import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { trustedKeysFromJwks, verifyProofBundle } from "../../src/ledger/verify/bundle-verifier.js";
import { createApiKey, revokeApiKey } from "../../src/tenancy/api-keys.js";
import { toolArgsHash } from "../../src/tokens/canonical-json.js";
import { fetchJwks, fetchLedgerProofBundle, verifyLedgerProofBundle } from "../helpers/ledgix-ledger-verifier.js";
import { grantPolicy, setUpGrants, steadyCel, type Reviewer } from "../helpers/grants.js";
import { allowPrivate, register } from "../helpers/outbox-api.js";
import { metricValue } from "../helpers/outbox-receivers.js";
import { call, newDatabase, newKey, newTenant, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

/**
 * Scoped grants and edit-on-approve under attack (review R3 of issue 17): what a hostile agent, a
 * careless or hostile reviewer, or another tenant could try, against a real vault on both engines.
 * Fixed here: an edit the policy could not judge (a deny condition erroring on it, whichever policy is
 * listed first) slipped past the deny; an oversized edit skipped the arguments' size budget; a listing
 * cursor (grants, and the review queue) made a 500; an edited approval's webhooks showed only the
 * original arguments; a vote bound to be refused still had its edit judged (an LLM call); a vote
 * mismatch on look-alike text read the same twice; a disabled reviewer's grants kept approving. Also
 * kept here: vote terms compared canonically, tenant isolation, SDK-style verification of the ledger
 * events. Two vault processes and the queued path: grants-race.test.ts.
 */

const env = { ...steadyCel, VAULT_REVIEW_SWEEP_INTERVAL_SECONDS: "3600" };

const cursorOf = (at: string, id = "grt_x") => Buffer.from(JSON.stringify([at, id])).toString("base64url");

/**
 * Two policies on one tool (the judge lists them by policy_id): a deny on large amounts, and a review
 * on every usd request; `order` says which one's id sorts first.
 */
async function twoPolicies(v: TestVault, tool: string, order: "deny-first" | "review-first") {
  const [denyId, reviewId] = order === "deny-first" ? [`${tool}-1-limits`, `${tool}-2-usd`] : [`${tool}-2-limits`, `${tool}-1-usd`];
  const deny = { policy_id: denyId, description: "Limits", rules: ["No transfers over $1000"], tools: [tool], default_decision: "review", conditions: [{ id: "too-large", when: "args.amount > 1000", decision: "deny", reason: "Over $1000" }] };
  const review = { policy_id: reviewId, description: "USD transfers", rules: ["USD transfers need a person"], tools: [tool], default_decision: "review", conditions: [{ id: "usd", when: 'args.currency == "usd"', decision: "review", reason: "USD needs a person" }] };
  for (const body of [deny, review]) {
    const res = await call(v.url, "POST", "/register-policy", { key: v.adminKey, body });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  }
}

for (const engine of ["pglite", "postgres"] as Engine[]) {
  describe(`grants and edits under attack on ${engine}`, () => {
    let db: TestDatabase;
    let v: TestVault;
    let agent: string;
    let people: Record<string, Reviewer>;
    const request = async (tool: string, args: Record<string, unknown>) => {
      const res = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: tool, tool_args: args, agent_id: "agent-7", session_id: "s-1" } });
      expect(res.body.status, JSON.stringify(res.body)).toBe("pending_review");
      return res.body.request_id as string;
    };
    const vote = (who: string, id: string, body: Record<string, unknown>) => call(v.url, "POST", `/reviews/${id}/decision`, { key: people[who]!.api_key, body: { approved: true, ...body } });

    beforeAll(async () => {
      db = newDatabase(engine);
      v = await startTestVault(db, { env: { ...allowPrivate, ...env, VAULT_MAX_ARRAY_LENGTH: "100" } });
      agent = await newKey(v, "agent");
      people = await setUpGrants(v, ["ana", "bo"]);
      await twoPolicies(v, "wire_a", "deny-first");
      await twoPolicies(v, "wire_b", "review-first");
    });
    afterAll(async () => {
      await v?.close();
      await db?.drop();
    });

    it("refuses an edit the policy cannot judge: a deny condition that errors on the edited arguments never ran", async () => {
      const id = await request("stripe_refund", { amount: 900, currency: "usd" });
      // `args.amount > 1000` errors on a string, and on a missing amount: the edit would escape the deny.
      for (const edited of [{ amount: "5000", currency: "usd" }, { currency: "usd", note: "amount removed" }]) {
        const res = await vote("ana", id, { edited_tool_args: edited });
        expect(res.status, JSON.stringify(res.body)).toBe(400);
        expect(res.body).toMatchObject({ code: "edited_args_denied", detail: expect.stringContaining("could not judge the edited arguments (condition_error") });
      }
      // None of it was a vote; an edit the policy can judge still goes through.
      const ok = await vote("ana", id, { edited_tool_args: { amount: 500, currency: "usd" } });
      expect(ok.body).toMatchObject({ status: "approved", edited_tool_args_hash: toolArgsHash({ amount: 500, currency: "usd" }) });
    });

    it("whichever of two policies is listed first, a review an erroring deny took part in is never a clean condition match", async () => {
      for (const tool of ["wire_a", "wire_b"]) {
        const id = await request(tool, { amount: 900, currency: "usd" });
        const res = await vote("ana", id, { edited_tool_args: { amount: "5000", currency: "usd" } });
        expect(res.status, `${tool}: ${JSON.stringify(res.body)}`).toBe(400);
        expect(res.body.detail).toContain("condition_error");
        // The same request judged live says so too.
        const live = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: tool, tool_args: { amount: "5000", currency: "usd" }, agent_id: "agent-7" } });
        expect(live.body).toMatchObject({ status: "pending_review", reason_code: "condition_error" });
        expect((await vote("ana", id, { edited_tool_args: { amount: 800, currency: "usd" } })).body.status).toBe("approved");
      }
    });

    it("webhooks of an edited approval, and of its burn, carry the edited arguments; a grant's approval names the grant", async () => {
      const hook = await register(v, "http://127.0.0.1:9/edit-hook", { events: ["request.approved", "token.consumed"] });
      const payloads = async (requestId: string) => {
        const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
        const rows = await sql.query<{ event_type: string; payload: string }>("SELECT event_type, payload FROM outbox WHERE endpoint_id = $1 AND request_id = $2 ORDER BY id", [hook.id, requestId]);
        return rows.map((r) => ({ type: r.event_type, data: JSON.parse(r.payload).data as Record<string, unknown> }));
      };
      const original = { amount: 900, currency: "usd", order_id: "W-1" };
      const edited = { amount: 90, currency: "usd", order_id: "W-1" };
      const id = await request("stripe_refund", original);
      const approved = await vote("ana", id, { edited_tool_args: edited, grant: { scope: "window", window_minutes: 5, constraint: "args.amount <= 90" } });
      expect(approved.body.status, JSON.stringify(approved.body)).toBe("approved");
      const consumed = await call(v.url, "POST", "/consume-token", { key: agent, body: { token: (await call(v.url, "GET", `/clearance-status/${id}`, { key: agent })).body.token, tool_name: "stripe_refund", tool_args: edited } });
      expect(consumed.status).toBe(200);
      const sent = await payloads(id);
      expect(sent.map((p) => p.type)).toEqual(["request.approved", "token.consumed"]);
      for (const p of sent) expect(p.data).toMatchObject({ tool_args: original, edited_tool_args: edited, edited_tool_args_hash: toolArgsHash(edited) });
      // A request the grant approved names it; one neither edited nor granted keeps its old shape.
      const later = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 80, currency: "usd" }, agent_id: "agent-7" } });
      expect(later.body.grant_id).toBe(approved.body.grant.id);
      expect((await payloads(later.body.request_id))[0]!.data).toMatchObject({ grant_id: approved.body.grant.id });
      await call(v.url, "POST", `/grants/${approved.body.grant.id}/revoke`, { key: v.adminKey, body: {} });
      const plain = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 80, currency: "usd" }, agent_id: "agent-7" } });
      await vote("ana", plain.body.request_id, {});
      const [plainSent] = await payloads(plain.body.request_id);
      expect(Object.keys(plainSent!.data)).not.toContain("edited_tool_args");
      expect(Object.keys(plainSent!.data)).not.toContain("grant_id");
    });

    it("a vote that will be refused anyway does not get its edit judged first (with an LLM, a paid call per retry)", async () => {
      const id = await request("stripe_refund", { amount: 900, currency: "usd" });
      expect((await vote("ana", id, {})).body.status).toBe("approved");
      const judged = () => metricValue(v, "countersign_judge_step_seconds_count", 'step="conditions"');
      const before = await judged();
      for (let i = 0; i < 3; i++) {
        const res = await vote("bo", id, { edited_tool_args: { amount: 100 + i, currency: "usd" } });
        expect(res.body.code).toBe("request_not_pending");
      }
      expect(await judged()).toBe(before);
    });

    it("every event of an edited approval, a grant's use and the grant itself verifies the Ledgix SDK's way and the vault's", async () => {
      const id = await request("stripe_refund", { amount: 700, currency: "usd", order_id: "L-1" });
      const approved = await vote("ana", id, { edited_tool_args: { amount: 70, currency: "usd", order_id: "L-1" }, grant: { scope: "window", window_minutes: 5, constraint: "args.amount >= 70 && args.amount <= 71" } });
      expect(approved.body.status, JSON.stringify(approved.body)).toBe("approved");
      const used = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 71, currency: "usd", order_id: "L-2" }, agent_id: "agent-7" } });
      expect(used.body.grant_id).toBe(approved.body.grant.id);
      await call(v.url, "POST", `/grants/${approved.body.grant.id}/revoke`, { key: v.adminKey, body: {} });
      await v.vault.ctx.ledgerLoop.drain();
      const jwks = await fetchJwks(v.url, agent);
      const rawJwks = (await call(v.url, "GET", "/.well-known/jwks.json")).body;
      const entries = ((await call(v.url, "GET", "/ledger?limit=1000", { key: v.adminKey })).body.entries as { request_id: string; event_uuid: string }[]).filter((e) =>
        [id, used.body.request_id, approved.body.grant.id].includes(e.request_id),
      );
      expect(entries.length).toBeGreaterThanOrEqual(5);
      for (const e of entries) {
        const wire = await call(v.url, "GET", `/ledger/proof/bundle?request_id=${e.request_id}&event_uuid=${e.event_uuid}`, { key: agent });
        expect(wire.status, JSON.stringify(wire.body)).toBe(200);
        const report = verifyProofBundle(wire.body, trustedKeysFromJwks(rawJwks), { requireBody: true });
        expect(report.ok, JSON.stringify(report.checks.filter((c) => !c.ok))).toBe(true);
        expect(verifyLedgerProofBundle(await fetchLedgerProofBundle(v.url, agent, e.request_id, { event_uuid: e.event_uuid }), jwks).intact).toBe(true);
      }
    });

    it("edited arguments get the same size budget as requested ones (413 args_too_large)", async () => {
      const id = await request("stripe_refund", { amount: 900, currency: "usd" });
      const res = await vote("ana", id, { edited_tool_args: { amount: 10, currency: "usd", lines: Array.from({ length: 101 }, (_, i) => i) } });
      expect(res.status, JSON.stringify(res.body)).toBe(413);
      expect(res.body).toMatchObject({ code: "args_too_large", detail: expect.stringContaining("/edited_tool_args/lines has 101 items") });
      expect((await vote("ana", id, { edited_tool_args: { amount: 10, currency: "usd", lines: [1, 2] } })).body.status).toBe("approved");
    });

    it("a listing cursor holding a time PostgreSQL cannot store is a 400, not a 500", async () => {
      for (const at of ["-100000-01-01T00:00:00.000Z", "+200000-01-01T00:00:00.000Z", "0000-01-01T00:00:00.000Z", "2026-13-01T00:00:00.000Z"]) {
        const res = await call(v.url, "GET", `/grants?status=all&cursor=${cursorOf(at)}`, { key: v.adminKey });
        expect(res.status, `${at}: ${JSON.stringify(res.body)}`).toBe(400);
        expect(res.body.code).toBe("bad_request");
      }
      expect((await call(v.url, "GET", `/grants?cursor=${cursorOf("2026-01-01T00:00:00.000Z", "grt_\u0000")}`, { key: v.adminKey })).status).toBe(400);
      // The review queue's cursor had the same hole (any text Date.parse takes went to the query).
      for (const at of ["-100000-01-01T00:00:00.000Z", "+200000-01-01T00:00:00.000Z", "0000-01-01T00:00:00.000Z"]) {
        const res = await call(v.url, "GET", `/reviews?cursor=${cursorOf(at, "req_x")}`, { key: v.adminKey });
        expect(res.status, `${at}: ${JSON.stringify(res.body)}`).toBe(400);
        expect(res.body.code).toBe("validation_failed");
      }
      // A cursor the listing gave still pages.
      for (let i = 0; i < 3; i++) {
        const id = await request("stripe_refund", { amount: 10 + i, currency: "usd" });
        expect((await vote("bo", id, { grant: { scope: "window", window_minutes: 5, constraint: `args.amount == ${10 + i}` } })).status).toBe(200);
      }
      const first = await call(v.url, "GET", "/grants?limit=2", { key: v.adminKey });
      const second = await call(v.url, "GET", `/grants?limit=2&cursor=${first.body.next_cursor}`, { key: v.adminKey });
      expect(second.status, JSON.stringify(second.body)).toBe(200);
      expect([...first.body.grants, ...second.body.grants].map((g: { id: string }) => g.id)).toHaveLength(3);
    });

    it("2 of N: the same edit in another key order or number form is the same vote; another Unicode form is not, and says so", async () => {
      expect((await call(v.url, "PUT", "/review-settings", { key: v.adminKey, body: { minimum_confidence_bucket: "high", approvals_required: 2 } })).status).toBe(200);
      try {
        const same = await request("stripe_refund", { amount: 900, currency: "usd" });
        expect((await vote("ana", same, { edited_tool_args: { amount: 150, currency: "usd", rates: [1.5, 1e21] } })).body.status).toBe("pending_review");
        const second = await vote("bo", same, { edited_tool_args: { rates: [15e-1, 1000000000000000000000], currency: "usd", amount: 150.0 } });
        expect(second.body, JSON.stringify(second.body)).toMatchObject({ status: "approved", edited_tool_args_hash: toolArgsHash({ amount: 150, currency: "usd", rates: [1.5, 1e21] }) });
        const nfc = await request("stripe_refund", { amount: 900, currency: "usd" });
        expect((await vote("ana", nfc, { edited_tool_args: { amount: 150, currency: "usd", payee: "caf\u00e9" } })).body.status).toBe("pending_review");
        const nfd = await vote("bo", nfc, { edited_tool_args: { amount: 150, currency: "usd", payee: "cafe\u0301" } });
        expect(nfd.status).toBe(409);
        expect(nfd.body.code).toBe("vote_mismatch");
        // Both read "café": the hashes tell them apart.
        expect(nfd.body.detail).toContain(`(hash ${toolArgsHash({ amount: 150, currency: "usd", payee: "caf\u00e9" }).slice(0, 12)}…)`);
        expect(nfd.body.detail).toContain(`(hash ${toolArgsHash({ amount: 150, currency: "usd", payee: "cafe\u0301" }).slice(0, 12)}…)`);
      } finally {
        await call(v.url, "PUT", "/review-settings", { key: v.adminKey, body: { minimum_confidence_bucket: "high", approvals_required: 1 } });
      }
    });

    it("disabling a reviewer stops the grants that needed their approval, for the next request", async () => {
      const carl = (await call(v.url, "POST", "/reviewers", { key: v.adminKey, body: { name: `carl-${engine}`, email: `carl-${engine}@example.com`, groups: ["finance"] } })).body;
      const id = await request("stripe_refund", { amount: 44, currency: "usd" });
      const granted = await call(v.url, "POST", `/reviews/${id}/decision`, { key: carl.api_key, body: { approved: true, grant: { scope: "window", window_minutes: 60, constraint: "args.amount == 44" } } });
      expect(granted.status, JSON.stringify(granted.body)).toBe(200);
      const again = () => call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 44, currency: "usd" }, agent_id: "agent-7" } });
      expect((await again()).body).toMatchObject({ status: "approved", grant_id: granted.body.grant.id });
      expect((await call(v.url, "DELETE", `/reviewers/${carl.reviewer_id}`, { key: v.adminKey })).status).toBe(200);
      expect((await again()).body).toMatchObject({ status: "pending_review", reason_code: "policy_default" });
      // The grant itself is untouched (it may still be revoked, and counts again for nobody).
      expect((await call(v.url, "GET", `/grants/${granted.body.grant.id}`, { key: v.adminKey })).body.status).toBe("active");

      // A key that voted without a reviewer identity (an admin key) counts while it is not revoked.
      const admin = await createApiKey(v.vault.ctx.control, { tenantId: v.tenantId, scope: "admin" });
      const other = await request("stripe_refund", { amount: 45, currency: "usd" });
      const byKey = await call(v.url, "POST", `/reviews/${other}/decision`, { key: admin.apiKey, body: { approved: true, grant: { scope: "window", window_minutes: 60, constraint: "args.amount == 45" } } });
      expect(byKey.status, JSON.stringify(byKey.body)).toBe(200);
      const again45 = () => call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 45, currency: "usd" }, agent_id: "agent-7" } });
      expect((await again45()).body).toMatchObject({ status: "approved", grant_id: byKey.body.grant.id });
      expect(await revokeApiKey(v.vault.ctx.control, admin.id)).toBe(true);
      expect((await again45()).body).toMatchObject({ status: "pending_review", reason_code: "policy_default" });
    });

    it("another tenant can neither see, revoke nor use a grant", async () => {
      const id = await request("stripe_refund", { amount: 33, currency: "usd" });
      const grant = (await vote("ana", id, { grant: { scope: "window", window_minutes: 30, constraint: "args.amount == 33" } })).body.grant;
      const other = await newTenant(v, `other-${engine}`);
      expect((await call(v.url, "GET", `/grants/${grant.id}`, { key: other.adminKey })).body.code).toBe("grant_not_found");
      expect((await call(v.url, "POST", `/grants/${grant.id}/revoke`, { key: other.adminKey, body: {} })).body.code).toBe("grant_not_found");
      expect((await call(v.url, "GET", "/grants?status=all", { key: other.adminKey })).body.grants).toEqual([]);
      await call(v.url, "POST", "/register-policy", { key: other.adminKey, body: grantPolicy });
      const otherAgent = await newKey(v, "agent", other.tenantId);
      const there = await call(v.url, "POST", "/request-clearance", { key: otherAgent, body: { tool_name: "stripe_refund", tool_args: { amount: 33, currency: "usd" }, agent_id: "agent-7", session_id: "s-1" } });
      expect(there.body).toMatchObject({ status: "pending_review", reason_code: "policy_default" });
      const here = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 33, currency: "usd" }, agent_id: "agent-7" } });
      expect(here.body).toMatchObject({ status: "approved", grant_id: grant.id });
    });
  });
}

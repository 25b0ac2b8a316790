import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, newDatabase, newKey, refundPolicy, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

interface Reviewer { reviewer_id: string; api_key: string; email: string; name: string }

for (const engine of ["pglite", "postgres"] as Engine[]) {
  describe(`review workflow on ${engine}`, () => {
    let db: TestDatabase;
    let v: TestVault;
    let agent: string;
    const people: Record<string, Reviewer> = {};
    const pending = async (body: Record<string, unknown> = {}) => {
      const res = await call(v.url, "POST", "/request-clearance", {
        key: agent,
        body: { tool_name: "stripe_refund", tool_args: { amount: 500, order_id: "o-1" }, agent_id: "agent-7", ...body },
      });
      expect(res.body.status).toBe("pending_review");
      return res.body.request_id as string;
    };
    const vote = (who: string, id: string, approved: boolean, reason = "") =>
      call(v.url, "POST", `/reviews/${id}/decision`, { key: people[who]?.api_key ?? who, body: { approved, review_reason: reason } });
    const settings = (body: Record<string, unknown>, query = "") => call(v.url, "PUT", `/review-settings${query}`, { key: v.adminKey, body });

    beforeAll(async () => {
      db = newDatabase(engine);
      v = await startTestVault(db, { env: { VAULT_LEDGER_ANCHOR_BACKFILL_INTERVAL_SECONDS: "3600", VAULT_REVIEW_SWEEP_INTERVAL_SECONDS: "3600" } });
      agent = await newKey(v, "agent");
      expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy })).status).toBe(200);
      for (const [name, groups] of [["ana", ["finance"]], ["bo", ["finance"]], ["cy", ["security"]], ["di", []]] as const) {
        const res = await call(v.url, "POST", "/reviewers", { key: v.adminKey, body: { name, email: `${name}@example.com`, groups } });
        expect(res.status).toBe(201);
        people[name] = res.body;
      }
    });
    afterAll(async () => {
      await v?.close();
      await db?.drop();
    });

    it("2 of 3: the first approval keeps the request pending, the second approves it with a token", async () => {
      expect((await settings({ minimum_confidence_bucket: "high", approvals_required: 2, reviewers: ["ana@example.com", "bo@example.com", people.cy!.reviewer_id] })).status).toBe(200);
      const id = await pending();
      const first = await vote("ana", id, true, "looks fine");
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({ status: "pending_review", review: { approvals: { received: 1, required: 2 } } });
      expect((await vote("ana", id, true)).body.code).toBe("already_voted");
      expect((await vote("di", id, true)).body.code).toBe("reviewer_not_eligible");
      const second = await vote("cy", id, true);
      expect(second.body).toMatchObject({ status: "approved", decision_status: "approved", review: { approvals: { received: 2, required: 2 } } });
      const poll = await call(v.url, "GET", `/clearance-status/${id}`, { key: agent });
      expect(poll.body).toMatchObject({ status: "approved" });
      expect(poll.body.token).toEqual(expect.any(String));
      const detail = await call(v.url, "GET", `/reviews/${id}`, { key: people.bo!.api_key });
      expect(detail.body.votes_detail.map((x: { reviewer_name: string }) => x.reviewer_name)).toEqual(["ana", "cy"]);
      expect(detail.body.viewer).toMatchObject({ can_approve: false, why_not: "the request is approved" });
    });

    it("two groups must each approve (AND of groups, each with its own N)", async () => {
      await settings({ minimum_confidence_bucket: "high", approvals_required: 1, groups: [{ name: "finance", approvals_required: 2 }, { name: "security", approvals_required: 1 }] });
      const id = await pending();
      expect((await vote("ana", id, true)).body.review.approvals).toEqual({ received: 1, required: 1, groups: [{ name: "finance", received: 1, required: 2 }, { name: "security", received: 0, required: 1 }] });
      expect((await vote("cy", id, true)).body.status).toBe("pending_review");
      const last = await vote("bo", id, true);
      expect(last.body.status).toBe("approved");
      expect(last.body.review.approvals.groups).toEqual([{ name: "finance", received: 2, required: 2 }, { name: "security", received: 1, required: 1 }]);
    });

    it("any single deny ends the request, whatever approvals came before", async () => {
      await settings({ minimum_confidence_bucket: "high", approvals_required: 3 });
      const id = await pending();
      await vote("ana", id, true);
      const denied = await vote("bo", id, false, "not this customer");
      expect(denied.body).toMatchObject({ status: "denied", decision_status: "denied", reason: "not this customer", reason_code: "review_denied" });
      expect((await vote("cy", id, true)).body.code).toBe("request_not_pending");
    });

    it("separation of duties: the submitting key and the human principal cannot approve (but may deny)", async () => {
      await settings({ minimum_confidence_bucket: "high" });
      // The admin key submits a request itself: it may not approve its own request.
      const own = await call(v.url, "POST", "/request-clearance", { key: v.adminKey, body: { tool_name: "stripe_refund", tool_args: { amount: 500 } } });
      const self = await vote(v.adminKey, own.body.request_id, true);
      expect(self.status).toBe(403);
      expect(self.headers.get("content-type")).toMatch(/application\/problem\+json/);
      expect(self.body.code).toBe("self_approval_forbidden");
      const forAna = await pending({ human_principal: "ANA@example.com" });
      const principal = await vote("ana", forAna, true);
      expect([principal.status, principal.body.code]).toEqual([403, "principal_approval_forbidden"]);
      expect((await vote("bo", forAna, true)).body.status).toBe("approved");
      const another = await pending({ human_principal: "ana" });
      expect((await vote("ana", another, false, "I did not ask for this")).body.status).toBe("denied");
    });

    it("a per-policy override wins over the tenant rules, and the rules are fixed when the request goes to review", async () => {
      await settings({ minimum_confidence_bucket: "high", approvals_required: 1 });
      expect((await settings({ approvals_required: 2 }, "?policy_id=refund-policy")).body).toMatchObject({ policy_id: "refund-policy", source: "policy", approvals_required: 2 });
      const id = await pending();
      await call(v.url, "DELETE", "/review-settings?policy_id=refund-policy", { key: v.adminKey });
      expect((await vote("ana", id, true)).body.status).toBe("pending_review"); // still 2 for this request
      expect((await vote("bo", id, true)).body.status).toBe("approved");
    });

    it("expires a request left pending past its expiry: denied, ledger event, status poll sees it", async () => {
      await settings({ minimum_confidence_bucket: "high", expiry_seconds: 1 });
      const id = await pending();
      await new Promise((r) => setTimeout(r, 1100));
      await v.vault.ctx.reviewSweeper.sweep();
      const poll = await call(v.url, "GET", `/clearance-status/${id}`, { key: agent });
      expect(poll.body).toMatchObject({ status: "denied", decision_status: "denied", reason_code: "review_expired" });
      const listed = await call(v.url, "GET", "/reviews?status=expired", { key: people.ana!.api_key });
      expect(listed.body.reviews.map((r: { request_id: string }) => r.request_id)).toContain(id);
      await settings({ minimum_confidence_bucket: "high" });
    });

    it("the sweeper keeps the live feed to its last day", async () => {
      const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
      await sql.query("INSERT INTO review_events (request_id, created_at) VALUES ('old', now() - interval '2 days'), ('new', now())");
      await v.vault.ctx.reviewSweeper.sweep();
      const left = (await sql.query<{ request_id: string }>("SELECT request_id FROM review_events WHERE request_id IN ('old', 'new')")).map((r) => r.request_id);
      expect(left).toEqual(["new"]);
    });

    it("every vote is in the ledger: partial approvals as review.vote, the last as review.approved", async () => {
      await settings({ minimum_confidence_bucket: "high", approvals_required: 2 });
      const id = await pending();
      await vote("ana", id, true, "first");
      await vote("bo", id, true, "second");
      await v.vault.ctx.ledgerLoop.drain();
      const entries = (await call(v.url, "GET", "/ledger?limit=1000", { key: v.adminKey })).body.entries.filter((e: { request_id: string }) => e.request_id === id);
      expect(entries.map((e: { event_type: string }) => e.event_type)).toEqual(["clearance.pending_review", "review.vote", "review.approved"]);
      expect(entries[1].reason).toBe("Approved by ana (approval 1 of 2): first");
      expect(entries[2].reason).toBe("Approved by bo (approval 2 of 2): second");
      expect(entries.every((e: { leaf_index: number | null }) => e.leaf_index !== null)).toBe(true);
    });

    it("GET /reviews lists the pending queue oldest first, pages with a cursor, and filters", async () => {
      await settings({ minimum_confidence_bucket: "high" });
      const ids = [await pending(), await pending(), await pending()];
      const page1 = await call(v.url, "GET", "/reviews?status=pending&limit=2", { key: people.di!.api_key });
      expect(page1.status).toBe(200);
      const all: string[] = page1.body.reviews.map((r: { request_id: string }) => r.request_id);
      const page2 = await call(v.url, "GET", `/reviews?status=pending&limit=200&cursor=${page1.body.next_cursor}`, { key: people.di!.api_key });
      all.push(...page2.body.reviews.map((r: { request_id: string }) => r.request_id));
      expect(all.slice(-3)).toEqual(ids);
      expect(new Set(all).size).toBe(all.length);
      expect((await call(v.url, "GET", "/reviews?tool_name=nothing", { key: v.adminKey })).body.reviews).toEqual([]);
      expect((await call(v.url, "GET", "/reviews", { key: agent })).status).toBe(403);
      const detail = await call(v.url, "GET", `/reviews/${ids[0]}`, { key: people.di!.api_key });
      expect(detail.body).toMatchObject({ tool_name: "stripe_refund", tool_args: { amount: 500, order_id: "o-1" }, agent_id: "agent-7", policy_id: "refund-policy", viewer: { can_approve: true } });
      expect(detail.body.expires_at).toEqual(expect.any(String));
      for (const id of ids) await vote("di", id, false);
    });

    it("GET /clearance-status?wait= returns as soon as the request is decided", async () => {
      const id = await pending();
      const started = Date.now();
      const polled = call(v.url, "GET", `/clearance-status/${id}?wait=20`, { key: agent });
      await new Promise((r) => setTimeout(r, 300));
      await vote("ana", id, true);
      const res = await polled;
      expect(res.body.status).toBe("approved");
      expect(Date.now() - started).toBeLessThan(5_000);
      const idle = await pending();
      const t0 = Date.now();
      expect((await call(v.url, "GET", `/clearance-status/${idle}?wait=1`, { key: agent })).body.status).toBe("pending_review");
      expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
      expect((await call(v.url, "GET", `/clearance-status/${idle}?wait=61`, { key: agent })).status).toBe(400);
    });
  });
}

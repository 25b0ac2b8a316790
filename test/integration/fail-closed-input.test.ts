/**
 * Issue 11, items 1-3 (fail-open and ambiguity), against a real vault on PGlite and on PostgreSQL:
 * 1. admin and write bodies refuse unknown keys with a 400 naming the key (a misspelled
 *    "condtions" once registered a policy that approved a $1,000,000 wire transfer), and an
 *    approve-by-default policy is registered with a warning;
 * 2. a repeated JSON member name at any depth is a 400 duplicate_json_key with its JSON pointer,
 *    and nothing is stored;
 * 3. the human principal cannot approve under a fullwidth, differently-cased or padded spelling.
 */
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../../src/clock.js";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { JudgeClient } from "../../src/judge/judge-client.js";
import { buildJudgeServer } from "../../src/main/judge-service.js";
import { StubJudge } from "../../src/judge/stub-judge.js";
import { RateLimiter } from "../../src/http/rate-limit.js";
import { createReviewer } from "../../src/tenancy/reviewers.js";
import { call, newDatabase, newKey, refundPolicy, startTestVault, type Engine, type HttpResult, type TestDatabase, type TestVault } from "../helpers/vault.js";

function expectUnknownField(res: HttpResult, path: string): void {
  const where = JSON.stringify(res.body).slice(0, 400);
  expect(res.status, where).toBe(400);
  expect(res.headers.get("content-type"), where).toMatch(/^application\/problem\+json/);
  expect(res.body.code, where).toBe("validation_failed");
  const key = path.split(".").at(-1)!;
  expect(res.body.detail, where).toContain(`"${key}"`);
  expect(res.body.errors[0], where).toMatchObject({ path, message: expect.stringContaining("unknown field") });
}

function expectDuplicate(res: HttpResult, pointer: string): void {
  const where = JSON.stringify(res.body).slice(0, 400);
  expect(res.status, where).toBe(400);
  expect(res.headers.get("content-type"), where).toMatch(/^application\/problem\+json/);
  expect(res.body, where).toMatchObject({ code: "duplicate_json_key", pointer, type: "urn:countersign:error:duplicate_json_key" });
  expect(res.body.detail, where).toContain(pointer);
}

for (const engine of ["pglite", "postgres"] as Engine[]) {
  describe(`fail-closed input on ${engine}`, () => {
    let db: TestDatabase;
    let v: TestVault;
    let agent: string;
    const requestRows = async () => {
      const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
      return Number((await sql.query<{ n: string }>("SELECT count(*) AS n FROM clearance_requests"))[0]!.n);
    };
    const pendingRefund = async (humanPrincipal: string) => {
      const res = await call(v.url, "POST", "/request-clearance", {
        key: agent,
        body: { tool_name: "stripe_refund", tool_args: { amount: 500 }, human_principal: humanPrincipal },
      });
      expect(res.body.status, JSON.stringify(res.body)).toBe("pending_review");
      return res.body.request_id as string;
    };

    beforeAll(async () => {
      db = newDatabase(engine);
      v = await startTestVault(db, { env: { VAULT_REVIEW_SWEEP_INTERVAL_SECONDS: "3600" } });
      agent = await newKey(v, "agent");
      expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy })).status).toBe(200);
    });
    afterAll(async () => {
      await v?.close();
      await db?.drop();
    });

    describe("1. unknown keys in admin and write bodies", () => {
      it('"condtions" with default_decision approve -> 400 naming it, and a wire transfer is then not approved', async () => {
        const typo = {
          policy_id: "wire-policy",
          tools: ["wire_transfer"],
          condtions: [{ id: "big", when: "args.amount > 10000", decision: "deny", reason: "too large" }],
          default_decision: "approve",
        };
        expectUnknownField(await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: typo }), "condtions");
        const wire = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "wire_transfer", tool_args: { amount: 1_000_000, to: "acct-9" } } });
        expect(wire.status).toBeLessThan(300);
        expect(wire.body.status).not.toBe("approved");
        expect(wire.body.token ?? null).toBeNull();
        expect(wire.body.reason_code).toBe("no_applicable_policy");
      });

      it("an unknown key inside a condition -> 400 with the key's path", async () => {
        const body = { ...refundPolicy, policy_id: "cond-typo", conditions: [{ id: "c", when: "true", decision: "deny", reasn: "x" }] };
        expectUnknownField(await call(v.url, "POST", "/register-policy", { key: v.adminKey, body }), "conditions.0.reasn");
      });

      it("an unknown key is named even when a required field is missing too", async () => {
        const res = await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: { polcy_id: "x", tools: [] } });
        expectUnknownField(res, "polcy_id");
        expect(res.body.errors.map((e: { path: string }) => e.path)).toContain("policy_id");
      });

      it("an approve-by-default policy is registered with a default_approve warning; others carry none", async () => {
        const lenient = { policy_id: "petty-cash", tools: ["petty_cash"], description: "Small office purchases", default_decision: "approve" };
        const res = await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: lenient, headers: { "idempotency-key": `petty-${engine}` } });
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ policy_id: "petty-cash", status: "registered" });
        expect(res.body.warnings).toEqual([{ code: "default_approve", message: expect.stringContaining('default_decision is "approve"') }]);
        // A replay under the same Idempotency-Key gives the same answer, warning included.
        const replay = await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: lenient, headers: { "idempotency-key": `petty-${engine}` } });
        expect(replay.body).toEqual(res.body);
        const strict = await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: { ...lenient, policy_id: "petty-cash-2", default_decision: "review" } });
        expect(strict.body.warnings).toEqual([]);
      });

      it("the fields the Ledgix SDK sends are accepted: register-policy {policy_id, description, rules, tools}, cancel {approved, review_reason}", async () => {
        const sdkPolicy = { policy_id: "sdk-policy", description: "From the SDK", rules: ["Be careful"], tools: ["sdk_tool"] };
        const reg = await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: sdkPolicy, headers: { "idempotency-key": crypto.randomUUID() } });
        expect(reg.status).toBe(200);
        expect(reg.body).toMatchObject({ policy_id: "sdk-policy", status: "registered", warnings: [] });
        const id = await pendingRefund("someone@example.com");
        const cancel = await call(v.url, "POST", `/reviews/${id}/decision`, { key: agent, body: { approved: false, review_reason: "cancelled by agent" } });
        expect(cancel.status).toBe(200);
        expect(cancel.body.status).toBe("denied");
      });

      it("/request-clearance still ignores unknown fields (protocol §6.11)", async () => {
        const res = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 5 }, future_sdk_field: { x: 1 } } });
        expect(res.status).toBe(200);
        expect(res.body.status).toBe("approved");
      });

      it('/consume-token refuses a misspelled "toolArgs" instead of burning the token without the arguments check', async () => {
        const approved = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 5 } } });
        expect(approved.body.status).toBe("approved");
        const token = approved.body.token as string;
        const misspelled = await call(v.url, "POST", "/consume-token", { key: agent, body: { token, toolArgs: { amount: 5000 } } });
        expectUnknownField(misspelled, "toolArgs");
        // Not burned by the refused call: the binding check still runs on a correct body.
        const wrongArgs = await call(v.url, "POST", "/consume-token", { key: agent, body: { token, tool_args: { amount: 5000 } } });
        expect(wrongArgs.status).toBe(403);
        expect(wrongArgs.body.code).toBe("token_binding_mismatch");
        const right = await call(v.url, "POST", "/consume-token", { key: agent, body: { token, tool_args: { amount: 5 } } });
        expect(right.status, JSON.stringify(right.body)).toBe(200);
      });

      it("every other admin or write body refuses an unknown key, naming it", async () => {
        const reviewer = await call(v.url, "POST", "/reviewers", { key: v.adminKey, body: { name: "Rae", email: "rae@example.com" } });
        expect(reviewer.status).toBe(201);
        const id = await pendingRefund("nobody@example.com");
        const cases: [string, string, unknown, string, string?][] = [
          ["PUT", "/review-settings", { minimum_confidence_bucket: "high", aprovals_required: 2 }, "aprovals_required"],
          ["PUT", "/review-settings", { minimum_confidence_bucket: "high", groups: [{ name: "g", approvals_required: 1, membres: [] }] }, "groups.0.membres"],
          ["PUT", "/review-settings?policy_id=refund-policy", { approvals_required: 1, expiry: 60 }, "expiry"],
          ["PUT", "/notification-settings", { slak: { webhook_url: null } }, "slak"],
          ["PUT", "/notification-settings", { email: { recipients: ["a@example.com"], cc: ["b@example.com"] } }, "email.cc"],
          ["POST", "/reviewers", { name: "Sam", email: "sam@example.com", group: ["finance"] }, "group"],
          ["POST", "/webhooks", { url: "https://hooks.example.com/x", events: [], secret: "mine" }, "secret"],
          ["POST", "/policies/refund-policy/documents", { title: "T", content: "Some text", mediatype: "text/plain" }, "mediatype"],
          ["POST", `/reviews/${id}/decision`, { approved: true, review_reason: "ok", aproved: false }, "aproved", reviewer.body.api_key],
          ["POST", "/console/session", { api_key: v.adminKey, remember_me: true }, "remember_me"],
        ];
        for (const [method, path, body, key, apiKey] of cases) {
          const res = await call(v.url, method, path, { key: apiKey ?? v.adminKey, body });
          expectUnknownField(res, key);
        }
        // Nothing above took effect: the request is still pending and the settings are the defaults.
        expect((await call(v.url, "GET", `/clearance-status/${id}`, { key: agent })).body.status).toBe("pending_review");
        expect((await call(v.url, "GET", "/review-settings", { key: v.adminKey })).body).toMatchObject({ approvals_required: 1, groups: [] });
        expect((await call(v.url, "GET", "/reviewers", { key: v.adminKey })).body.reviewers.map((r: { email: string }) => r.email)).not.toContain("sam@example.com");
      });
    });

    describe("2. duplicate JSON member names", () => {
      it('{"tool_args":{"amount":5000,"amount":5}} -> 400 duplicate_json_key at /tool_args/amount, and no request is stored', async () => {
        const before = await requestRows();
        const res = await call(v.url, "POST", "/request-clearance", { key: agent, rawBody: '{"tool_name":"stripe_refund","tool_args":{"amount":5000,"amount":5}}' });
        expectDuplicate(res, "/tool_args/amount");
        expect(await requestRows()).toBe(before);
      });

      it.each([
        ["top level", '{"tool_name":"stripe_refund","tool_name":"wire_transfer"}', "/tool_name"],
        ["inside nested arrays", '{"tool_name":"stripe_refund","tool_args":{"items":[[{"a":1}],[{"b":1},{"b":2,"b":3}]]}}', "/tool_args/items/1/1/b"],
        ["equal after unescaping", '{"tool_name":"stripe_refund","tool_args":{"amount":5,"\\u0061mount":5000}}', "/tool_args/amount"],
        ["in context, with ~ and / escaped in the pointer", '{"tool_name":"stripe_refund","context":{"a/b~c":1,"a\\/b~c":2}}', "/context/a~1b~0c"],
        ["in an unknown field", '{"tool_name":"stripe_refund","zzz":{"k":1,"k":1}}', "/zzz/k"],
      ])("%s -> 400 with the pointer, nothing stored", async (_label, rawBody, pointer) => {
        const before = await requestRows();
        expectDuplicate(await call(v.url, "POST", "/request-clearance", { key: agent, rawBody }), pointer);
        expect(await requestRows()).toBe(before);
      });

      it("the same name in different objects is fine", async () => {
        const res = await call(v.url, "POST", "/request-clearance", { key: agent, rawBody: '{"tool_name":"stripe_refund","tool_args":{"amount":5,"x":{"amount":6}},"context":{"amount":7}}' });
        expect(res.status).toBe(200);
      });

      it("admin bodies too: a policy with default_decision twice -> 400, not registered", async () => {
        const raw = '{"policy_id":"dup-policy","tools":["t"],"default_decision":"deny","default_decision":"approve"}';
        expectDuplicate(await call(v.url, "POST", "/register-policy", { key: v.adminKey, rawBody: raw }), "/default_decision");
        const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
        expect(await sql.query("SELECT 1 FROM policies WHERE policy_id = 'dup-policy'")).toEqual([]);
      });
    });

    describe("3. human_principal matching after NFKC, case folding and trimming", () => {
      let carol: { api_key: string; reviewer_id: string };
      beforeAll(async () => {
        const res = await call(v.url, "POST", "/reviewers", { key: v.adminKey, body: { name: "Carol Smith", email: "carol@example.com" } });
        expect(res.status).toBe(201);
        carol = res.body;
      });
      const approve = (key: string, id: string) => call(v.url, "POST", `/reviews/${id}/decision`, { key, body: { approved: true } });

      it.each(["ｃarol@example.com", " Carol@Example.COM ", "\u3000carol@example.com\u00a0", "car\u200bol@example.com", "ＣＡＲＯＬ ＳＭＩＴＨ", "  carol   smith "])(
        "Carol cannot approve a request whose principal is %j -> 403 principal_approval_forbidden",
        async (principal) => {
          const id = await pendingRefund(principal);
          const res = await approve(carol.api_key, id);
          expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([403, "principal_approval_forbidden"]);
          const detail = await call(v.url, "GET", `/reviews/${id}`, { key: carol.api_key });
          expect(detail.body.viewer).toMatchObject({ can_approve: false, why_not: "you are its human principal" });
        },
      );

      it("and the other way round: a reviewer whose email or name is fullwidth cannot approve for the plain spelling", async () => {
        // The API's email check accepts ASCII only; a reviewer row may still hold such an email (made by
        // another tool or an older version), so it is created here below the API.
        const wide = await createReviewer(v.vault.ctx.control, { tenantId: v.tenantId, name: "Dan", email: "ｄan@example.com", groups: [] });
        const blocked = await approve(wide.api_key, await pendingRefund("dan@example.com"));
        expect([blocked.status, blocked.body.code]).toEqual([403, "principal_approval_forbidden"]);
        const named = await call(v.url, "POST", "/reviewers", { key: v.adminKey, body: { name: "Ｅｖｅ Ｌｏｎｇ", email: "eve@example.com" } });
        const byName = await approve(named.body.api_key, await pendingRefund("eve long"));
        expect([byName.status, byName.body.code]).toEqual([403, "principal_approval_forbidden"]);
      });

      it("another reviewer still approves Carol's request, and Carol may deny it", async () => {
        const other = await call(v.url, "POST", "/reviewers", { key: v.adminKey, body: { name: "Finn", email: "finn@example.com" } });
        const id = await pendingRefund("ｃarol@example.com");
        expect((await approve(other.body.api_key, id)).body.status).toBe("approved");
        const second = await pendingRefund("ｃarol@example.com");
        const denied = await call(v.url, "POST", `/reviews/${second}/decision`, { key: carol.api_key, body: { approved: false, review_reason: "not mine to approve" } });
        expect(denied.body.status).toBe("denied");
      });
    });
  });
}

describe("2. the judge service refuses duplicate member names too", () => {
  it('POST /evaluate with args {"amount":1,"amount":2} -> 400 duplicate_json_key', async () => {
    const app = buildJudgeServer({
      apiKey: "judge-key",
      judge: new StubJudge(),
      embeddings: { model: "none", embed: async () => ({ model: "none", vectors: [] }) },
      limiter: new RateLimiter({ rps: 0, burst: 0, ttlSeconds: 60 }, systemClock),
      log: pino({ level: "silent" }),
      ready: async () => {},
    });
    try {
      const base = { tenant_id: "t", request_id: "r", tool: "x", context: {}, agent_id: "a", session_id: "", human_principal: null };
      const payload = JSON.stringify(base).replace(/}$/, ',"args":{"amount":1,"amount":2}}');
      const res = await app.inject({ method: "POST", url: "/evaluate", headers: { "content-type": "application/json", "x-api-key": "judge-key" }, payload });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ code: "duplicate_json_key", pointer: "/args/amount" });
      const ok = await app.inject({ method: "POST", url: "/evaluate", headers: { "content-type": "application/json", "x-api-key": "judge-key" }, payload: { ...base, args: { amount: 1 } } });
      expect(ok.statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });
});

describe("2. the vault's judge client refuses a verdict that repeats a member name", () => {
  it('{"decision":"deny",...,"decision":"approve"} from the judge service is an error (the fail-closed wrapper makes it review)', async () => {
    const verdict = '{"decision":"deny","reason":"r","reason_code":"condition_matched","confidence_bucket":"extra_high","decision":"approve"}';
    const server = createServer((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end(verdict));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const client = new JudgeClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, "k", 5_000, 1_048_576);
      const input = { tenantId: "t", requestId: "r", tool: "x", args: {}, context: {}, agentId: "a", sessionId: "", humanPrincipal: null };
      await expect(client.evaluate(input)).rejects.toThrow(/repeats the member name at \/decision/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

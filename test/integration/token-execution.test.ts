import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { trustedKeysFromBundle, trustedKeysFromJwks, verifyProofBundle } from "../../src/ledger/verify/bundle-verifier.js";
import { formatReport } from "../../src/main/verify-bundle.js";
import { executionResponseSchema, unreportedListSchema } from "../../src/http/openapi/schemas/token-execution.js";
import { getRequest } from "../../src/requests/store/request-store.js";
import { fetchJwks, fetchLedger, verifyLedgerProof } from "../helpers/ledgix-ledger-verifier.js";
import { call, newDatabase, newKey, newTenant, refundPolicy, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

/** The fenced block of docs/tokens.md that follows the marker comment `<!-- name -->`: the page's examples, run here. */
function docsBlock(name: string): string {
  const doc = readFileSync(path.resolve(import.meta.dirname, "../../docs/tokens.md"), "utf8");
  const at = doc.indexOf(`<!-- ${name} -->`);
  if (at < 0) throw new Error(`docs/tokens.md has no example marked <!-- ${name} -->`);
  const block = /```\w*\n([\s\S]*?)```/.exec(doc.slice(at));
  if (!block) throw new Error(`docs/tokens.md: no fenced block after <!-- ${name} -->`);
  return block[1]!;
}

/** The jti claim of an A-JWT, read without verifying (the vault verifies; the test only needs the id). */
function jtiOf(token: string): string {
  return JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8")).jti as string;
}

const failed = (r: { checks: { ok: boolean; name: string }[] }) => r.checks.filter((c) => !c.ok).map((c) => c.name);
const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

for (const engine of ["pglite", "postgres"] as Engine[]) {
  describe(`execution reports on ${engine}`, () => {
    let db: TestDatabase;
    let v: TestVault;
    let agent: string;
    // Moves only when a test says so: lost-consume listings depend on how long ago a token was burned.
    const clock = new ManualClock(Date.now());

    const approve = async (amount = 45, extra: Record<string, unknown> = {}) => {
      const res = await call(v.url, "POST", "/request-clearance", {
        key: agent,
        body: { tool_name: "stripe_refund", tool_args: { amount, currency: "usd" }, agent_id: "a1", session_id: "s1", ...extra },
      });
      expect(res.body.status, JSON.stringify(res.body)).toBe("approved");
      return { requestId: res.body.request_id as string, token: res.body.token as string, jti: jtiOf(res.body.token) };
    };
    const burned = async (amount = 45, extra: Record<string, unknown> = {}) => {
      const a = await approve(amount, extra);
      const c = await call(v.url, "POST", "/consume-token", { key: agent, body: { token: a.token } });
      expect(c.status, JSON.stringify(c.body)).toBe(200);
      return a;
    };
    const report = (jti: string, body: unknown, key = agent) => call(v.url, "POST", `/tokens/${encodeURIComponent(jti)}/execution`, { key, body });
    const executedEvents = async (requestId: string) => {
      const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
      return sql.query<{ event_uuid: string }>("SELECT event_uuid FROM ledger_events WHERE request_id = $1 AND event_type = 'token.executed'", [requestId]);
    };

    beforeAll(async () => {
      db = newDatabase(engine);
      // The webhook receiver is a loopback port nothing listens on: the test reads the outbox, not deliveries.
      v = await startTestVault(db, { env: { VAULT_WEBHOOK_ALLOW_PRIVATE_TARGETS: "true" }, overrides: { clock } });
      agent = await newKey(v, "agent");
      await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy });
      const hook = await call(v.url, "POST", "/webhooks", { key: v.adminKey, body: { url: "http://127.0.0.1:9/hook", events: ["token.executed"] } });
      expect(hook.status, JSON.stringify(hook.body)).toBe(201);
    });
    afterAll(async () => {
      await v?.close();
      await db?.drop();
    });

    it("approve, consume, report (the docs' example): one bundle proves approval, burn and execution, and verifies offline", async () => {
      const { requestId, jti } = await burned();
      const body = JSON.parse(docsBlock("execution-report"));
      const res = await report(jti, body);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(executionResponseSchema.parse(res.body)).toEqual(res.body);
      expect(res.body).toMatchObject({ jti, request_id: requestId, tool: "stripe_refund", status: 200, outcome: "succeeded", duration_ms: 12, detail: body.detail, replayed: false });
      expect(res.body.response_sha256).toBe(body.response_sha256);
      expect(res.body.reported_by).toMatch(/\S/);

      await v.vault.ctx.ledgerLoop.drain();
      const bundle = await call(v.url, "GET", `/ledger/proof/bundle?request_id=${requestId}`, { key: agent });
      expect(bundle.status, JSON.stringify(bundle.body)).toBe(200);
      expect(bundle.body.event.event_type).toBe("clearance.approved");
      const others = bundle.body.request_events as { event: Record<string, any> }[];
      expect(others.map((e) => e.event.event_type)).toEqual(["token.consumed", "token.executed"]);
      const executed = others[1]!.event;
      expect(executed.evidence_chunks[0]).toEqual({
        type: "execution_report",
        jti,
        status: 200,
        outcome: "succeeded",
        duration: 12,
        response: body.response_sha256,
        detail: body.detail,
        reporter: res.body.reported_by,
        closer: null,
        at: res.body.reported_at,
        approval: { uuid: bundle.body.event.event_uuid, hash: bundle.body.event.event_hash },
        burn: { uuid: others[0]!.event.event_uuid, hash: others[0]!.event.event_hash },
      });
      // Keys the SDK's camelCasing leaves alone: the row is served unredacted under the default ?redact=auto.
      expect(executed.intent_hash).not.toBe("");

      // Offline, as `countersign verify-bundle` does: with the bundle's own keys and with the JWKS.
      const own = verifyProofBundle(bundle.body, trustedKeysFromBundle(bundle.body));
      expect(own.checks.filter((c) => !c.ok)).toEqual([]);
      expect(own.ok).toBe(true);
      expect(own.checks.map((c) => c.name)).toEqual(expect.arrayContaining(["request event 2 (token.executed): inclusion proof", "request event 2 (token.executed): execution links"]));
      expect(own.events?.map((e) => e.event_type)).toEqual(["clearance.approved", "token.consumed", "token.executed"]);
      const jwks = (await call(v.url, "GET", "/.well-known/jwks.json")).body;
      expect(verifyProofBundle({ ...bundle.body, keys: [] }, trustedKeysFromJwks(jwks)).ok).toBe(true);
      // verify-bundle lists the events as the docs show them: same types in order, same execution summary.
      const shape = /^event leaf \d+: (\S+) \S+ \((.*)\)$/;
      const printed = formatReport(own).split("\n").filter((l) => l.startsWith("event leaf ")).map((l) => shape.exec(l));
      const documented = docsBlock("verify-bundle-events").trim().split("\n").map((l) => shape.exec(l));
      expect(printed.map((m) => m?.[1])).toEqual(documented.map((m) => m?.[1]));
      expect(printed[0]?.[2]).toBe(documented[0]?.[2]);
      expect(printed[2]?.[2]).toBe(documented[2]?.[2]);

      // The execution event's own bundle carries the approval and the burn too.
      const byUuid = await call(v.url, "GET", `/ledger/proof/bundle?event_uuid=${(await executedEvents(requestId))[0]!.event_uuid}`, { key: agent });
      expect(byUuid.body.event.event_type).toBe("token.executed");
      expect(verifyProofBundle(byUuid.body, trustedKeysFromBundle(byUuid.body)).ok).toBe(true);

      // Tampering with the reported status breaks the proof.
      const tampered = structuredClone(bundle.body);
      tampered.request_events[1].event.evidence_chunks[0].status = 500;
      const bad = verifyProofBundle(tampered, trustedKeysFromBundle(tampered));
      expect(bad.ok).toBe(false);
      expect(bad.checks.filter((c) => !c.ok).map((c) => c.name)).toContain("request event 2 (token.executed): event hash");
      // So does dropping the burn the execution names.
      const unlinked = { ...structuredClone(bundle.body), request_events: [structuredClone(bundle.body.request_events[1])] };
      expect(verifyProofBundle(unlinked, trustedKeysFromBundle(unlinked)).checks.find((c) => c.name.endsWith("execution links"))?.ok).toBe(false);

      // Forgery: an edited report passed off as "redacted" (intent_hash "", nothing committed) fails,
      // and neither the report nor verify-bundle states the forged status as a fact.
      const forged = structuredClone(bundle.body);
      const fe = forged.request_events[1].event;
      fe.intent_hash = "";
      delete fe.intent_hash_committed;
      fe.evidence_chunks[0].status = 500;
      const forgedReport = verifyProofBundle(forged, trustedKeysFromBundle(forged));
      expect(forgedReport.ok).toBe(false);
      expect(failed(forgedReport)).toEqual(expect.arrayContaining(["request event 2 (token.executed): event hash", "request event 2 (token.executed): execution links"]));
      expect(forgedReport.events?.find((e) => e.event_type === "token.executed")).toMatchObject({ body_verified: false, summary: "body not verified" });
      const printedForged = formatReport(forgedReport);
      expect(printedForged).not.toContain("status 500");
      expect(printedForged).not.toMatch(/^event leaf/m);
      // Variant: the execution's own bundle, alone, redacted and emptied: no approval, no burn, no report.
      const alone = structuredClone(byUuid.body);
      delete alone.request_events;
      alone.event.intent_hash = "";
      delete alone.event.intent_hash_committed;
      alone.event.evidence_chunks = [];
      const aloneReport = verifyProofBundle(alone, trustedKeysFromBundle(alone));
      expect(aloneReport.ok).toBe(false);
      expect(failed(aloneReport)).toEqual(expect.arrayContaining(["event hash", "event: execution links"]));
      // The same event twice reads as a second burn: refused.
      const twice = { ...structuredClone(bundle.body), request_events: [bundle.body.request_events[0], bundle.body.request_events[0], bundle.body.request_events[1]] };
      expect(failed(verifyProofBundle(twice, trustedKeysFromBundle(twice)))).toEqual(["distinct events"]);
      const mainAgain = { ...structuredClone(bundle.body), request_events: [...bundle.body.request_events, { event: bundle.body.event, inclusion: bundle.body.inclusion }] };
      expect(failed(verifyProofBundle(mainAgain, trustedKeysFromBundle(mainAgain)))).toEqual(["distinct events"]);

      // The SDK-faithful verifier (ledgix-ts's camelCased hashing) re-hashes the report's body: no redaction note.
      const sdkJwks = await fetchJwks(v.url, agent);
      const sdkEntry = (await fetchLedger(v.url, agent, 1000)).find((e) => e.eventUuid === executed.event_uuid)!;
      expect(sdkEntry.intentHash).not.toBe("");
      expect(verifyLedgerProof([sdkEntry], [], sdkJwks).coverageNote).toBeUndefined();
      expect(() => verifyLedgerProof([{ ...sdkEntry, evidenceChunks: [{ ...sdkEntry.evidenceChunks[0], status: 500 }] }], [], sdkJwks)).toThrow(/hash mismatch/);
    });

    it("the same report again is a replay; a different one is 409; nothing new is recorded", async () => {
      const { requestId, jti } = await burned();
      const body = { status: 502, duration_ms: 40, detail: "upstream said bad gateway" };
      const first = await report(jti, body);
      expect(first.body).toMatchObject({ status: 502, outcome: "failed", replayed: false });
      const again = await report(jti, body);
      expect(again.status).toBe(200);
      expect(again.body).toEqual({ ...first.body, replayed: true });
      // The default outcome spelled out is the same report.
      expect((await report(jti, { ...body, outcome: "failed" })).body.replayed).toBe(true);
      for (const other of [{ ...body, status: 200 }, { ...body, duration_ms: 41 }, { ...body, detail: "other" }, { status: 502, duration_ms: 40 }, { ...body, outcome: "error" }]) {
        const res = await report(jti, other);
        expect([res.status, res.body.code], JSON.stringify(other)).toEqual([409, "execution_already_reported"]);
      }
      expect(await executedEvents(requestId)).toHaveLength(1);
      // One token.executed webhook, carrying the report.
      const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
      const hooks = await sql.query<{ payload: string }>("SELECT payload FROM outbox WHERE event_type = 'token.executed' AND request_id = $1", [requestId]);
      expect(hooks).toHaveLength(1);
      expect(JSON.parse(hooks[0]!.payload).data.extra).toMatchObject({ jti, status: 502, outcome: "failed", duration_ms: 40, detail: body.detail });
    });

    it("a status of null defaults to outcome error", async () => {
      const { jti } = await burned();
      expect((await report(jti, { status: null, duration_ms: 3000, detail: "upstream unreachable" })).body).toMatchObject({ status: null, outcome: "error" });
    });

    it("refuses a report before the burn (409), an unknown jti and another tenant's jti (404)", async () => {
      const { jti } = await approve();
      const early = await report(jti, { status: 200, duration_ms: 1 });
      expect([early.status, early.body.code]).toEqual([409, "token_not_consumed"]);
      const unknown = await report("no-such-jti", { status: 200, duration_ms: 1 });
      expect([unknown.status, unknown.body.code]).toEqual([404, "token_not_found"]);
      const other = await newTenant(v, `other-${engine}`);
      const { jti: burnedJti } = await burned();
      const foreign = await report(burnedJti, { status: 200, duration_ms: 1 }, other.adminKey);
      expect([foreign.status, foreign.body.code]).toEqual([404, "token_not_found"]);
      // A reviewer key may not report.
      const reviewer = await newKey(v, "reviewer");
      expect((await report(burnedJti, { status: 200, duration_ms: 1 }, reviewer)).body.code).toBe("insufficient_scope");
    });

    it("only the key that burned the token (or an admin key) reports it: another agent key cannot pre-empt the real report", async () => {
      const other = await newKey(v, "agent");
      const { requestId, jti } = await burned();
      const stolen = await report(jti, { status: 200, duration_ms: 1 }, other);
      expect([stolen.status, stolen.body.code]).toEqual([403, "not_token_consumer"]);
      expect(await executedEvents(requestId)).toHaveLength(0);
      const real = await report(jti, { status: 500, duration_ms: 9 });
      expect([real.status, real.body.replayed, real.body.status]).toEqual([200, false, 500]);
      // An admin key may report for a consumer that cannot.
      const second = await burned();
      const byAdmin = await report(second.jti, { status: 204, duration_ms: 2 }, v.adminKey);
      expect([byAdmin.status, byAdmin.body.outcome]).toEqual([200, "succeeded"]);
    });

    it("20 concurrent identical reports record one ledger event; all answer the same report", async () => {
      const { requestId, jti } = await burned();
      const body = { status: 201, duration_ms: 7 };
      const answers = await Promise.all(Array.from({ length: 20 }, () => report(jti, body)));
      expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
      expect(answers.filter((a) => a.body.replayed === false)).toHaveLength(1);
      expect(new Set(answers.map((a) => a.body.reported_at)).size).toBe(1);
      expect(await executedEvents(requestId)).toHaveLength(1);
    });

    it("refuses malformed reports with 400 validation_failed, recording nothing", async () => {
      const { requestId, jti } = await burned();
      const bad: unknown[] = [
        { status: 99, duration_ms: 1 },
        { status: 600, duration_ms: 1 },
        { status: "200", duration_ms: 1 },
        { status: 200.5, duration_ms: 1 },
        { status: 200, duration_ms: -1 },
        { status: 200 },
        { duration_ms: 1 },
        { status: 200, duration_ms: 1, response_sha256: "ABC" },
        { status: 200, duration_ms: 1, response_sha256: "A".repeat(64) },
        { status: 200, duration_ms: 1, outcome: "maybe" },
        { status: 200, duration_ms: 1, detail: "x".repeat(501) },
        { status: 200, duration_ms: 1, detail: "line\nbreak" },
        { status: 200, duration_ms: 1, extra: true },
        [],
      ];
      for (const body of bad) {
        const res = await report(jti, body);
        expect([res.status, res.body.code], JSON.stringify(body)).toEqual([400, "validation_failed"]);
      }
      expect(await executedEvents(requestId)).toHaveLength(0);
      expect((await report(jti, { status: 200, duration_ms: 1 })).body.replayed).toBe(false);
    });

    it("lists burns never reported after the timeout, and a reviewer closes one from the console as outcome unknown", async () => {
      const reviewer = (await call(v.url, "POST", "/reviewers", { key: v.adminKey, body: { name: "Kim", email: `kim-${engine}@example.com` } })).body;
      const cookie = (await call(v.url, "POST", "/console/session", { body: { api_key: reviewer.api_key } })).headers.get("set-cookie")!.split(";")[0]!;
      const lost = await burned(20);
      const reported = await burned(21);
      // A burn of a token issued before tenant migration 0009 (its consumer never reports) is never listed.
      const older = await burned(22);
      const tenantSql = await v.vault.ctx.tenantDbs.get(v.tenantId);
      await tenantSql.query("UPDATE issued_tokens SET execution_expected = false WHERE jti = $1", [older.jti]);
      expect((await report(reported.jti, { status: 200, duration_ms: 5 })).status).toBe(200);
      const listed = async () => {
        const res = await call(v.url, "GET", "/tokens/unreported?limit=200", { headers: { cookie } });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        expect(unreportedListSchema.parse(res.body)).toEqual(res.body);
        return res.body.tokens.map((t: { jti: string }) => t.jti) as string[];
      };
      // Not yet: burned just now (the timeout is the default, 300 s).
      expect(await listed()).not.toContain(lost.jti);
      clock.advance(301_000);
      const after = await listed();
      expect(after).toContain(lost.jti);
      expect(after).not.toContain(reported.jti);
      expect(after).not.toContain(older.jti);
      const page = await call(v.url, "GET", "/tokens/unreported", { key: v.adminKey });
      const row = page.body.tokens.find((t: { jti: string }) => t.jti === lost.jti);
      expect(row).toMatchObject({ request_id: lost.requestId, tool: "stripe_refund", agent_id: "a1", consumed_by: expect.any(String), consumed_at: expect.any(String) });
      expect(page.body.timeout_seconds).toBe(300);
      // Newest first, and paged.
      const first = await call(v.url, "GET", "/tokens/unreported?limit=1", { key: v.adminKey });
      expect(first.body.tokens).toHaveLength(1);
      expect(first.body.next_cursor).toEqual(expect.any(String));
      const second = await call(v.url, "GET", `/tokens/unreported?limit=1&cursor=${first.body.next_cursor}`, { key: v.adminKey });
      expect(second.body.tokens[0].consumed_at <= first.body.tokens[0].consumed_at).toBe(true);
      expect(second.body.tokens[0].jti).not.toBe(first.body.tokens[0].jti);
      expect((await call(v.url, "GET", "/tokens/unreported?cursor=bogus", { key: v.adminKey })).body.code).toBe("validation_failed");
      // Crafted cursors are 400, never a database error (500).
      const crafted = [
        [0, "x"],
        ["1", "x"],
        ["0", "x"],
        ["+275760-09-13T00:00:00.000Z", "x"],
        ["-271821-04-20T00:00:00.000Z", "x"],
        ["0000-01-01T00:00:00.000Z", "x"],
        ["2026-02-30T00:00:00.000Z", "x"],
        ["2026-01-01T00:00:00Z", "x"],
        ["2026-01-01T00:00:00.000Z", "x".repeat(129)],
        ["2026-01-01T00:00:00.000Z", "a b"],
        ["2026-01-01T00:00:00.000Z", 5],
        ["2026-01-01T00:00:00.000Z", "x", 1],
      ];
      for (const value of crafted) {
        const res = await call(v.url, "GET", `/tokens/unreported?cursor=${cursorOf(value)}`, { key: v.adminKey });
        expect([res.status, res.body.code], JSON.stringify(value)).toEqual([400, "validation_failed"]);
      }
      expect((await call(v.url, "GET", `/tokens/unreported?cursor=${cursorOf(["2026-01-01T00:00:00.000Z", "x"])}`, { key: v.adminKey })).status).toBe(200);
      expect((await call(v.url, "GET", "/tokens/unreported", { key: agent })).body.code).toBe("insufficient_scope");

      // The console's close: cookie plus the CSRF header.
      const note = "Checked with payments: refund went through";
      const path = `/tokens/${lost.jti}/execution/close`;
      expect((await call(v.url, "POST", path, { headers: { cookie }, body: { note } })).body.code).toBe("csrf_header_missing");
      const closed = await call(v.url, "POST", path, { headers: { cookie, "x-countersign-console": "1" }, body: { note } });
      expect(closed.status, JSON.stringify(closed.body)).toBe(200);
      // Id and name only: no email in the permanent ledger or the webhook.
      const closedBy = `Kim (${reviewer.reviewer_id})`;
      expect(closed.body).toMatchObject({ jti: lost.jti, status: null, outcome: "unknown", duration_ms: null, detail: note, closed_by: closedBy, replayed: false });
      expect(await listed()).not.toContain(lost.jti);
      // Closing a reported token, or reporting a closed one, is a different report.
      expect((await call(v.url, "POST", `/tokens/${reported.jti}/execution/close`, { key: v.adminKey, body: { note } })).body.code).toBe("execution_already_reported");
      expect((await report(lost.jti, { status: 200, duration_ms: 5 })).body.code).toBe("execution_already_reported");

      await v.vault.ctx.ledgerLoop.drain();
      const bundle = await call(v.url, "GET", `/ledger/proof/bundle?request_id=${lost.requestId}`, { key: agent });
      const executed = bundle.body.request_events.find((e: { event: { event_type: string } }) => e.event.event_type === "token.executed").event;
      expect(executed.evidence_chunks[0]).toMatchObject({ outcome: "unknown", status: null, detail: note, closer: closedBy });
      expect(JSON.stringify(executed)).not.toContain("@example.com");
      const hooks = await tenantSql.query<{ payload: string }>("SELECT payload FROM outbox WHERE event_type = 'token.executed' AND request_id = $1", [lost.requestId]);
      expect(hooks).toHaveLength(1);
      expect(hooks[0]!.payload).not.toContain("@example.com");
      expect(JSON.parse(hooks[0]!.payload).data.extra.closed_by).toBe(closedBy);
      expect(verifyProofBundle(bundle.body, trustedKeysFromBundle(bundle.body)).ok).toBe(true);
    });

    it("a reviewer closes only an overdue burn, under the same eligibility rules as a vote", async () => {
      const email = `pat-${engine}@example.com`;
      const pat = (await call(v.url, "POST", "/reviewers", { key: v.adminKey, body: { name: "Pat", email } })).body;
      const other = (await call(v.url, "POST", "/reviewers", { key: v.adminKey, body: { name: "Lee", email: `lee-${engine}@example.com` } })).body;
      const { requestId, jti } = await burned(23, { human_principal: email });
      const close = (key: string) => call(v.url, "POST", `/tokens/${jti}/execution/close`, { key, body: { note: "lost" } });
      // Before the timeout the consumer may still report: a close would shut its real report out.
      const early = await close(other.api_key);
      expect([early.status, early.body.code]).toEqual([409, "execution_report_not_overdue"]);
      expect(await executedEvents(requestId)).toHaveLength(0);
      clock.advance(301_000);
      // The request's human principal may not close it, as they may not approve it.
      const own = await close(pat.api_key);
      expect([own.status, own.body.code]).toEqual([403, "principal_approval_forbidden"]);
      const closed = await close(other.api_key);
      expect([closed.status, closed.body.closed_by]).toEqual([200, `Lee (${other.reviewer_id})`]);
      // Not overdue any more, and the consumer may still not report a different result.
      expect((await report(jti, { status: 200, duration_ms: 1 })).body.code).toBe("execution_already_reported");
    });

    it("a request with over 100 events still bundles its approval, burn and execution (votes are capped)", async () => {
      const a = await approve(24);
      const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
      const request = (await getRequest(sql, a.requestId))!;
      // 120 vote events before the burn: written through the lifecycle, as reviews write them.
      await sql.transaction(async (tx) => {
        for (let i = 0; i < 120; i++) await v.vault.ctx.lifecycle.recordApproval(tx, v.tenantId, request, `Approved by voter ${i}`);
      });
      expect((await call(v.url, "POST", "/consume-token", { key: agent, body: { token: a.token } })).status).toBe(200);
      expect((await report(a.jti, { status: 200, duration_ms: 3 })).status).toBe(200);
      await v.vault.ctx.ledgerLoop.drain();
      const bundle = await call(v.url, "GET", `/ledger/proof/bundle?request_id=${a.requestId}`, { key: agent });
      expect(bundle.status, JSON.stringify(bundle.body).slice(0, 300)).toBe(200);
      const types = (bundle.body.request_events as { event: { event_type: string } }[]).map((e) => e.event.event_type);
      expect(types).toHaveLength(100);
      expect(types.filter((t) => t !== "review.vote")).toEqual(["clearance.approved", "token.consumed", "token.executed"]);
      const verified = verifyProofBundle(bundle.body, trustedKeysFromBundle(bundle.body));
      expect(failed(verified)).toEqual([]);
      expect(verified.notes.join("\n")).toMatch(/request_events holds 100 events.*votes/);
    });

    it("migration 0009: burns that existed before it expect no report; tokens issued after it do (no table rewrite)", async () => {
      const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
      const table = `issued_tokens_m0009_${Math.random().toString(36).slice(2, 8)}`;
      await sql.query(`CREATE TABLE ${table} (jti text PRIMARY KEY, request_id text NOT NULL, consumed_at timestamptz, consumed_by text)`);
      try {
        await sql.query(`INSERT INTO ${table} VALUES ('old', 'r1', now(), 'k1')`);
        const migration = readFileSync(path.resolve(import.meta.dirname, "../../migrations/tenant/0009_token_executions.sql"), "utf8");
        const statements = migration.replace(/--.*$/gm, "").split(";").map((x) => x.trim()).filter(Boolean);
        for (const statement of statements) await sql.query(statement.replaceAll("issued_tokens", table));
        await sql.query(`INSERT INTO ${table} (jti, request_id, consumed_at, consumed_by) VALUES ('new', 'r2', now(), 'k1')`);
        const rows = await sql.query<{ jti: string; execution_expected: boolean }>(`SELECT jti, execution_expected FROM ${table} ORDER BY jti`);
        expect(rows).toEqual([{ jti: "new", execution_expected: true }, { jti: "old", execution_expected: false }]);
        // The CHECKs still hold for new writes.
        await expect(sql.query(`UPDATE ${table} SET execution_status = 99 WHERE jti = 'new'`)).rejects.toThrow();
      } finally {
        await sql.query(`DROP TABLE ${table}`);
      }
    });
  });
}

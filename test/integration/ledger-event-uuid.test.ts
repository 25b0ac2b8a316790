/**
 * Issue 11 item 13: the proof endpoints (/ledger/proof/bundle, /inclusion, /tlog) name an event by
 * event_uuid alone, as docs/ledger.md offers, not only together with request_id. The uuid is checked
 * for shape (400), looked up only in the caller's tenant (another tenant's uuid is 404), and a
 * bundle fetched that way verifies offline.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { trustedKeysFromJwks, verifyProofBundle } from "../../src/ledger/verify/bundle-verifier.js";
import { call, newDatabase, newKey, newTenant, refundPolicy, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

const PROOFS = ["/ledger/proof/bundle", "/ledger/proof/inclusion", "/ledger/proof/tlog"] as const;

interface Entry {
  event_uuid: string;
  event_type: string;
  request_id: string;
  leaf_index: number | null;
}

for (const engine of ["pglite", "postgres"] as Engine[]) {
  describe(`proofs by event_uuid alone on ${engine}`, () => {
    let db: TestDatabase;
    let v: TestVault;
    let agent: string;
    let other: { tenantId: string; adminKey: string };
    let otherAgent: string;
    let approvedId: string;
    let approval: Entry;
    let consumed: Entry;

    const entries = async (key: string): Promise<Entry[]> => (await call(v.url, "GET", "/ledger?limit=1000", { key })).body.entries;
    const clear = async (key: string, amount: number) => {
      const res = await call(v.url, "POST", "/request-clearance", { key, body: { tool_name: "stripe_refund", tool_args: { amount } } });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body;
    };

    beforeAll(async () => {
      db = newDatabase(engine);
      v = await startTestVault(db, { env: { VAULT_LEDGER_ANCHOR_BACKFILL_INTERVAL_SECONDS: "3600" } });
      agent = await newKey(v, "agent");
      expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy })).status).toBe(200);
      other = await newTenant(v, `other-${engine}`);
      otherAgent = await newKey(v, "agent", other.tenantId);
      expect((await call(v.url, "POST", "/register-policy", { key: other.adminKey, body: refundPolicy })).status).toBe(200);

      // An approval whose token is then consumed: the request has two events, and its decision "as it
      // stands" (what request_id alone names) is the approval, so only event_uuid reaches token.consumed.
      const approved = await clear(agent, 40);
      approvedId = approved.request_id;
      const consume = await call(v.url, "POST", "/consume-token", { key: agent, body: { token: approved.token } });
      expect(consume.status, JSON.stringify(consume.body)).toBe(200);
      await clear(agent, 5000);
      await clear(otherAgent, 30);
      await v.vault.ctx.ledgerLoop.drain();
      const mine = await entries(agent);
      approval = mine.find((e) => e.request_id === approvedId && e.event_type === "clearance.approved")!;
      consumed = mine.find((e) => e.request_id === approvedId && e.event_type === "token.consumed")!;
      expect(approval.leaf_index).not.toBeNull();
      expect(consumed.leaf_index).not.toBeNull();
    });
    afterAll(async () => {
      await v?.close();
      await db?.drop();
    });

    it("serves the bundle of exactly the named event, and it verifies offline against the JWKS", async () => {
      const jwks = (await call(v.url, "GET", "/.well-known/jwks.json")).body;
      for (const event of [approval, consumed]) {
        const res = await call(v.url, "GET", `/ledger/proof/bundle?event_uuid=${event.event_uuid}`, { key: agent });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        expect(res.body.event).toMatchObject({ event_uuid: event.event_uuid, event_type: event.event_type, request_id: approvedId, leaf_index: event.leaf_index });
        expect(res.body.inclusion).toMatchObject({ event_uuid: event.event_uuid, leaf_index: event.leaf_index });
        const report = verifyProofBundle(res.body, trustedKeysFromJwks(jwks));
        expect(report.checks.filter((c) => !c.ok)).toEqual([]);
        expect(report.ok).toBe(true);
        expect(report.keySource).toBe("jwks");
      }
      // request_id alone still names the decision as it stands, not the later token.consumed.
      const byRequest = await call(v.url, "GET", `/ledger/proof/bundle?request_id=${approvedId}`, { key: agent });
      expect(byRequest.body.event.event_uuid).toBe(approval.event_uuid);
    });

    it("serves inclusion and tlog by event_uuid alone, the same as with request_id", async () => {
      const inclusion = await call(v.url, "GET", `/ledger/proof/inclusion?event_uuid=${consumed.event_uuid}`, { key: agent });
      expect(inclusion.status, JSON.stringify(inclusion.body)).toBe(200);
      expect(inclusion.body).toMatchObject({ event_uuid: consumed.event_uuid, request_id: approvedId, leaf_index: consumed.leaf_index });
      const both = await call(v.url, "GET", `/ledger/proof/inclusion?request_id=${approvedId}&event_uuid=${consumed.event_uuid}`, { key: agent });
      expect(inclusion.body).toEqual(both.body);

      const tlog = await call<string>(v.url, "GET", `/ledger/proof/tlog?event_uuid=${consumed.event_uuid}`, { key: agent });
      expect(tlog.status).toBe(200);
      expect(tlog.headers.get("content-type")).toContain("text/plain");
      expect(tlog.body).toContain("c2sp.org/tlog-proof@v1");
      expect(tlog.body).toContain(`index ${consumed.leaf_index}`);
      const tlogBoth = await call<string>(v.url, "GET", `/ledger/proof/tlog?request_id=${approvedId}&event_uuid=${consumed.event_uuid}`, { key: agent });
      expect(tlog.body).toBe(tlogBoth.body);
    });

    it("reads the uuid case-insensitively (RFC 9562 §4)", async () => {
      const res = await call(v.url, "GET", `/ledger/proof/inclusion?event_uuid=${approval.event_uuid.toUpperCase()}`, { key: agent });
      expect(res.status).toBe(200);
      expect(res.body.event_uuid).toBe(approval.event_uuid);
    });

    it("sequences on demand an event no checkpoint covers yet, named by event_uuid alone", async () => {
      const fresh = await clear(agent, 20);
      const event = (await entries(agent)).find((e) => e.request_id === fresh.request_id)!;
      expect(event.leaf_index).toBeNull();
      const res = await call(v.url, "GET", `/ledger/proof/bundle?event_uuid=${event.event_uuid}`, { key: agent });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.event.event_uuid).toBe(event.event_uuid);
      expect(res.body.event.leaf_index).not.toBeNull();
    });

    it("answers 404 ledger_event_not_found for an unknown uuid and for a uuid of another request", async () => {
      const unknown = "0190a6f2-3c4d-8e5f-9a0b-1c2d3e4f5a6b";
      for (const path of PROOFS) {
        const res = await call(v.url, "GET", `${path}?event_uuid=${unknown}`, { key: agent });
        expect(res.status, path).toBe(404);
        expect(res.headers.get("content-type")).toContain("application/problem+json");
        expect(res.body.code).toBe("ledger_event_not_found");
        const elsewhere = await call(v.url, "GET", `${path}?request_id=not-this-request&event_uuid=${approval.event_uuid}`, { key: agent });
        expect(elsewhere.status, path).toBe(404);
        expect(elsewhere.body.code).toBe("ledger_event_not_found");
      }
    });

    it("keeps tenants apart: another tenant's uuid is 404 with this tenant's key, and its own key reads it", async () => {
      const theirs = (await entries(other.adminKey))[0]!;
      for (const path of PROOFS) {
        const mineAsOther = await call(v.url, "GET", `${path}?event_uuid=${approval.event_uuid}`, { key: other.adminKey });
        expect(mineAsOther.status, path).toBe(404);
        expect(mineAsOther.body.code).toBe("ledger_event_not_found");
        const theirsAsMe = await call(v.url, "GET", `${path}?event_uuid=${theirs.event_uuid}`, { key: agent });
        expect(theirsAsMe.status, path).toBe(404);
        expect(theirsAsMe.body.code).toBe("ledger_event_not_found");
        const theirsAsThem = await call(v.url, "GET", `${path}?event_uuid=${theirs.event_uuid}`, { key: other.adminKey });
        expect(theirsAsThem.status, path).toBe(200);
      }
    });

    it("refuses a malformed uuid, or neither name, with 400 validation_failed", async () => {
      const bad = ["garbage", "0190a6f2-3c4d-8e5f-9a0b-1c2d3e4f5a6", "0190a6f2-3c4d-8e5f-9a0b-1c2d3e4f5a6bb", "'; DROP TABLE ledger_events; --", "0190a6f23c4d8e5f9a0b1c2d3e4f5a6b", ""];
      for (const path of PROOFS) {
        for (const uuid of bad) {
          const res = await call(v.url, "GET", `${path}?event_uuid=${encodeURIComponent(uuid)}`, { key: agent });
          expect(res.status, `${path} ${uuid}`).toBe(400);
          expect(res.headers.get("content-type")).toContain("application/problem+json");
          expect(res.body.code).toBe("validation_failed");
        }
        const neither = await call(v.url, "GET", path, { key: agent });
        expect(neither.status).toBe(400);
        expect(neither.body.code).toBe("validation_failed");
        expect(JSON.stringify(neither.body)).toContain("request_id or event_uuid is required");
      }
    });
  });
}

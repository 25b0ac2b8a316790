import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, newDatabase, newKey, refundPolicy, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

/**
 * Issue 12: authenticate() opens the tenant's database once per request (request.tenantSql).
 * A tenant whose database cannot be opened gets the answer it got when each route opened it itself:
 * 500 internal_error on tenant routes. Routes that only read the control database (reviewers, the
 * console session) do not open it, so they keep answering.
 */
describe("request.tenantSql: a tenant whose database cannot be opened", () => {
  let db: TestDatabase;
  let v: TestVault;
  let brokenKey: string;
  let healthyKey: string;

  beforeAll(async () => {
    db = newDatabase("pglite");
    v = await startTestVault(db);
    // A tenant row whose PGlite directory is a plain file: opening its database fails on every try.
    mkdirSync(path.join(db.url, "tenants"), { recursive: true });
    writeFileSync(path.join(db.url, "tenants", "broken_db"), "not a database");
    await v.vault.ctx.control.query("INSERT INTO tenants (id, name, db_name) VALUES ('ten_broken', 'broken', 'broken_db')");
    brokenKey = await newKey(v, "admin", "ten_broken");
    healthyKey = await newKey(v, "admin");
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it.each([
    ["GET", "/policies"],
    ["GET", "/review-settings"],
    ["GET", "/webhooks"],
    ["GET", "/notification-settings"],
    ["GET", "/outbox"],
  ])("%s %s answers 500 internal_error, without internals", async (method, pathname) => {
    const res = await call(v.url, method, pathname, { key: brokenKey });
    expect(res.status).toBe(500);
    expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ status: 500, code: "internal_error" });
    expect(JSON.stringify(res.body)).not.toContain("broken_db");
  });

  it("POST /register-policy is refused the same way", async () => {
    const res = await call(v.url, "POST", "/register-policy", { key: brokenKey, body: refundPolicy });
    expect(res.status).toBe(500);
    expect(res.body).toMatchObject({ code: "internal_error" });
  });

  it("control-database routes still answer for that tenant", async () => {
    const reviewers = await call(v.url, "GET", "/reviewers", { key: brokenKey });
    expect(reviewers.status).toBe(200);
    expect(reviewers.body).toEqual({ reviewers: [] });
    const session = await call(v.url, "GET", "/console/session", { key: brokenKey });
    expect(session.status).toBe(200);
    expect(session.body).toMatchObject({ tenant_id: "ten_broken", scope: "admin" });
  });

  it("other tenants are unaffected", async () => {
    expect((await call(v.url, "POST", "/register-policy", { key: healthyKey, body: refundPolicy })).status).toBe(200);
    const res = await call(v.url, "GET", "/policies", { key: healthyKey });
    expect(res.status).toBe(200);
    expect(res.body.policies.map((p: { policy_id: string }) => p.policy_id)).toEqual(["refund-policy"]);
  });
});

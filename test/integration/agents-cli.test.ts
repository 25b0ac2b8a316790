import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { claimBody, newAgent, PUBLIC_URL, send } from "../helpers/agents.js";
import { runCli } from "../helpers/ledger-fixture.js";
import { newDatabase, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

/**
 * `countersign agents namespaces|services|claims ...`, against a running vault over HTTP (the CLI goes
 * through the admin API, so storage is the routes' concern: one engine, as the stepauth CLI test).
 */
describe("countersign agents", () => {
  let db: TestDatabase;
  let v: TestVault;
  let env: Record<string, string>;
  const clock = new ManualClock(Date.now());
  const cli = async (args: string[]) => {
    const out = await runCli(["agents", ...args], env);
    return { ...out, json: out.code === 0 && args.includes("--json") ? JSON.parse(out.stdout) : undefined };
  };
  /** A claim by a fresh agent of acme-corp to billing-api, submitted as a service would (signed, with the service key). */
  const submitClaim = async (serviceKey: string, extra: Record<string, unknown> = {}): Promise<string> => {
    const agent = newAgent("acme-corp", clock, "dev@acme.example");
    const res = await send(v, "POST", "/v1/claims", { agent, bearer: serviceKey, body: claimBody(agent, "billing-api", extra) });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.claim_id as string;
  };

  beforeAll(async () => {
    db = newDatabase("pglite");
    v = await startTestVault(db, { env: { VAULT_PUBLIC_URL: PUBLIC_URL }, overrides: { clock } });
    env = { COUNTERSIGN_URL: v.url, COUNTERSIGN_API_KEY: v.adminKey };
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it("registers and lists namespaces; a taken or malformed one is the vault's error (exit 1)", async () => {
    const added = await cli(["namespaces", "add", "acme-corp", "--json"]);
    expect(added.code, added.stderr).toBe(0);
    expect(added.json).toMatchObject({ namespace: "acme-corp", tenant_id: v.tenantId });
    const listed = await cli(["namespaces", "list"]);
    expect(listed.stdout).toMatch(/^acme-corp {2}created \d{4}-/m);
    const taken = await cli(["namespaces", "add", "acme-corp"]);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain("agent_namespace_taken");
    expect((await cli(["namespaces", "add", "Bad_NS"])).code).toBe(1);
  });

  it("registers services and prints a service key once; listings never show it", async () => {
    const added = await cli(["services", "add", "billing-api", "--name", "Billing API", "--description", "Invoices"]);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout.trim()).toBe("registered billing-api  Billing API  (Invoices)");
    const key = await cli(["services", "key", "billing-api", "--label", "gateway"]);
    expect(key.code, key.stderr).toBe(0);
    const raw = /^api_key: +(\S+) +\(service billing-api; shown once\)$/m.exec(key.stdout)?.[1];
    expect(raw).toMatch(/^csk_/);
    // The key works, for a claim: what a service key is for.
    await submitClaim(raw!);
    const listed = await cli(["services", "list", "--json"]);
    expect(listed.json.services).toEqual([expect.objectContaining({ slug: "billing-api", name: "Billing API" })]);
    const keys = await runCli(["keys", "list"], env);
    expect(keys.stdout).toContain("gateway");
    expect(`${listed.stdout}${keys.stdout}`).not.toContain(raw);
    const json = await cli(["services", "key", "billing-api", "--json"]);
    expect(json.json).toMatchObject({ service: "billing-api", api_key: expect.stringMatching(/^csk_/) });
    const missing = await cli(["services", "key", "nope"]);
    expect([missing.code, missing.stderr.includes("protected_service_not_found")]).toEqual([1, true]);
  });

  it("lists claims by status, approves, rejects and revokes them with a reason", async () => {
    const key = (await cli(["services", "key", "billing-api", "--json"])).json.api_key as string;
    const approveMe = await submitClaim(key, { agent_name: "Invoice bot", agent_id: "invoice-bot" });
    const rejectMe = await submitClaim(key);

    const pending = await cli(["claims", "list", "--status", "pending"]);
    expect(pending.code, pending.stderr).toBe(0);
    expect(pending.stdout).toMatch(new RegExp(`^${approveMe} {2}pending {3}acme-corp {2}billing-api {2}ed25519:\\S+ {2}subject dev@acme\\.example {2}agent Invoice bot \\(invoice-bot\\)$`, "m"));
    expect(pending.stdout).toContain(rejectMe);

    const approved = await cli(["claims", "approve", approveMe, "--reason", "known bot"]);
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toMatch(new RegExp(`^${approveMe} {2}approved`, "m"));
    expect(approved.stdout).toMatch(/^review: approved, approvals 1\/1$/m);
    const rejected = await cli(["claims", "reject", rejectMe, "--json"]);
    expect(rejected.json).toMatchObject({ claim_id: rejectMe, status: "rejected", review: { status: "denied" } });

    // A decided claim cannot be voted on again: the vault's Sigilum code, exit 1.
    const again = await cli(["claims", "approve", rejectMe]);
    expect([again.code, again.stderr.includes("CLAIM_NOT_PENDING")]).toEqual([1, true]);

    const revoked = await cli(["claims", "revoke", approveMe, "--reason", "laptop lost"]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toMatch(new RegExp(`^revoked ${approveMe} {2}revoked .* reason: laptop lost$`, "m"));

    const onlyRevoked = await cli(["claims", "list", "--status", "revoked", "--json"]);
    expect(onlyRevoked.json.claims.map((c: { claim_id: string }) => c.claim_id)).toEqual([approveMe]);
    const all = await cli(["claims", "list", "--limit", "2", "--json"]);
    expect(all.json.claims).toHaveLength(2);
    // Commander refuses an unknown status before the vault is asked: a usage error, exit 2.
    expect((await cli(["claims", "list", "--status", "bogus"])).code).toBe(2);
  });
});

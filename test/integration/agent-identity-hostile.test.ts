import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { errorCatalog } from "../../src/errors.js";
import { SIGILUM_HEADERS } from "../../src/protocols/http-signatures/sigilum-verify.js";
import { AgentSigner } from "../../src/sdk/agent-signer.js";
import { agentSetup, newAgent, PUBLIC_URL, type Agent } from "../helpers/agents.js";
import { newDatabase, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

/**
 * Hostile signed requests: every header of a valid Sigilum signature replaced, dropped or bent
 * (malformed base64, wrong lengths, junk certificates, clock skew, non-ASCII), and bodies changed
 * after signing. Each must get a 4xx problem with a catalogued code (a Sigilum one for a 401), never
 * a 5xx, and must leave no clearance request or claim behind.
 */
const latin1 = fc.string({ unit: fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0xa0, max: 0xff })).map((c) => String.fromCharCode(c)), maxLength: 300 });
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
const junkValue = fc.oneof(
  latin1,
  fc.uint8Array({ maxLength: 100 }).map(b64),
  fc.uint8Array({ maxLength: 100 }).map((b) => Buffer.from(b).toString("base64url")),
  fc.constantFrom("", " ", "sig1=::", "sig1=:AAAA:", `sig1=:${"A".repeat(86)}==:`, "ed25519:", "ed25519:AAAA", "x".repeat(9000), "\u00e9\u00ff", "sig1=();created=1;keyid=\"k\";alg=\"ed25519\";nonce=\"n\""),
  fc.jsonValue({ maxDepth: 3 }).map((j) => Buffer.from(JSON.stringify(j)).toString("base64url")),
);

type Mutation = { kind: "set"; name: string; value: string } | { kind: "drop"; name: string } | { kind: "created"; delta: number } | { kind: "body"; text: string } | { kind: "cert"; field: string; value: unknown };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("set" as const), name: fc.constantFrom(...SIGILUM_HEADERS, "content-digest"), value: junkValue }),
  fc.record({ kind: fc.constant("drop" as const), name: fc.constantFrom(...SIGILUM_HEADERS, "content-digest") }),
  fc.record({ kind: fc.constant("created" as const), delta: fc.oneof(fc.integer({ min: -1e9, max: 1e9 }), fc.constantFrom(301, -6, 3600, -3600)) }),
  fc.record({ kind: fc.constant("body" as const), text: fc.oneof(latin1, fc.constantFrom("{}", '{"tool_name":"x"}', "null", "[]", "{\"tool_name\":\"x\",\"tool_name\":\"y\"}")) }),
  fc.record({ kind: fc.constant("cert" as const), field: fc.constantFrom("namespace", "did", "keyId", "publicKey", "issuedAt", "expiresAt", "proof", "version"), value: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom("2000-01-01T00:00:00Z", null, "acme-corp\nx", "ed25519:AAAA")) }),
);

for (const engine of ["pglite", "postgres"] as Engine[]) {
  describe(`hostile signed requests on ${engine}`, () => {
    let db: TestDatabase;
    let v: TestVault;
    let agent: Agent;
    const clock = new ManualClock(Date.now());

    beforeAll(async () => {
      db = newDatabase(engine);
      v = await startTestVault(db, { env: { VAULT_PUBLIC_URL: PUBLIC_URL }, overrides: { clock } });
      await agentSetup(v, { namespace: "acme-corp", service: "billing-api" });
      agent = newAgent("acme-corp", clock);
    });
    afterAll(async () => {
      await v?.close();
      await db?.drop();
    });

    /** A valid signature for the route, then the mutations applied to its headers, certificate or body. */
    function request(route: "clearance" | "verify", mutations: Mutation[]) {
      const verifyPath = `/v1/verify?namespace=acme-corp&public_key=${encodeURIComponent(agent.identity.publicKey)}&service=billing-api`;
      const [method, path, body] = route === "clearance" ? ["POST", "/request-clearance", '{"tool_name":"wire_transfer"}'] : ["GET", verifyPath, undefined];
      let payload = body;
      const offset = mutations.find((m) => m.kind === "created")?.delta ?? 0;
      const cert = { ...agent.identity.certificate } as Record<string, unknown>;
      for (const m of mutations) if (m.kind === "cert") cert[m.field] = m.value;
      const signer = new AgentSigner(agent.identity, { now: () => clock.nowMs() + offset * 1000 });
      const headers: Record<string, string> = { ...signer.sign(method, PUBLIC_URL + path, payload ?? null) };
      if (mutations.some((m) => m.kind === "cert")) headers["sigilum-agent-cert"] = Buffer.from(JSON.stringify(cert)).toString("base64url");
      for (const m of mutations) {
        if (m.kind === "set") headers[m.name] = m.value;
        if (m.kind === "drop") delete headers[m.name];
        if (m.kind === "body" && payload !== undefined) payload = m.text;
      }
      if (payload !== undefined) headers["content-type"] = "application/json";
      return v.vault.app.inject({ method: method as "GET", url: path, headers, payload });
    }

    it("never answers 5xx, always a catalogued code (a Sigilum one for 401), and stores nothing", async () => {
      const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
      const count = async () => (await sql.query<{ n: number }>("SELECT (SELECT count(*) FROM clearance_requests) + (SELECT count(*) FROM agent_claims) AS n"))[0]!.n;
      const before = await count();
      const seen = new Set<string>();
      await fc.assert(
        fc.asyncProperty(fc.constantFrom("clearance" as const, "verify" as const), fc.array(mutation, { minLength: 1, maxLength: 3 }), async (route, mutations) => {
          const res = await request(route, mutations);
          expect(res.statusCode, res.body).toBeLessThan(500);
          const body = JSON.parse(res.body);
          seen.add(res.statusCode === 200 ? "200" : body.code);
          if (res.statusCode === 200) return; // a mutation that changed nothing signed (e.g. an unsigned header's value)
          expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
          expect(Object.keys(errorCatalog)).toContain(body.code);
          if (res.statusCode === 401) expect(body.code).toMatch(/^(SIGNATURE_|AGENT_NAMESPACE_UNKNOWN|unauthorized)/);
        }),
        { numRuns: 150 },
      );
      expect(Number(await count())).toBe(Number(before));
      // The mutations reached every step of the verification, not just the first.
      for (const code of ["SIGNATURE_MISSING", "SIGNATURE_INVALID", "SIGNATURE_EXPIRED", "SIGNATURE_DIGEST_MISMATCH"]) expect([...seen]).toContain(code);
    });
  });
}

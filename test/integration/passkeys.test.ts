import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertionDigest } from "../../src/ledger/core/passkey-chunk.js";
import { passkeyCommitmentBase64Url } from "../../src/ledger/core/passkey-commitment.js";
import { toolArgsHash } from "../../src/tokens/canonical-json.js";
import { trustedKeysFromBundle, verifyProofBundle } from "../../src/ledger/verify/bundle-verifier.js";
import { SoftwareAuthenticator } from "../helpers/software-authenticator.js";
import { call, newDatabase, newKey, newTenant, refundPolicy, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

/**
 * Passkey-signed approvals end to end (docs/passkeys.md): enrolment as a ledger event, require_passkey,
 * assertions bound to the request's commitment, and every way to get a bad one accepted refused. The
 * offline bundle checks are in passkeys-bundle.test.ts.
 */
const ORIGIN = "http://localhost:8080";
const WEBAUTHN_ENV = { VAULT_WEBAUTHN_RP_ID: "localhost", VAULT_WEBAUTHN_ORIGINS: ORIGIN };

interface Person { reviewer_id: string; api_key: string; auth: SoftwareAuthenticator }

for (const engine of ["pglite", "postgres"] as Engine[]) {
  describe(`passkey-signed approvals on ${engine}`, () => {
    let db: TestDatabase;
    let v: TestVault;
    let agent: string;
    const people: Record<string, Person> = {};

    const settings = (body: Record<string, unknown>) => call(v.url, "PUT", "/review-settings", { key: v.adminKey, body: { minimum_confidence_bucket: "high", ...body } });
    const pending = async (amount = 500) => {
      const res = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount, order_id: `o-${amount}` }, agent_id: "agent-7" } });
      expect(res.body.status).toBe("pending_review");
      return res.body as { request_id: string; tool_args_hash: string };
    };
    const enrol = async (who: string, label = "") => {
      const p = people[who]!;
      const options = await call(v.url, "POST", "/passkeys/registration-options", { key: p.api_key, body: {} });
      expect(options.status).toBe(200);
      const res = await call(v.url, "POST", "/passkeys/register", { key: p.api_key, body: { response: p.auth.register(options.body), label } });
      expect(res.status).toBe(201);
      return res.body;
    };
    const options = (who: string, id: string, body: Record<string, unknown> = {}) => call(v.url, "POST", `/reviews/${id}/passkey-options`, { key: people[who]!.api_key, body });
    const sign = async (who: string, id: string, o: Parameters<SoftwareAuthenticator["assert"]>[1] = {}) => {
      const opts = await options(who, id);
      expect(opts.status).toBe(200);
      return people[who]!.auth.assert(opts.body, o);
    };
    const vote = (who: string, id: string, approved: boolean, passkey?: unknown) =>
      call(v.url, "POST", `/reviews/${id}/decision`, { key: people[who]?.api_key ?? who, body: { approved, ...(passkey ? { passkey } : {}) } });
    const tenantSql = () => v.vault.ctx.tenantDbs.get(v.tenantId);
    const policyVersionOf = async (id: string) => (await (await tenantSql()).query<{ policy_version_id: string | null }>("SELECT policy_version_id FROM clearance_requests WHERE id = $1", [id]))[0]!.policy_version_id;
    const claimsOf = async (id: string) => {
      const poll = await call(v.url, "GET", `/clearance-status/${id}`, { key: agent });
      return JSON.parse(Buffer.from(String(poll.body.token).split(".")[1]!, "base64url").toString("utf8"));
    };
    const eventsOf = async (id: string) =>
      (await (await tenantSql()).query<{ event_type: string; event_uuid: string }>("SELECT event_type, event_uuid FROM ledger_events WHERE request_id = $1 ORDER BY seq", [id]));

    beforeAll(async () => {
      db = newDatabase(engine);
      v = await startTestVault(db, { env: { ...WEBAUTHN_ENV, VAULT_REVIEW_SWEEP_INTERVAL_SECONDS: "3600" } });
      agent = await newKey(v, "agent");
      expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy })).status).toBe(200);
      for (const name of ["ana", "bo", "cy", "di"]) {
        const res = await call(v.url, "POST", "/reviewers", { key: v.adminKey, body: { name, email: `${name}@example.com` } });
        expect(res.status).toBe(201);
        people[name] = { ...res.body, auth: new SoftwareAuthenticator(ORIGIN, { alg: name === "bo" ? -8 : -7 }) };
      }
    });
    afterAll(async () => {
      await v?.close();
      await db?.drop();
    });

    it("enrols a passkey (ES256 and EdDSA) as a vault.audit passkey.enrolled event, and lists it", async () => {
      const ana = await enrol("ana", "laptop");
      expect(ana).toMatchObject({ id: expect.stringMatching(/^pk_/), reviewer_id: people.ana!.reviewer_id, label: "laptop", alg: -7, sign_count: 0, ledger_event_uuid: expect.any(String) });
      expect(ana.ledger_event_uuid).toBe(ana.enrolment_event_uuid);
      const bo = await enrol("bo");
      expect(bo.alg).toBe(-8);
      const listed = await call(v.url, "GET", "/passkeys", { key: people.ana!.api_key });
      expect(listed.body.passkeys.map((p: { id: string }) => p.id)).toEqual([ana.id]);
      expect(listed.body.passkeys[0]).not.toHaveProperty("public_key_cose");
      const events = await eventsOf(ana.id);
      expect(events).toEqual([{ event_type: "vault.audit", event_uuid: ana.ledger_event_uuid }]);
      // An admin may list another reviewer's; a reviewer may not.
      expect((await call(v.url, "GET", `/passkeys?reviewer_id=${people.bo!.reviewer_id}`, { key: v.adminKey })).body.passkeys.map((p: { id: string }) => p.id)).toEqual([bo.id]);
      expect((await call(v.url, "GET", `/passkeys?reviewer_id=${people.bo!.reviewer_id}`, { key: people.ana!.api_key })).body.code).toBe("insufficient_scope");
      // Another tenant sees none of them.
      const other = await newTenant(v, `other-${engine}`);
      expect((await call(v.url, "GET", `/passkeys?reviewer_id=${people.ana!.reviewer_id}`, { key: other.adminKey })).body.passkeys).toEqual([]);
    });

    it("refuses a registration with a used, foreign or missing challenge, another origin, no user verification, or a known credential", async () => {
      const cy = people.cy!;
      const opts = (await call(v.url, "POST", "/passkeys/registration-options", { key: cy.api_key, body: {} })).body;
      expect(opts).toMatchObject({ rp: { id: "localhost", name: "Countersign" }, attestation: "none", authenticatorSelection: { userVerification: "required" } });
      expect(opts.pubKeyCredParams.map((p: { alg: number }) => p.alg).sort((a: number, b: number) => a - b)).toEqual([-8, -7]);
      const register = (response: unknown) => call(v.url, "POST", "/passkeys/register", { key: cy.api_key, body: { response } });
      const badOrigin = await register(cy.auth.register(opts, { origin: "https://evil.example" }));
      expect([badOrigin.status, badOrigin.body.code]).toEqual([400, "passkey_registration_invalid"]);
      // The challenge was used up by that failed attempt.
      expect((await register(cy.auth.register(opts))).body.detail).toMatch(/challenge/);
      const noUv = await register(cy.auth.register((await call(v.url, "POST", "/passkeys/registration-options", { key: cy.api_key, body: {} })).body, { userVerified: false }));
      expect([noUv.status, noUv.body.code]).toEqual([400, "passkey_registration_invalid"]);
      // A challenge issued to ana is not cy's.
      const anaOpts = (await call(v.url, "POST", "/passkeys/registration-options", { key: people.ana!.api_key, body: {} })).body;
      expect((await register(cy.auth.register(anaOpts))).body.code).toBe("passkey_registration_invalid");
      // A credential enrolled already (even to another reviewer) is not enrolled twice.
      const anaCredential = [...people.ana!.auth.credentials.keys()][0]!;
      const again = await register(cy.auth.register((await call(v.url, "POST", "/passkeys/registration-options", { key: cy.api_key, body: {} })).body, { credentialId: anaCredential }));
      expect([again.status, again.body.code]).toEqual([409, "passkey_exists"]);
      cy.auth.credentials.clear();
      expect((await call(v.url, "GET", "/passkeys", { key: cy.api_key })).body.passkeys).toEqual([]);
      // Strict body: unknown members are refused.
      expect((await call(v.url, "POST", "/passkeys/register", { key: cy.api_key, body: { response: {}, extra: 1 } })).body.code).toBe("validation_failed");
      // Agents cannot enrol.
      expect((await call(v.url, "POST", "/passkeys/registration-options", { key: agent, body: {} })).body.code).toBe("insufficient_scope");
    });

    it("gives assertion options whose challenge is the commitment to the request, only to someone who could approve it", async () => {
      await settings({ require_passkey: true });
      const req = await pending(510);
      const opts = await options("ana", req.request_id);
      const expected = passkeyCommitmentBase64Url({ request_id: req.request_id, tool: "stripe_refund", tool_args_hash: req.tool_args_hash, policy_version_id: await policyVersionOf(req.request_id) });
      expect(opts.body).toMatchObject({ challenge: expected, rpId: "localhost", userVerification: "required" });
      expect(opts.body.allowCredentials.map((c: { id: string }) => c.id)).toEqual([...people.ana!.auth.credentials.keys()]);
      expect((await options("cy", req.request_id)).body.code).toBe("passkey_not_enrolled");
      expect((await call(v.url, "POST", `/reviews/req_nope/passkey-options`, { key: people.ana!.api_key, body: {} })).body.code).toBe("request_not_found");
      expect((await call(v.url, "POST", `/reviews/${req.request_id}/passkey-options`, { key: agent, body: {} })).body.code).toBe("insufficient_scope");
    });

    it("require_passkey: no passkey, no approval (a reviewer without one may still deny); a valid one approves, and the token names it", async () => {
      await settings({ require_passkey: true });
      const req = await pending(520);
      const bare = await vote("ana", req.request_id, true);
      expect([bare.status, bare.body.code]).toEqual([403, "passkey_required"]);
      const none = await vote("cy", req.request_id, true);
      expect([none.status, none.body.code]).toEqual([403, "passkey_required"]);
      expect(none.body.detail).toMatch(/no passkey enrolled/);
      const passkey = await sign("ana", req.request_id);
      const ok = await vote("ana", req.request_id, true, passkey);
      expect(ok.body).toMatchObject({ status: "approved", decision_status: "approved" });
      const claims = await claimsOf(req.request_id);
      const chunk = { authenticator: passkey.response.authenticatorData, client: passkey.response.clientDataJSON, signature: passkey.response.signature };
      expect(claims.approvals).toEqual([{ credential_id: passkey.id, assertion_digest: assertionDigest(chunk) }]);
      // Stored with the vote, and in the approval's ledger event.
      const stored = await (await tenantSql()).query<{ passkey: { chunk: { credential: string } } }>("SELECT passkey FROM review_decisions WHERE request_id = $1", [req.request_id]);
      expect(stored[0]!.passkey.chunk.credential).toBe(passkey.id);
      expect((await eventsOf(req.request_id)).map((e) => e.event_type)).toEqual(["clearance.pending_review", "review.approved"]);
      // A deny never needs one.
      const other = await pending(530);
      expect((await vote("cy", other.request_id, false)).body.status).toBe("denied");
    });

    it("refuses a forged signature, another origin, a missing UV flag, another reviewer's credential and a stale counter", async () => {
      await settings({ require_passkey: true });
      const req = await pending(540);
      const refused = async (who: string, passkey: unknown, why: RegExp) => {
        const res = await vote(who, req.request_id, true, passkey);
        expect([res.status, res.body.code]).toEqual([403, "passkey_invalid"]);
        expect(res.body.detail).toMatch(why);
      };
      const forged = await sign("ana", req.request_id);
      const sig = Buffer.from(forged.response.signature, "base64url");
      sig[sig.length - 5]! ^= 0x01;
      await refused("ana", { ...forged, response: { ...forged.response, signature: sig.toString("base64url") } }, /signature/);
      await refused("ana", await sign("ana", req.request_id, { origin: "https://evil.example" }), /origin/);
      await refused("ana", await sign("ana", req.request_id, { userVerified: false }), /UV|verif/i);
      await refused("ana", await sign("ana", req.request_id, { rpId: "evil.example" }), /RP ID/i);
      // Bo signs with ana's credential id: not his.
      const anaCredential = [...people.ana!.auth.credentials.keys()][0]!;
      await refused("bo", people.ana!.auth.assert((await options("bo", req.request_id)).body, { credentialId: anaCredential }), /another reviewer/);
      // A counter that does not rise: a replay, or a cloned authenticator.
      const counter = people.ana!.auth.credentials.get(anaCredential)!.counter;
      const stale = await sign("ana", req.request_id, { counter: 1 });
      expect(counter).toBeGreaterThan(1);
      await refused("ana", stale, /counter/);
      // None of those voted: ana still approves with a good one.
      expect((await vote("ana", req.request_id, true, await sign("ana", req.request_id))).body.status).toBe("approved");
    });

    it("refuses replays: an assertion for one request on another, another reviewer's on the same request, and the same one twice", async () => {
      await settings({ require_passkey: true, approvals_required: 2 });
      const first = await pending(550);
      const second = await pending(560);
      const anaFirst = await sign("ana", first.request_id);
      // Made for the first request: its challenge is not the second's commitment.
      const onOther = await vote("ana", second.request_id, true, anaFirst);
      expect([onOther.status, onOther.body.code]).toEqual([403, "passkey_invalid"]);
      expect(onOther.body.detail).toMatch(/challenge|commitment/);
      expect((await vote("ana", first.request_id, true, anaFirst)).body.status).toBe("pending_review");
      // Bo replays ana's assertion on the same request.
      const byBo = await vote("bo", first.request_id, true, anaFirst);
      expect([byBo.status, byBo.body.code]).toEqual([403, "passkey_invalid"]);
      // Ana replays it: one vote per reviewer (and the counter has moved).
      expect((await vote("ana", first.request_id, true, anaFirst)).body.code).toBe("already_voted");
      const done = await vote("bo", first.request_id, true, await sign("bo", first.request_id));
      expect(done.body.status).toBe("approved");
      const claims = await claimsOf(first.request_id);
      expect(claims.approvals.map((a: { credential_id: string }) => a.credential_id)).toEqual([anaFirst.id, [...people.bo!.auth.credentials.keys()][0]]);
      expect((await eventsOf(first.request_id)).map((e) => e.event_type)).toEqual(["clearance.pending_review", "review.vote", "review.approved"]);
      await settings({ require_passkey: true, approvals_required: 1 });
    });

    it("verifies and records a passkey given when none is required; without the rule, approvals need none", async () => {
      await settings({ require_passkey: false });
      const signed = await pending(570);
      const bad = await sign("ana", signed.request_id, { origin: "https://evil.example" });
      expect((await vote("ana", signed.request_id, true, bad)).body.code).toBe("passkey_invalid");
      const good = await sign("ana", signed.request_id);
      expect((await vote("ana", signed.request_id, true, good)).body.status).toBe("approved");
      expect((await claimsOf(signed.request_id)).approvals).toHaveLength(1);
      const plain = await pending(580);
      expect((await vote("cy", plain.request_id, true)).body.status).toBe("approved");
      expect(await claimsOf(plain.request_id)).not.toHaveProperty("approvals");
    });

    it("commits to edited arguments and a grant: a signature without them does not approve with them", async () => {
      await settings({ require_passkey: true });
      const req = await pending(600);
      const edited = { amount: 450, order_id: "o-600" };
      const withEdit = (passkey: unknown, extra: Record<string, unknown> = {}) =>
        call(v.url, "POST", `/reviews/${req.request_id}/decision`, { key: people.ana!.api_key, body: { approved: true, edited_tool_args: edited, passkey, ...extra } });
      const plain = await withEdit(await sign("ana", req.request_id));
      expect([plain.status, plain.body.code]).toEqual([403, "passkey_invalid"]);
      const opts = (await options("ana", req.request_id, { edited_tool_args: edited })).body;
      const expected = { request_id: req.request_id, tool: "stripe_refund", tool_args_hash: toolArgsHash(edited), policy_version_id: await policyVersionOf(req.request_id) };
      expect(opts.challenge).toBe(passkeyCommitmentBase64Url(expected));
      // The same edit, widened into a grant the signature did not cover.
      const grant = { scope: "window", window_minutes: 30 };
      expect((await withEdit(people.ana!.auth.assert(opts), { grant })).body.code).toBe("passkey_invalid");
      const granted = (await options("ana", req.request_id, { edited_tool_args: edited, grant })).body;
      expect(granted.challenge).toBe(passkeyCommitmentBase64Url({ ...expected, grant: { scope: "window", window_minutes: 30, constraint: null } }));
      const ok = await withEdit(people.ana!.auth.assert(granted), { grant });
      expect(ok.status, JSON.stringify(ok.body)).toBe(200);
      expect(ok.body.status).toBe("approved");
      const claims = await claimsOf(req.request_id);
      expect(claims.tool_args_hash).toBe(toolArgsHash(edited));
      expect(claims.approvals).toHaveLength(1);
      // Offline, the signed argument hash is bound by the approval's edit chunk.
      await v.vault.ctx.ledgerLoop.drain();
      const bundle = (await call(v.url, "GET", `/ledger/proof/bundle?request_id=${req.request_id}`, { key: agent })).body;
      const report = verifyProofBundle(bundle, trustedKeysFromBundle(bundle));
      expect(report.checks.filter((c) => !c.ok)).toEqual([]);
      expect(report.approvals).toEqual([expect.objectContaining({ credential_id: claims.approvals[0].credential_id, verified: true })]);
    });

    it("a removed passkey is a passkey.removed event and never signs again", async () => {
      await settings({ require_passkey: true });
      const req = await pending(590);
      const assertion = await sign("ana", req.request_id);
      const [anaPasskey] = (await call(v.url, "GET", "/passkeys", { key: people.ana!.api_key })).body.passkeys;
      expect((await call(v.url, "DELETE", `/passkeys/${anaPasskey.id}`, { key: people.bo!.api_key })).body.code).toBe("passkey_not_found");
      // Her last passkey: she may not remove it herself (a stolen key could then enrol a "first" one,
      // passkeys-enrolment.test.ts); an admin does, for a lost authenticator.
      const own = await call(v.url, "DELETE", `/passkeys/${anaPasskey.id}`, { key: people.ana!.api_key });
      expect([own.status, own.body.code]).toEqual([403, "passkey_last_removal_forbidden"]);
      const removed = await call(v.url, "DELETE", `/passkeys/${anaPasskey.id}`, { key: v.adminKey });
      expect(removed.body).toMatchObject({ id: anaPasskey.id, ledger_event_uuid: expect.any(String) });
      expect((await eventsOf(anaPasskey.id)).map((e) => e.event_type)).toEqual(["vault.audit", "vault.audit"]);
      expect((await call(v.url, "DELETE", `/passkeys/${anaPasskey.id}`, { key: people.ana!.api_key })).body.code).toBe("passkey_not_found");
      const res = await vote("ana", req.request_id, true, assertion);
      expect([res.status, res.body.code]).toEqual([403, "passkey_invalid"]);
      expect(res.body.detail).toMatch(/removed/);
      const now = await vote("ana", req.request_id, true);
      expect(now.body.detail).toMatch(/no passkey enrolled/);
      // An admin may remove anyone's.
      const [boPasskey] = (await call(v.url, "GET", "/passkeys", { key: people.bo!.api_key })).body.passkeys;
      expect((await call(v.url, "DELETE", `/passkeys/${boPasskey.id}`, { key: v.adminKey })).status).toBe(200);
      await settings({ require_passkey: false });
    });
  });
}

import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { trustedKeysFromBundle, verifyProofBundle, type BundleReport } from "../../src/ledger/verify/bundle-verifier.js";
import { Countersign } from "../../src/sdk/index.js";
import { fetchLedgerProofBundle, verifyLedgerProofBundle } from "../helpers/ledgix-ledger-verifier.js";
import { cbor, SoftwareAuthenticator } from "../helpers/software-authenticator.js";
import { call, newDatabase, newKey, refundPolicy, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

/**
 * Passkey-signed approvals under attack (docs/passkeys.md), against a real vault: what a hostile
 * outsider holding a reviewer's key, a malicious vault operator writing the ledger, or a broken
 * client could try. Each test here failed before the fix it guards:
 *
 * - a weak (small-order Ed25519) public key, with which anyone "signs" anything, is not enrolled;
 * - the offline check binds each assertion to what its event approves (edited arguments, grant), not
 *   to any argument hash somewhere in the bundle;
 * - a request whose rules required a passkey commits to that in its ledger events, so a bundle of
 *   such an approval without signatures fails "passkey approvals" instead of passing it vacuously;
 * - a request whose policy requires a passkey still needs one when the judge fails closed;
 * - hostile assertion JSON never gets a 5xx.
 */
const ORIGIN = "http://localhost:8080";
const WEBAUTHN_ENV = { VAULT_WEBAUTHN_RP_ID: "localhost", VAULT_WEBAUTHN_ORIGINS: ORIGIN, VAULT_REVIEW_SWEEP_INTERVAL_SECONDS: "3600" };

interface Person { reviewer_id: string; api_key: string; auth: SoftwareAuthenticator }
type Bundle = Record<string, any>;

const b64url = (b: Uint8Array | Buffer) => Buffer.from(b).toString("base64url");
const sha256 = (b: Uint8Array | Buffer | string) => createHash("sha256").update(b).digest();

/** An attestation-"none" registration of an arbitrary COSE key: what a client controlling the authenticator can send. */
function registrationWithKey(options: { challenge: string; rp: { id?: string } }, cose: Buffer) {
  const id = randomBytes(16);
  const authData = Buffer.concat([sha256(options.rp.id!), Buffer.from([0x45]), Buffer.alloc(4), Buffer.alloc(16), Buffer.from([0, id.length]), id, cose]);
  const clientData = Buffer.from(JSON.stringify({ type: "webauthn.create", challenge: options.challenge, origin: ORIGIN, crossOrigin: false }));
  return {
    id: b64url(id),
    rawId: b64url(id),
    type: "public-key" as const,
    response: { clientDataJSON: b64url(clientData), attestationObject: b64url(cbor(new Map<string, unknown>([["fmt", "none"], ["attStmt", new Map()], ["authData", authData]]))), transports: ["internal"] },
    clientExtensionResults: {},
  };
}

describe.each<Engine>(["postgres", "pglite"])("passkey approvals under attack on %s", (engine) => {
  let db: TestDatabase;
  let v: TestVault;
  let agent: string;
  const people: Record<string, Person> = {};
  let amount = 700;

  const settings = (body: Record<string, unknown>, policyId?: string) =>
    call(v.url, "PUT", `/review-settings${policyId ? `?policy_id=${policyId}` : ""}`, { key: v.adminKey, body: policyId ? body : { minimum_confidence_bucket: "high", ...body } });
  const pending = async () => {
    amount += 1;
    const res = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount, order_id: `a-${amount}` }, agent_id: "agent-x" } });
    expect(res.body.status, JSON.stringify(res.body)).toBe("pending_review");
    return res.body as { request_id: string; tool_args_hash: string };
  };
  const sign = async (who: string, id: string, terms: Record<string, unknown> = {}) => {
    const opts = await call(v.url, "POST", `/reviews/${id}/passkey-options`, { key: people[who]!.api_key, body: terms });
    expect(opts.status, JSON.stringify(opts.body)).toBe(200);
    return people[who]!.auth.assert(opts.body);
  };
  const vote = (who: string, id: string, body: Record<string, unknown> = {}) => call(v.url, "POST", `/reviews/${id}/decision`, { key: people[who]!.api_key, body: { approved: true, ...body } });
  const tenantSql = () => v.vault.ctx.tenantDbs.get(v.tenantId);
  const bundleOf = async (id: string): Promise<Bundle> => {
    await v.vault.ctx.ledgerLoop.drain();
    const res = await call(v.url, "GET", `/ledger/proof/bundle?request_id=${id}`, { key: agent });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body;
  };
  const verify = (b: Bundle) => verifyProofBundle(b, trustedKeysFromBundle(b));
  const failed = (r: BundleReport) => r.checks.filter((c) => !c.ok).map((c) => c.name);
  const passkeyCheck = (r: BundleReport) => r.checks.find((c) => c.name === "passkey approvals");

  beforeAll(async () => {
    db = newDatabase(engine);
    v = await startTestVault(db, { env: WEBAUTHN_ENV });
    agent = await newKey(v, "agent");
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy })).status).toBe(200);
    for (const name of ["ana", "bo", "cy"]) {
      const r = (await call(v.url, "POST", "/reviewers", { key: v.adminKey, body: { name, email: `${name}@example.com` } })).body;
      people[name] = { ...r, auth: new SoftwareAuthenticator(ORIGIN) };
      if (name === "cy") continue;
      const options = (await call(v.url, "POST", "/passkeys/registration-options", { key: r.api_key, body: {} })).body;
      expect((await call(v.url, "POST", "/passkeys/register", { key: r.api_key, body: { response: people[name]!.auth.register(options) } })).status).toBe(201);
    }
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it("does not enrol a small-order Ed25519 key, with which anyone 'signs' any challenge", async () => {
    const options = (await call(v.url, "POST", "/passkeys/registration-options", { key: people.cy!.api_key, body: {} })).body;
    const identity = Buffer.alloc(32);
    identity[0] = 1; // the neutral point: R = identity, S = 0 verifies for every message with it
    const cose = cbor(new Map<number, unknown>([[1, 1], [3, -8], [-1, 6], [-2, identity]]));
    const res = await call(v.url, "POST", "/passkeys/register", { key: people.cy!.api_key, body: { response: registrationWithKey(options, cose) } });
    expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([400, "passkey_registration_invalid"]);
    expect(res.body.detail).toMatch(/small order|weak/i);
    expect((await call(v.url, "GET", "/passkeys", { key: people.cy!.api_key })).body.passkeys).toEqual([]);
  });

  it("does not enrol an ES256 key whose point is not on P-256", async () => {
    const options = (await call(v.url, "POST", "/passkeys/registration-options", { key: people.cy!.api_key, body: {} })).body;
    const cose = cbor(new Map<number, unknown>([[1, 2], [3, -7], [-1, 1], [-2, Buffer.alloc(32, 1)], [-3, Buffer.alloc(32, 2)]]));
    const res = await call(v.url, "POST", "/passkeys/register", { key: people.cy!.api_key, body: { response: registrationWithKey(options, cose) } });
    expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([400, "passkey_registration_invalid"]);
    expect(res.body.detail).toMatch(/curve/i);
  });

  it("a removed credential's id is never enrolled to another reviewer (its approvals and tokens name it)", async () => {
    const cy = people.cy!;
    const options = () => call(v.url, "POST", "/passkeys/registration-options", { key: cy.api_key, body: {} }).then((r) => r.body);
    const enrolled = await call(v.url, "POST", "/passkeys/register", { key: cy.api_key, body: { response: cy.auth.register(await options()) } });
    expect(enrolled.status, JSON.stringify(enrolled.body)).toBe(201);
    // Cy's last passkey: an admin removes it (a reviewer may not remove their own last one).
    expect((await call(v.url, "DELETE", `/passkeys/${enrolled.body.id}`, { key: v.adminKey })).status).toBe(200);
    const bo = people.bo!;
    const boOptions = (await call(v.url, "POST", "/passkeys/registration-options", { key: bo.api_key, body: {} })).body;
    // Bo has a passkey: the enrolment carries his step-up, so what refuses it is the squatted id alone.
    const stepUp = bo.auth.assert(boOptions.step_up);
    const squat = await call(v.url, "POST", "/passkeys/register", {
      key: bo.api_key,
      body: { response: bo.auth.register(boOptions, { credentialId: enrolled.body.credential_id }), assertion: stepUp },
    });
    expect([squat.status, squat.body.code]).toEqual([409, "passkey_exists"]);
    // Its own holder may enrol it again.
    const again = await call(v.url, "POST", "/passkeys/register", { key: cy.api_key, body: { response: cy.auth.register(await options(), { credentialId: enrolled.body.credential_id }) } });
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    expect((await call(v.url, "DELETE", `/passkeys/${again.body.id}`, { key: v.adminKey })).status).toBe(200);
  });

  it("a passkey-required request's events commit to the rule, so an approval without signatures fails the offline check", async () => {
    await settings({ require_passkey: true, approvals_required: 1 });
    const req = await pending();
    // A vault operator turns the rule off under the pending request (the pending event already committed it) and approves unsigned.
    await (await tenantSql()).query(`UPDATE clearance_requests SET review_rules = jsonb_set(review_rules::jsonb, '{require_passkey}', 'false')::json WHERE id = $1`, [req.request_id]).catch(async () =>
      (await tenantSql()).query(`UPDATE clearance_requests SET review_rules = jsonb_set(review_rules, '{require_passkey}', 'false') WHERE id = $1`, [req.request_id]),
    );
    expect((await vote("ana", req.request_id)).body.status).toBe("approved");
    const report = verify(await bundleOf(req.request_id));
    expect(failed(report)).toEqual(["passkey approvals"]);
    expect(passkeyCheck(report)!.detail).toMatch(/required/);
    expect(report.passkey_required).toBe(true);

    // The honest path: the same rule, a signed approval, and the check passes naming the requirement met.
    const signed = await pending();
    expect((await vote("ana", signed.request_id, { passkey: await sign("ana", signed.request_id) })).body.status).toBe("approved");
    const good = verify(await bundleOf(signed.request_id));
    expect(failed(good)).toEqual([]);
    expect(passkeyCheck(good)).toMatchObject({ ok: true, detail: expect.stringMatching(/required/) });
    expect(good.passkey_required).toBe(true);
    // The rule's chunk keeps the Ledgix SDK's verifier happy (one-word keys survive its camelCasing), on the pending event and the approval.
    const events = await (await tenantSql()).query<{ event_uuid: string; event_type: string; body: string }>(
      "SELECT event_uuid, event_type, body FROM ledger_events WHERE request_id = $1 ORDER BY seq",
      [signed.request_id],
    );
    expect(events.map((e) => e.event_type)).toEqual(["clearance.pending_review", "review.approved"]);
    for (const e of events) {
      expect(JSON.parse(e.body).evidence_chunks).toContainEqual({ type: "review_rules", passkey: true, approvals: 1 });
      const sdkBundle = await fetchLedgerProofBundle(v.url, agent, signed.request_id, { event_uuid: e.event_uuid });
      expect(verifyLedgerProofBundle(sdkBundle, undefined)).toMatchObject({ intact: true, verifiedEntries: 1 });
    }
  });

  it("a quorum of 2 under require_passkey needs 2 signed approvals in the approval's event", async () => {
    await settings({ require_passkey: true, approvals_required: 2 });
    const req = await pending();
    expect((await vote("ana", req.request_id, { passkey: await sign("ana", req.request_id) })).body.status).toBe("pending_review");
    // The operator drops the rule for the second vote: bo approves with no signature.
    await (await tenantSql()).query(`UPDATE clearance_requests SET review_rules = jsonb_set(review_rules::jsonb, '{require_passkey}', 'false')::json WHERE id = $1`, [req.request_id]).catch(async () =>
      (await tenantSql()).query(`UPDATE clearance_requests SET review_rules = jsonb_set(review_rules, '{require_passkey}', 'false') WHERE id = $1`, [req.request_id]),
    );
    expect((await vote("bo", req.request_id)).body.status).toBe("approved");
    const report = verify(await bundleOf(req.request_id));
    expect(failed(report)).toEqual(["passkey approvals"]);
    expect(passkeyCheck(report)!.detail).toMatch(/1 of 2/);
    await settings({ require_passkey: true, approvals_required: 1 });
  });

  it("an assertion over the requested arguments does not verify offline for an approval of edited ones", async () => {
    await settings({ require_passkey: true, approvals_required: 2 });
    const req = await pending();
    // Ana signs and approves the request as asked.
    expect((await vote("ana", req.request_id, { passkey: await sign("ana", req.request_id) })).body.status).toBe("pending_review");
    // The operator rewrites her vote as an edit, so bo's edited approval completes the quorum.
    const edited = { amount: 1, order_id: "a-edited" };
    await (await tenantSql()).query(`UPDATE review_decisions SET edited_tool_args = $1 WHERE request_id = $2 AND approved`, [JSON.stringify(edited), req.request_id]);
    const done = await vote("bo", req.request_id, { edited_tool_args: edited, passkey: await sign("bo", req.request_id, { edited_tool_args: edited }) });
    expect(done.body.status, JSON.stringify(done.body)).toBe("approved");
    const report = verify(await bundleOf(req.request_id));
    expect(failed(report)).toEqual(["passkey approvals"]);
    const ana = report.approvals!.find((a) => a.reviewer_id === people.ana!.reviewer_id)!;
    expect(ana.verified).toBe(false);
    expect(ana.problems!.join()).toMatch(/edited/);
    expect(report.approvals!.find((a) => a.reviewer_id === people.bo!.reviewer_id)!.verified).toBe(true);
    await settings({ require_passkey: true, approvals_required: 1 });
  });

  it("an assertion without a grant does not verify offline for an approval that created one", async () => {
    await settings({ require_passkey: true, approvals_required: 2 });
    const req = await pending();
    expect((await vote("ana", req.request_id, { passkey: await sign("ana", req.request_id) })).body.status).toBe("pending_review");
    const grant = { scope: "window", window_minutes: 30 };
    await (await tenantSql()).query(`UPDATE review_decisions SET grant_spec = $1 WHERE request_id = $2 AND approved`, [JSON.stringify({ ...grant, constraint: null }), req.request_id]);
    const done = await vote("bo", req.request_id, { grant, passkey: await sign("bo", req.request_id, { grant }) });
    expect(done.body.status, JSON.stringify(done.body)).toBe("approved");
    const report = verify(await bundleOf(req.request_id));
    expect(failed(report)).toEqual(["passkey approvals"]);
    const ana = report.approvals!.find((a) => a.reviewer_id === people.ana!.reviewer_id)!;
    expect(ana.problems!.join()).toMatch(/grant/);
    await settings({ require_passkey: true, approvals_required: 1 });
  });

  it("a token naming passkey approvals is consumed, and the SDK verifies it; a bundle of a request with no rule and no signature has no passkey check", async () => {
    await settings({ require_passkey: true, approvals_required: 1 });
    const req = await pending();
    expect((await vote("ana", req.request_id, { passkey: await sign("ana", req.request_id) })).body.status).toBe("approved");
    const token = String((await call(v.url, "GET", `/clearance-status/${req.request_id}`, { key: agent })).body.token);
    const cs = new Countersign({ baseUrl: v.url, apiKey: agent, timeoutMs: 10_000 });
    const claims = await cs.verifyToken(token, { tool: "stripe_refund", args: { amount, order_id: `a-${amount}` }, tenantId: v.tenantId });
    expect(claims.approvals).toEqual([expect.objectContaining({ credential_id: [...people.ana!.auth.credentials.keys()][0] })]);
    const consumed = await call(v.url, "POST", "/consume-token", { key: agent, body: { token, tool_name: "stripe_refund", tool_args: { amount, order_id: `a-${amount}` } } });
    expect(consumed.status, JSON.stringify(consumed.body)).toBe(200);
    // /mint-token never re-issues a human (so passkey-signed) approval.
    const minted = await call(v.url, "POST", "/mint-token", { key: agent, body: { original_request_id: req.request_id, tool_name: "stripe_refund", tool_args: { amount, order_id: `a-${amount}` } } });
    expect([minted.status, minted.body.code]).toEqual([409, "approval_not_reusable"]);

    await settings({ require_passkey: false, approvals_required: 1 });
    const plain = await pending();
    expect((await vote("ana", plain.request_id)).body.status).toBe("approved");
    const report = verify(await bundleOf(plain.request_id));
    expect(failed(report)).toEqual([]);
    expect(passkeyCheck(report)).toBeUndefined();
    expect(report.passkey_required).toBeUndefined();
  });

  it("hostile assertion JSON is a 4xx, never a 5xx", async () => {
    await settings({ require_passkey: true, approvals_required: 1 });
    const req = await pending();
    const good = await sign("ana", req.request_id);
    const longAuth = Buffer.concat([Buffer.from(good.response.authenticatorData, "base64url"), Buffer.alloc(4000, 0xbf)]);
    const deep = Buffer.concat([Buffer.from(good.response.authenticatorData, "base64url").subarray(0, 32), Buffer.from([0x85]), Buffer.alloc(4), Buffer.alloc(4000, 0x81)]);
    const variants: unknown[] = [
      { ...good, response: { ...good.response, authenticatorData: b64url(longAuth) } },
      { ...good, response: { ...good.response, authenticatorData: b64url(deep) } },
      { ...good, response: { ...good.response, authenticatorData: "AA" } },
      { ...good, response: { ...good.response, clientDataJSON: b64url(Buffer.from("[".repeat(5000))) } },
      { ...good, response: { ...good.response, clientDataJSON: b64url(Buffer.from(JSON.stringify({ type: "webauthn.get", challenge: { x: 1 }, origin: [] }))) } },
      { ...good, response: { ...good.response, signature: b64url(Buffer.alloc(700, 0x30)) } },
      { ...good, response: { ...good.response, userHandle: "AAAA" } },
      { ...good, rawId: `${good.rawId}==` },
      { ...good, id: "x".repeat(1400), rawId: "x".repeat(1400) },
      { ...good, response: { ...good.response, signature: "" } },
      { ...good, type: "private-key" },
      "not an object",
    ];
    for (const passkey of variants) {
      const res = await vote("ana", req.request_id, { passkey });
      expect(res.status, JSON.stringify(res.body)).toBeLessThan(500);
      expect([400, 403]).toContain(res.status);
      expect(res.headers.get("content-type")).toMatch(/problem\+json/);
    }
    const opts = (await call(v.url, "POST", "/passkeys/registration-options", { key: people.cy!.api_key, body: {} })).body;
    const reg = people.cy!.auth.register(opts);
    for (const response of [
      { ...reg, response: { ...reg.response, attestationObject: b64url(Buffer.concat([Buffer.alloc(30000, 0x81), Buffer.from([0])])) } },
      { ...reg, response: { ...reg.response, attestationObject: b64url(Buffer.from([0xbf, 0xbf, 0xbf])) } },
      { ...reg, response: { ...reg.response, clientDataJSON: b64url(Buffer.from("{")) } },
    ]) {
      const res = await call(v.url, "POST", "/passkeys/register", { key: people.cy!.api_key, body: { response } });
      expect(res.status, JSON.stringify(res.body)).toBe(400);
    }
    // Still approvable with the genuine assertion: none of that counted or moved the counter.
    expect((await vote("ana", req.request_id, { passkey: good })).body.status).toBe("approved");
  });
});

describe("a policy's require_passkey when the judge fails closed", () => {
  let db: TestDatabase;
  let v: TestVault | undefined;

  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it("still needs a passkey: the request is reviewed under the strictest passkey rule, not the tenant's looser one", async () => {
    db = newDatabase("postgres");
    // The policy and its rule are set up with the in-process judge...
    v = await startTestVault(db, { env: WEBAUTHN_ENV, adminKey: "csk_test_passkey_judge_down_admin_0001" });
    const agent = await newKey(v, "agent");
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy })).status).toBe(200);
    const put = await call(v.url, "PUT", `/review-settings?policy_id=${refundPolicy.policy_id}`, { key: v.adminKey, body: { require_passkey: true } });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    const reviewer = (await call(v.url, "POST", "/reviewers", { key: v.adminKey, body: { name: "di", email: "di@example.com" } })).body;
    await v.close();
    // ...then the vault runs against a judge nobody answers at: every request fails closed to review, with no deciding policy.
    v = await startTestVault(db, {
      env: { ...WEBAUTHN_ENV, VAULT_JUDGE_URL: "http://127.0.0.1:9/", VAULT_JUDGE_API_KEY: "judge-key-nobody-checks", VAULT_JUDGE_TIMEOUT_MS: "500" },
      adminKey: "csk_test_passkey_judge_down_admin_0001",
    });
    const res = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 300, order_id: "j-1" }, agent_id: "agent-j" } });
    expect(res.body.status, JSON.stringify(res.body)).toBe("pending_review");
    expect(res.body.reason).toMatch(/[Jj]udge/);
    const detail = (await call(v.url, "GET", `/reviews/${res.body.request_id}`, { key: reviewer.api_key })).body;
    expect(detail.rules.require_passkey).toBe(true);
    const unsigned = await call(v.url, "POST", `/reviews/${res.body.request_id}/decision`, { key: reviewer.api_key, body: { approved: true } });
    expect([unsigned.status, unsigned.body.code]).toEqual([403, "passkey_required"]);
  });
});

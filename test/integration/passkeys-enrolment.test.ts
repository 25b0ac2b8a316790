import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allowPrivate, register } from "../helpers/outbox-api.js";
import { SoftwareAuthenticator } from "../helpers/software-authenticator.js";
import { call, newDatabase, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

/**
 * Enrolment step-up (docs/passkeys.md "Enrolling another passkey"): a reviewer's API key or console
 * session alone cannot add a passkey next to the ones they hold (a thief of the key would enrol their
 * own and then satisfy require_passkey), nor remove their last one to make the next enrolment a first
 * one. Every enrolment and removal is a webhook in the transaction of the change. Each test here
 * fails on the vault before the fix: there a second enrolment needed only the key.
 */
const ORIGIN = "http://localhost:8080";
const ENV = { VAULT_WEBAUTHN_RP_ID: "localhost", VAULT_WEBAUTHN_ORIGINS: ORIGIN, VAULT_REVIEW_SWEEP_INTERVAL_SECONDS: "3600", ...allowPrivate };

interface Person { reviewer_id: string; api_key: string; auth: SoftwareAuthenticator }
type Options = { challenge: string; rp: { id?: string }; user: { id: string }; step_up: { challenge: string; rpId?: string; allowCredentials?: { id: string }[] } | null };

describe.each<Engine>(["pglite", "postgres"])("passkey enrolment step-up on %s", (engine) => {
  let db: TestDatabase;
  let v: TestVault;
  let hookId: string;
  const people: Record<string, Person> = {};

  const optionsFor = async (who: string): Promise<Options> => {
    const res = await call(v.url, "POST", "/passkeys/registration-options", { key: people[who]!.api_key, body: {} });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body;
  };
  const enrol = (who: string, body: Record<string, unknown>) => call(v.url, "POST", "/passkeys/register", { key: people[who]!.api_key, body });
  const passkeysOf = async (who: string) => (await call(v.url, "GET", "/passkeys", { key: people[who]!.api_key })).body.passkeys as { id: string; credential_id: string }[];
  const webhooks = async () => {
    const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
    const rows = await sql.query<{ event_type: string; payload: string }>("SELECT event_type, payload FROM outbox WHERE endpoint_id = $1 ORDER BY id", [hookId]);
    return rows.map((r) => ({ type: r.event_type, data: JSON.parse(r.payload).data as Record<string, any> }));
  };

  beforeAll(async () => {
    db = newDatabase(engine);
    v = await startTestVault(db, { env: ENV });
    hookId = (await register(v, "http://127.0.0.1:9/passkey-hook", { events: ["passkey.enrolled", "passkey.removed"] })).id;
    for (const name of ["ana", "bo"]) {
      const r = (await call(v.url, "POST", "/reviewers", { key: v.adminKey, body: { name, email: `${name}@example.com` } })).body;
      people[name] = { ...r, auth: new SoftwareAuthenticator(ORIGIN) };
    }
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it("a first passkey is trust on first use (no step-up offered or needed), and the tenant hears of it at once", async () => {
    for (const who of ["ana", "bo"]) {
      const options = await optionsFor(who);
      expect(options.step_up).toBeNull();
      const res = await enrol(who, { response: people[who]!.auth.register(options), label: `${who} laptop` });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }
    const hooks = await webhooks();
    expect(hooks.map((h) => h.type)).toEqual(["passkey.enrolled", "passkey.enrolled"]);
    expect(hooks[0]!.data).toMatchObject({ passkey: { reviewer_id: people.ana!.reviewer_id, label: "ana laptop" }, enrolled_by: { id: people.ana!.reviewer_id }, step_up: null });
    expect(hooks[0]!.data.ledger_event_uuid).toBe(hooks[0]!.data.passkey.enrolment_event_uuid);
  });

  it("a second passkey with the reviewer's key alone is refused: 403 passkey_step_up_required, nothing enrolled or sent", async () => {
    const before = (await webhooks()).length;
    const options = await optionsFor("ana");
    // The options offer the step-up: signed by one of Ana's passkeys, over a challenge bound to this registration.
    expect(options.step_up!.allowCredentials!.map((c) => c.id)).toEqual((await passkeysOf("ana")).map((p) => p.credential_id));
    expect(options.step_up!.challenge).not.toBe(options.challenge);
    const thief = new SoftwareAuthenticator(ORIGIN);
    const res = await enrol("ana", { response: thief.register(options) });
    expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([403, "passkey_step_up_required"]);
    expect(await passkeysOf("ana")).toHaveLength(1);
    expect(await webhooks()).toHaveLength(before);
  });

  it("a step-up signed by another reviewer's passkey, a vote-style or stale challenge, or without user verification is refused: 403 passkey_invalid", async () => {
    const thief = new SoftwareAuthenticator(ORIGIN);
    const attempt = async (stepUp: (o: Options) => unknown) => {
      const options = await optionsFor("ana");
      return enrol("ana", { response: thief.register(options), assertion: stepUp(options) });
    };
    const bosCredential = (await passkeysOf("bo"))[0]!.credential_id;
    const cases: [string, (o: Options) => unknown, RegExp][] = [
      // Bo (or a thief holding Bo's authenticator too) approves Ana's enrolment: it is not Ana's passkey.
      ["another reviewer's passkey", (o) => people.bo!.auth.assert(o.step_up!, { credentialId: bosCredential }), /another reviewer/],
      // Ana's passkey, but over another challenge (an earlier ceremony's step-up: replay).
      ["another ceremony's challenge", (o) => people.ana!.auth.assert({ ...o.step_up!, challenge: Buffer.alloc(32, 7).toString("base64url") }), /challenge|commitment/],
      ["no user verification", (o) => people.ana!.auth.assert(o.step_up!, { userVerified: false }), /UV|verif/i],
      ["another origin", (o) => people.ana!.auth.assert(o.step_up!, { origin: "https://evil.example" }), /origin/],
    ];
    for (const [name, stepUp, why] of cases) {
      const res = await attempt(stepUp);
      expect([res.status, res.body.code], `${name}: ${JSON.stringify(res.body)}`).toEqual([403, "passkey_invalid"]);
      expect(res.body.detail, name).toMatch(why);
    }
    expect(await passkeysOf("ana")).toHaveLength(1);
  });

  it("a step-up is single use: replaying a valid one for a later registration is refused", async () => {
    const first = await optionsFor("ana");
    const stepUp = people.ana!.auth.assert(first.step_up!);
    const later = await optionsFor("ana");
    const res = await enrol("ana", { response: new SoftwareAuthenticator(ORIGIN).register(later), assertion: stepUp });
    expect([res.status, res.body.code]).toEqual([403, "passkey_invalid"]);
  });

  it("with a valid step-up by the reviewer's own passkey the second passkey is enrolled, and the webhook names the passkey that approved it", async () => {
    const [existing] = await passkeysOf("ana");
    const options = await optionsFor("ana");
    const phone = new SoftwareAuthenticator(ORIGIN, { alg: -8 });
    const res = await enrol("ana", { response: phone.register(options), label: "ana phone", assertion: people.ana!.auth.assert(options.step_up!) });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(await passkeysOf("ana")).toHaveLength(2);
    const last = (await webhooks()).at(-1)!;
    expect(last.type).toBe("passkey.enrolled");
    expect(last.data).toMatchObject({ passkey: { id: res.body.id, label: "ana phone" }, step_up: { passkey_id: existing!.id, credential_id: existing!.credential_id } });
    people.ana!.auth = mergeAuthenticators(people.ana!.auth, phone);
  });

  it("a reviewer removes a passkey but not their last one (a stolen key could then enrol a 'first' one); an admin does, and first-enrolment rules apply again", async () => {
    const [laptop, phone] = await passkeysOf("ana");
    const removed = await call(v.url, "DELETE", `/passkeys/${laptop!.id}`, { key: people.ana!.api_key });
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    const last = await call(v.url, "DELETE", `/passkeys/${phone!.id}`, { key: people.ana!.api_key });
    expect([last.status, last.body.code]).toEqual([403, "passkey_last_removal_forbidden"]);
    expect(await passkeysOf("ana")).toHaveLength(1);
    // The lost-authenticator path: an admin removes it (audited, and sent).
    expect((await call(v.url, "DELETE", `/passkeys/${phone!.id}`, { key: v.adminKey })).status).toBe(200);
    const removals = (await webhooks()).filter((h) => h.type === "passkey.removed");
    expect(removals.map((h) => [h.data.passkey.id, h.data.removed_by.admin])).toEqual([
      [laptop!.id, false],
      [phone!.id, true],
    ]);
    expect(removals[1]!.data.ledger_event_uuid).toEqual(expect.any(String));
    const options = await optionsFor("ana");
    expect(options.step_up).toBeNull();
    expect((await enrol("ana", { response: new SoftwareAuthenticator(ORIGIN).register(options) })).status).toBe(201);
  });
});

/** One authenticator object answering for the credentials of both (the test's reviewer holds two devices). */
function mergeAuthenticators(a: SoftwareAuthenticator, b: SoftwareAuthenticator): SoftwareAuthenticator {
  for (const [id, c] of b.credentials) a.credentials.set(id, c);
  return a;
}

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toolArgsHash } from "../../src/tokens/canonical-json.js";
import { ledgerEntriesOf, setUpGrants, steadyCel, type Reviewer } from "../helpers/grants.js";
import { SoftwareAuthenticator } from "../helpers/software-authenticator.js";
import { call, newDatabase, newKey, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

/**
 * A grant under `require_passkey` (docs/grants.md "Quorum and passkeys"): the approval that creates it
 * must be signed, and the signature commits to the grant and to the edited arguments' hash, so an
 * assertion over other terms is refused; a grant made without passkeys does not approve requests
 * whose rules now require them.
 */
const ORIGIN = "http://localhost:8080";

describe("grants and passkeys", () => {
  let db: TestDatabase;
  let v: TestVault;
  let agent: string;
  let people: Record<string, Reviewer>;
  const auth: Record<string, SoftwareAuthenticator> = {};

  const settings = (requirePasskey: boolean) =>
    call(v.url, "PUT", "/review-settings", { key: v.adminKey, body: { minimum_confidence_bucket: "high", require_passkey: requirePasskey } });
  const refund = (amount: number) =>
    call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount, currency: "usd" }, agent_id: "agent-7" } });
  const signed = async (who: string, id: string, terms: Record<string, unknown>) => {
    const options = await call(v.url, "POST", `/reviews/${id}/passkey-options`, { key: people[who]!.api_key, body: terms });
    expect(options.status, JSON.stringify(options.body)).toBe(200);
    return auth[who]!.assert(options.body);
  };
  const vote = (who: string, id: string, body: Record<string, unknown>) => call(v.url, "POST", `/reviews/${id}/decision`, { key: people[who]!.api_key, body: { approved: true, ...body } });

  beforeAll(async () => {
    db = newDatabase("pglite");
    v = await startTestVault(db, { env: { VAULT_WEBAUTHN_RP_ID: "localhost", VAULT_WEBAUTHN_ORIGINS: ORIGIN, ...steadyCel, VAULT_REVIEW_SWEEP_INTERVAL_SECONDS: "3600" } });
    agent = await newKey(v, "agent");
    people = await setUpGrants(v, ["ana", "bo"]);
    for (const who of ["ana", "bo"]) {
      auth[who] = new SoftwareAuthenticator(ORIGIN);
      const options = await call(v.url, "POST", "/passkeys/registration-options", { key: people[who]!.api_key, body: {} });
      const registered = await call(v.url, "POST", "/passkeys/register", { key: people[who]!.api_key, body: { response: auth[who]!.register(options.body) } });
      expect(registered.status, JSON.stringify(registered.body)).toBe(201);
    }
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it("a grant's approval is signed over the grant and the edited arguments; a signature over other terms is refused", async () => {
    expect((await settings(true)).status).toBe(200);
    const pending = await refund(400);
    expect(pending.body.status).toBe("pending_review");
    const id = pending.body.request_id as string;
    const grant = { scope: "window", window_minutes: 60, constraint: "args.amount <= 300" };
    const edited = { amount: 250, currency: "usd" };
    expect((await vote("ana", id, { grant, edited_tool_args: edited })).body.code).toBe("passkey_required");
    // Signed for "once" (no grant), sent with a grant: the challenge differs.
    const forOnce = await signed("ana", id, { edited_tool_args: edited });
    expect((await vote("ana", id, { grant, edited_tool_args: edited, passkey: forOnce })).body.code).toBe("passkey_invalid");
    // Signed over the original arguments, sent with edited ones.
    const forOriginal = await signed("ana", id, { grant });
    expect((await vote("ana", id, { grant, edited_tool_args: edited, passkey: forOriginal })).body.code).toBe("passkey_invalid");
    const good = await signed("ana", id, { grant, edited_tool_args: edited });
    const approved = await vote("ana", id, { grant, edited_tool_args: edited, passkey: good });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    expect(approved.body).toMatchObject({ status: "approved", edited_tool_args_hash: toolArgsHash(edited), grant: { approvers: [{ reviewer_name: "ana", passkey: true }] } });

    await v.vault.ctx.ledgerLoop.drain();
    const event = (await ledgerEntriesOf(v, v.adminKey, id)).find((e) => e.event_type === "review.approved")!;
    const passkeyChunk = event.evidence_chunks.find((c: { type: string }) => c.type === "passkey");
    expect(passkeyChunk).toMatchObject({ argshash: toolArgsHash(edited), grant: { scope: "window", window: 60, constraint: "args.amount <= 300" } });

    // Passkey-signed approvals behind it: it approves under require_passkey.
    expect((await refund(280)).body).toMatchObject({ status: "approved", grant_id: approved.body.grant.id });
    await call(v.url, "POST", `/grants/${approved.body.grant.id}/revoke`, { key: v.adminKey, body: {} });
  });

  it("a grant made without a passkey does not approve once the rules require one", async () => {
    expect((await settings(false)).status).toBe(200);
    const pending = await refund(120);
    const approved = await vote("bo", pending.body.request_id, { grant: { scope: "window", window_minutes: 30 } });
    expect(approved.body.grant).toMatchObject({ approvers: [{ reviewer_name: "bo", passkey: false }] });
    expect((await refund(130)).body.status).toBe("approved");
    expect((await settings(true)).status).toBe(200);
    expect((await refund(130)).body).toMatchObject({ status: "pending_review", reason_code: "policy_default" });
  });
});

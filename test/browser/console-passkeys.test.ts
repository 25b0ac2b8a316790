/**
 * Passkey-signed approvals in the real console (issue 17, Must show): headless chromium with a CDP
 * virtual authenticator (a CTAP2 platform authenticator with user verification, driven by
 * playwright-core's CDP session) against a real vault on PGlite, whose refund policy requires a passkey.
 * A reviewer enrols a passkey on the Passkeys page (@simplewebauthn/browser as the vault serves it),
 * approves a request with it (the token carries `approvals`), a forged and a replayed assertion sent
 * with fetch from the page are refused, a reviewer without a passkey cannot approve but can deny, and
 * the approved request's proof bundle passes the offline verifier that `countersign verify-bundle` runs,
 * with the passkey approval checked against the enrolment committed in the ledger. A second passkey
 * (a second virtual authenticator) is enrolled only with a step-up signed by the first, and a
 * reviewer's last passkey is removed by an admin only.
 * WebAuthn needs a secure context: the page is http://localhost:PORT, with RP ID "localhost".
 */
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Browser, BrowserContext, CDPSession, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatReport } from "../../src/main/verify-bundle.js";
import { trustedKeysFromJwks, verifyProofBundle } from "../../src/ledger/verify/bundle-verifier.js";
import { call, freePort, newKey, newPgliteDir, refundPolicy, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";
import { launchChromium, pngSize } from "./chromium.js";

const EVIDENCE = path.resolve(import.meta.dirname, "../../docs/images/console-passkeys.png");
const DESKTOP = { width: 1280, height: 900 };
/** Chromium logs every non-2xx fetch: the refusals this test provokes on purpose. */
const EXPECTED_ERRORS = /^Failed to load resource: the server responded with a status of (401|403|409) /;
/** The first test's own probe: a script from another origin, which the CSP must refuse (and the browser reports). */
const PROBE = "cdn.example.invalid";
const unexpected = (errors: string[]) => errors.filter((e) => !EXPECTED_ERRORS.test(e) && !e.includes(PROBE));

interface Assertion {
  id: string;
  rawId: string;
  type: string;
  response: { authenticatorData: string; clientDataJSON: string; signature: string; userHandle?: string };
  clientExtensionResults: Record<string, unknown>;
  authenticatorAttachment?: string;
}

/** A policy whose review rules are the tenant's: no passkey required, so signing with one is the reviewer's choice. */
const emailPolicy = { policy_id: "email-policy", description: "Emails to customers", rules: ["Every customer email is reviewed"], tools: ["send_email"], default_decision: "review" };

/** A JWT's payload, decoded (its signature is the vault's business; the claim is what this test reads). */
const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString("utf8"));

describe("passkey-signed approvals in the console, in headless chromium with a virtual authenticator", () => {
  let db: TestDatabase;
  let v: TestVault;
  let base: string;
  let browser: Browser;
  let agent: string;
  const reviewers: Record<"rita" | "bob", { id: string; key: string }> = {} as never;
  const pageErrors: string[] = [];
  const contexts: BrowserContext[] = [];
  let rita: Page;
  let ritaCdp: CDPSession;
  let authenticatorId: string;
  /** The request Rita approved with her passkey, and the vote body the console sent for it. */
  let approved: { requestId: string; vote: { approved: boolean; passkey: Assertion } };

  async function openSignedIn(key: string): Promise<Page> {
    const ctx = await browser.newContext({ viewport: DESKTOP });
    contexts.push(ctx);
    const page = await ctx.newPage();
    page.on("console", (m) => m.type() === "error" && pageErrors.push(m.text()));
    page.on("pageerror", (e) => pageErrors.push(`pageerror: ${e.message}`));
    await page.addInitScript('document.addEventListener("securitypolicyviolation", (e) => console.error("CSP violation: " + e.violatedDirective + " " + e.blockedURI))');
    await page.goto(`${base}/console/`);
    await page.getByLabel("Reviewer key").fill(key);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Pending reviews" }).waitFor();
    return page;
  }

  /** A refund the policy sends to review (over $100), pending when this returns; or an email, whose policy needs no passkey. */
  async function pendingRefund(amount: number, tool = "stripe_refund"): Promise<string> {
    const res = await call(v.url, "POST", "/request-clearance", {
      key: agent,
      body: { tool_name: tool, tool_args: { amount, currency: "usd", order_id: `ord-${amount}` }, agent_id: "support-agent-7" },
    });
    expect([200, 202], JSON.stringify(res.body)).toContain(res.status);
    const id = res.body.request_id as string;
    await expect.poll(async () => (await call(v.url, "GET", `/reviews/${id}`, { key: v.adminKey })).body.status).toBe("pending_review");
    return id;
  }

  /**
   * Code run in the page is given as a string: the tests are type-checked without the DOM library, and
   * vitest's transform would rewrite a function's dynamic import() into something the browser lacks.
   */
  const inPage = <T>(page: Page, expression: string): Promise<T> => page.evaluate(expression) as Promise<T>;

  /** POSTs from inside the page with the console's session cookie and CSRF header, as the console's own fetches do. */
  function postFromPage(page: Page, url: string, body: unknown): Promise<{ status: number; body: any }> {
    return inPage(
      page,
      `fetch(${JSON.stringify(url)}, { method: "POST", credentials: "same-origin",
         headers: { "content-type": "application/json", "x-countersign-console": "1" }, body: ${JSON.stringify(JSON.stringify(body))} })
       .then(async (res) => ({ status: res.status, body: await res.json() }))`,
    );
  }

  /** A genuine assertion for `requestId`, made in the page by the console's own signing code and the virtual authenticator. */
  function signInPage(page: Page, requestId: string): Promise<Assertion> {
    return inPage(page, `import("/console/passkeys.js").then((m) => m.signApproval(${JSON.stringify(requestId)}, {}))`);
  }

  beforeAll(async () => {
    const port = await freePort();
    base = `http://localhost:${port}`;
    db = newPgliteDir();
    v = await startTestVault(db, {
      env: { VAULT_PORT: String(port), VAULT_PUBLIC_URL: base, VAULT_WEBAUTHN_RP_ID: "localhost", VAULT_WEBAUTHN_ORIGINS: base },
    });
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy })).status).toBe(200);
    const rules = await call(v.url, "PUT", `/review-settings?policy_id=${refundPolicy.policy_id}`, { key: v.adminKey, body: { require_passkey: true } });
    expect(rules.status, JSON.stringify(rules.body)).toBe(200);
    expect(rules.body.require_passkey).toBe(true);
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: emailPolicy })).status).toBe(200);
    agent = await newKey(v, "agent");
    for (const [name, email] of [["rita", "rita@example.com"], ["bob", "bob@example.com"]] as const) {
      const r = await call(v.url, "POST", "/reviewers", { key: v.adminKey, body: { name: `${name[0]!.toUpperCase()}${name.slice(1)} Reviewer`, email } });
      expect(r.status).toBe(201);
      reviewers[name] = { id: r.body.reviewer_id, key: r.body.api_key };
    }
    browser = await launchChromium();
    rita = await openSignedIn(reviewers.rita.key);
    // Rita's authenticator: a platform passkey with user verification, always present (no touch to wait for).
    ritaCdp = await rita.context().newCDPSession(rita);
    await ritaCdp.send("WebAuthn.enable");
    ({ authenticatorId } = await ritaCdp.send("WebAuthn.addVirtualAuthenticator", {
      options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    }));
  });

  afterAll(async () => {
    for (const ctx of contexts) await ctx.close().catch(() => {});
    await browser?.close();
    await v?.close();
    await db?.drop();
  });

  it("serves the passkey library from the vault itself, under the console's CSP", async () => {
    const res = await fetch(`${base}/console/vendor/simplewebauthn-browser.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(await res.text()).toContain("@simplewebauthn/browser@");
    // A script from another origin is refused by the page's CSP (the violation is reported, the script never runs).
    const blocked = await inPage<string>(
      rita,
      `new Promise((resolve) => {
         document.addEventListener("securitypolicyviolation", (e) => resolve(e.violatedDirective + " " + e.blockedURI), { once: true });
         const s = document.createElement("script");
         s.src = "https://${PROBE}/simplewebauthn.js";
         document.head.append(s);
       })`,
    );
    expect(blocked).toMatch(/^script-src(-elem)? https:\/\/cdn\.example\.invalid/);
  });

  it("enrols a passkey on the Passkeys page", async () => {
    await rita.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Passkeys" }).click();
    await rita.getByRole("heading", { name: "Passkeys", level: 1 }).waitFor();
    expect(await rita.locator("#passkeys-empty").isVisible()).toBe(true);
    await rita.getByLabel("Label").fill("Virtual platform key");
    await rita.getByRole("button", { name: "Enrol a passkey" }).click();
    const item = rita.getByRole("list", { name: "Your passkeys" }).locator("li", { hasText: "Virtual platform key" });
    const status = rita.locator("#passkeys-form-status");
    // The item, or the form's refusal as the failure message.
    await expect.poll(async () => ((await status.isVisible()) ? await status.textContent() : await item.count())).toBe(1);

    // The authenticator holds the credential the vault lists for Rita (ES256 or Ed25519: the vault accepts only those).
    const { credentials } = await ritaCdp.send("WebAuthn.getCredentials", { authenticatorId });
    expect(credentials).toHaveLength(1);
    const listed = await call(v.url, "GET", "/passkeys", { key: reviewers.rita.key });
    expect(listed.status).toBe(200);
    expect(listed.body.passkeys).toHaveLength(1);
    expect(listed.body.passkeys[0].label).toBe("Virtual platform key");
    expect(Buffer.from(listed.body.passkeys[0].credential_id, "base64url").equals(Buffer.from(credentials[0]!.credentialId, "base64"))).toBe(true);
    expect([-7, -8]).toContain(listed.body.passkeys[0].alg);
    expect(await item.textContent()).toContain(listed.body.passkeys[0].alg === -7 ? "ES256 (P-256)" : "Ed25519");
    // Bob has none: passkeys are per reviewer.
    expect((await call(v.url, "GET", "/passkeys", { key: reviewers.bob.key })).body.passkeys).toEqual([]);
  });

  it("approves a request that requires a passkey with a signature, and the token carries the approval", async () => {
    const requestId = await pendingRefund(500);
    let sent: string | null = null;
    rita.on("request", (req) => {
      if (req.method() === "POST" && req.url().endsWith(`/reviews/${requestId}/decision`)) sent = req.postData();
    });
    await rita.goto(`${base}/console/#/reviews/${encodeURIComponent(requestId)}`);
    await rita.locator("#passkey-note").waitFor();
    expect(await rita.locator("#passkey-note").textContent()).toContain("needs your passkey");
    expect(await rita.locator("#approve").isEnabled()).toBe(true);
    await rita.getByLabel("Reason (optional)").fill("Customer's parcel was lost; refund confirmed with the carrier.");
    await rita.getByRole("button", { name: "Approve" }).click();
    await expect.poll(() => rita.locator("#detail-title").textContent()).toMatch(/Approved$/);

    expect(await rita.locator(".votes .badge-passkey").textContent()).toBe("signed with a passkey");
    expect(await rita.locator("#approvals-passkey").textContent()).toContain("signed with the reviewer's passkey");
    expect(sent).not.toBeNull();
    const vote = JSON.parse(sent!);
    expect(vote.approved).toBe(true);
    expect(vote.passkey.response.signature).toMatch(/^[\w-]+$/);
    approved = { requestId, vote };

    // The challenge the authenticator signed is the vault's commitment to this request, nothing the page chose.
    const client = JSON.parse(Buffer.from(vote.passkey.response.clientDataJSON, "base64url").toString("utf8"));
    expect(client).toMatchObject({ type: "webauthn.get", origin: base });

    const status = await call(v.url, "GET", `/clearance-status/${requestId}`, { key: agent });
    expect(status.body.status).toBe("approved");
    const claims = claimsOf(status.body.token);
    expect(claims.approvals).toEqual([{ credential_id: vote.passkey.id, assertion_digest: expect.stringMatching(/^[0-9a-f]{64}$/) }]);

    mkdirSync(path.dirname(EVIDENCE), { recursive: true });
    await rita.screenshot({ path: EVIDENCE, fullPage: true });
    expect(pngSize(readFileSync(EVIDENCE)).width).toBe(DESKTOP.width);
    expect(unexpected(pageErrors)).toEqual([]);
  });

  it("refuses a forged assertion (tampered signature) and a replayed one, sent with fetch from the page", async () => {
    const requestId = await pendingRefund(600);
    await rita.goto(`${base}/console/#/reviews/${encodeURIComponent(requestId)}`);
    await rita.locator("#passkey-note").waitFor();
    const decision = `/reviews/${encodeURIComponent(requestId)}/decision`;

    // The authenticator cannot verify the user: the browser refuses to sign, the console says so, and nothing is sent.
    await ritaCdp.send("WebAuthn.setUserVerified", { authenticatorId, isUserVerified: false });
    await rita.getByRole("button", { name: "Approve" }).click();
    await expect.poll(() => rita.locator("#decision-error").textContent()).toMatch(/^The passkey was not used: signing was cancelled or timed out\. Nothing was recorded\./);
    expect(await rita.locator("#approve").isEnabled()).toBe(true);
    await ritaCdp.send("WebAuthn.setUserVerified", { authenticatorId, isUserVerified: true });

    // Forged: a genuine assertion for this very request with one bit of its signature flipped.
    const genuine = await signInPage(rita, requestId);
    const signature = Buffer.from(genuine.response.signature, "base64url");
    signature[signature.length - 1]! ^= 0x01;
    const forged = { ...genuine, response: { ...genuine.response, signature: signature.toString("base64url") } };
    const refusedForged = await postFromPage(rita, decision, { approved: true, passkey: forged });
    expect(refusedForged.status).toBe(403);
    expect(refusedForged.body.code).toBe("passkey_invalid");

    // Replayed: the assertion that approved the first request, reused on this one (its challenge commits to the other).
    const refusedReplay = await postFromPage(rita, decision, { approved: true, passkey: approved.vote.passkey });
    expect(refusedReplay.status).toBe(403);
    expect(refusedReplay.body.code).toBe("passkey_invalid");

    // And the same assertion again on its own request: that request is decided, and the vote is not counted twice.
    const again = await postFromPage(rita, `/reviews/${encodeURIComponent(approved.requestId)}/decision`, approved.vote);
    expect(again.status).toBeGreaterThanOrEqual(400);

    // Neither counted: the request still waits, with no vote.
    const after = await call(v.url, "GET", `/reviews/${requestId}`, { key: v.adminKey });
    expect(after.body.status).toBe("pending_review");
    expect(after.body.votes_detail).toEqual([]);
  });

  it("offers signing where no passkey is required, to a reviewer who has one, and the signature is verified and recorded", async () => {
    const requestId = await pendingRefund(150, "send_email");
    await rita.goto(`${base}/console/#/reviews/${encodeURIComponent(requestId)}`);
    const optIn = rita.getByLabel("Sign my approval with my passkey");
    await optIn.waitFor();
    expect(await rita.locator("#passkey-note").count()).toBe(0);
    await optIn.check();
    await rita.getByRole("button", { name: "Approve" }).click();
    await expect.poll(() => rita.locator("#detail-title").textContent()).toMatch(/Approved$/);
    expect(await rita.locator(".votes .badge-passkey").textContent()).toBe("signed with a passkey");
    const status = await call(v.url, "GET", `/clearance-status/${requestId}`, { key: agent });
    expect(claimsOf(status.body.token).approvals).toEqual([expect.objectContaining({ credential_id: approved.vote.passkey.id })]);

    // Bob, without a passkey, is not offered it (and approving such a request needs none).
    const other = await pendingRefund(160, "send_email");
    const bob = await openSignedIn(reviewers.bob.key);
    await bob.goto(`${base}/console/#/reviews/${encodeURIComponent(other)}`);
    const offer = bob.locator('#passkey-opt-in[data-passkeys="0"]');
    await offer.waitFor({ state: "attached" });
    expect(await offer.isHidden()).toBe(true);
    expect(await bob.locator("#approve").isEnabled()).toBe(true);
  });

  it("blocks approval for a reviewer without a passkey, who can still deny", async () => {
    const requestId = await pendingRefund(700);
    const bob = await openSignedIn(reviewers.bob.key);
    await bob.goto(`${base}/console/#/reviews/${encodeURIComponent(requestId)}`);
    const note = bob.locator("#passkey-note");
    await expect.poll(() => note.textContent()).toContain("enrol a passkey to approve; you may still deny");
    expect(await bob.locator("#approve").isDisabled()).toBe(true);
    expect(await note.getByRole("link", { name: "Enrol a passkey" }).getAttribute("href")).toBe("#/passkeys");

    // The vault refuses it too, whatever the page does.
    const refused = await postFromPage(bob, `/reviews/${encodeURIComponent(requestId)}/decision`, { approved: true });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe("passkey_required");

    await bob.getByRole("button", { name: "Deny" }).click();
    await expect.poll(() => bob.locator("#detail-title").textContent()).toMatch(/Denied$/);
    expect((await call(v.url, "GET", `/clearance-status/${requestId}`, { key: agent })).body.status).toBe("denied");
    expect(unexpected(pageErrors)).toEqual([]);
  });

  it("verifies the approved request's proof bundle offline, passkey approval included", async () => {
    await v.vault.ctx.ledgerLoop.drain();
    const bundle = (await call(v.url, "GET", `/ledger/proof/bundle?request_id=${approved.requestId}`, { key: v.adminKey })).body;
    const jwks = (await call(v.url, "GET", "/.well-known/jwks.json")).body;
    expect(Array.isArray(bundle.passkey_enrolments)).toBe(true);
    expect(bundle.passkey_enrolments).toHaveLength(1);

    // The code path of `countersign verify-bundle FILE --jwks FILE`.
    const report = verifyProofBundle(bundle, trustedKeysFromJwks(jwks));
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.checks.find((c) => c.name === "passkey approvals")?.ok).toBe(true);
    expect(report.approvals).toEqual([expect.objectContaining({ credential_id: approved.vote.passkey.id, reviewer_id: reviewers.rita.id, verified: true, origin: base })]);
    expect(formatReport(report)).toMatch(/^ok {3}passkey approvals/m);

    // The check can fail: the same bundle with the enrolled public key swapped for another is refused.
    const tampered = structuredClone(bundle);
    const enrolment = tampered.passkey_enrolments[0].event;
    const key = String(enrolment.tool_args.publickey);
    enrolment.tool_args.publickey = `${key.slice(0, -4)}${key.slice(-4) === "AAAA" ? "BBBB" : "AAAA"}`;
    const refused = verifyProofBundle(tampered, trustedKeysFromJwks(jwks));
    expect(refused.ok).toBe(false);
    expect(refused.checks.find((c) => c.name === "passkey approvals")?.ok).toBe(false);
  });

  it("enrols a second passkey only with a step-up: the first passkey approves the enrolment, then the new authenticator creates it", async () => {
    await rita.goto(`${base}/console/#/passkeys`);
    await rita.getByRole("list", { name: "Your passkeys" }).locator("li", { hasText: "Virtual platform key" }).waitFor();
    // Rita's second device: once the first passkey has signed the step-up, the first authenticator goes
    // away and a second one is attached (one authenticator cannot create a second credential for her:
    // the vault's excludeCredentials names the first). The console's code is untouched; only the
    // browser's navigator.credentials.get is wrapped to mark the moment.
    const first = authenticatorId;
    await rita.exposeFunction("countersignTestStepUpSigned", async () => {
      await ritaCdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId: first });
      ({ authenticatorId } = await ritaCdp.send("WebAuthn.addVirtualAuthenticator", {
        options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
      }));
    });
    await inPage(rita, `(() => { const c = navigator.credentials; const get = c.get.bind(c); c.get = async (o) => { const r = await get(o); await window.countersignTestStepUpSigned(); return r; }; return true; })()`);
    const optionsAnswer = rita.waitForResponse((res) => res.url().endsWith("/passkeys/registration-options"));
    let sent: string | null = null;
    rita.on("request", (req) => {
      if (req.method() === "POST" && req.url().endsWith("/passkeys/register")) sent = req.postData();
    });
    await rita.getByLabel("Label").fill("Second device");
    await rita.getByRole("button", { name: "Enrol a passkey" }).click();
    const item = rita.getByRole("list", { name: "Your passkeys" }).locator("li", { hasText: "Second device" });
    const status = rita.locator("#passkeys-form-status");
    await expect.poll(async () => ((await item.count()) === 1 ? 1 : await status.textContent())).toBe(1);
    expect(authenticatorId).not.toBe(first);

    // The vault offered the step-up (Rita already had a passkey), and the console sent the first passkey's assertion over it.
    const options = await (await optionsAnswer).json();
    expect(options.step_up.allowCredentials.map((c: { id: string }) => c.id)).toEqual([approved.vote.passkey.id]);
    expect(sent).not.toBeNull();
    const body = JSON.parse(sent!);
    expect(body.assertion.id).toBe(approved.vote.passkey.id);
    const client = JSON.parse(Buffer.from(body.assertion.response.clientDataJSON, "base64url").toString("utf8"));
    expect(client).toMatchObject({ type: "webauthn.get", challenge: options.step_up.challenge, origin: base });
    const listed = (await call(v.url, "GET", "/passkeys", { key: reviewers.rita.key })).body.passkeys;
    expect(listed.map((p: { label: string }) => p.label)).toEqual(["Virtual platform key", "Second device"]);
    const { credentials } = await ritaCdp.send("WebAuthn.getCredentials", { authenticatorId });
    expect(Buffer.from(listed[1].credential_id, "base64url").equals(Buffer.from(credentials[0]!.credentialId, "base64"))).toBe(true);

    // The session alone (what a stolen one would try: a client of its own that skips the step-up and the
    // exclusion list) cannot add a passkey: the step-up is the vault's rule, not the page's.
    const unsigned = await inPage<{ status: number; body: any; offered: number }>(
      rita,
      `(async () => {
         const post = (url, body) => fetch(url, { method: "POST", credentials: "same-origin",
           headers: { "content-type": "application/json", "x-countersign-console": "1" }, body: JSON.stringify(body) });
         const { step_up, excludeCredentials, ...creation } = await (await post("/passkeys/registration-options", {})).json();
         const response = await (await import("/console/webauthn.js")).createPasskey(creation);
         const res = await post("/passkeys/register", { response, label: "Thief" });
         return { status: res.status, body: await res.json(), offered: step_up.allowCredentials.length };
       })()`,
    );
    expect(unsigned.offered).toBe(2);
    expect([unsigned.status, unsigned.body.code]).toEqual([403, "passkey_step_up_required"]);
    expect((await call(v.url, "GET", "/passkeys", { key: reviewers.rita.key })).body.passkeys).toHaveLength(2);
    expect(unexpected(pageErrors)).toEqual([]);
  });

  it("removes the passkey on the Passkeys page: it signs nothing new, and what it signed stays verifiable", async () => {
    await rita.goto(`${base}/console/#/passkeys`);
    const item = rita.getByRole("list", { name: "Your passkeys" }).locator("li", { hasText: "Virtual platform key" });
    await item.waitFor();
    rita.once("dialog", (d) => void d.accept());
    await item.getByRole("button", { name: /Remove/ }).click();
    await expect.poll(() => item.count()).toBe(0);
    expect((await call(v.url, "GET", "/passkeys", { key: reviewers.rita.key })).body.passkeys.map((p: { label: string }) => p.label)).toEqual(["Second device"]);

    // Her last one she cannot remove herself (a stolen session could then enrol a "first" passkey with no step-up): the page says so.
    const last = rita.getByRole("list", { name: "Your passkeys" }).locator("li", { hasText: "Second device" });
    rita.once("dialog", (d) => void d.accept());
    await last.getByRole("button", { name: /Remove/ }).click();
    await expect.poll(() => last.getByRole("status").textContent()).toMatch(/last passkey/);
    expect(await last.count()).toBe(1);
    // An admin removes it (a lost authenticator), and the page shows none.
    const [remaining] = (await call(v.url, "GET", "/passkeys", { key: reviewers.rita.key })).body.passkeys;
    expect((await call(v.url, "DELETE", `/passkeys/${remaining.id}`, { key: v.adminKey })).status).toBe(200);
    await rita.locator("#passkeys-refresh").click();
    await rita.locator("#passkeys-empty").waitFor();
    expect((await call(v.url, "GET", "/passkeys", { key: reviewers.rita.key })).body.passkeys).toEqual([]);

    // The first credential signed the earlier approval, but the vault no longer accepts Rita's passkeys: she is blocked like Bob.
    const requestId = await pendingRefund(800);
    await rita.goto(`${base}/console/#/reviews/${encodeURIComponent(requestId)}`);
    await expect.poll(() => rita.locator("#passkey-note").textContent()).toContain("enrol a passkey to approve");
    // Polled: a stream event may re-render the form, whose note blocks Approve again once her (empty) list is read.
    await expect.poll(() => rita.locator("#approve").isDisabled()).toBe(true);

    // The earlier approval's bundle still verifies: it carries the enrolment the signature is checked against.
    await v.vault.ctx.ledgerLoop.drain();
    const bundle = (await call(v.url, "GET", `/ledger/proof/bundle?request_id=${approved.requestId}`, { key: v.adminKey })).body;
    const report = verifyProofBundle(bundle, trustedKeysFromJwks((await call(v.url, "GET", "/.well-known/jwks.json")).body));
    expect(report.ok).toBe(true);
    expect(report.approvals?.map((a) => a.verified)).toEqual([true]);
    expect(unexpected(pageErrors)).toEqual([]);
  });
});

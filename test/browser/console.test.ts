/**
 * The reviewer console in a real browser (issue 6, Must show 3): Debian's headless chromium driven by
 * playwright-core against a real vault on PGlite. A reviewer signs in, sees a new pending request
 * arrive over SSE without a reload, approves it, and the agent's long-poll turns approved with a
 * token. Issue 14: the judge's reason and the reviewer's stay apart, votes name the person (or the
 * key's label), and the history shows requests decided without review, filterable. Screenshots of
 * the desktop and phone layouts go to test-results/.
 */
import { mkdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorCatalog } from "../../src/errors.js";
import { claimDue, insertEntry, recordOutcome } from "../../src/outbox/outbox-store.js";
import { createApiKey } from "../../src/tenancy/api-keys.js";
import { call, newKey, newPgliteDir, refundPolicy, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";
import { launchChromium, pngSize } from "./chromium.js";

const SHOTS = path.resolve(import.meta.dirname, "../../test-results");
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 375, height: 812 };

/** Runs an expression in the page (a string: the tests are type-checked without the DOM library). */
const inPage = (page: Page, expression: string): Promise<unknown> => page.evaluate(expression);

/** Console errors the page is expected to log: Chromium reports every non-2xx fetch this way. */
const EXPECTED_ERRORS = /^Failed to load resource: the server responded with a status of (401|403) /;

describe("reviewer console in headless chromium", () => {
  let db: TestDatabase;
  let v: TestVault;
  let browser: Browser;
  let agent: string;
  let reviewerKey: string;
  const consoleErrors: string[] = [];
  const contexts: BrowserContext[] = [];

  const clear = (amount: number, extra: object = {}, key = agent) =>
    call(v.url, "POST", "/request-clearance", {
      key,
      body: {
        tool_name: "stripe_refund",
        tool_args: { amount, currency: "usd", order_id: `ord-${amount}`, note: "<img src=x onerror=alert(1)> parcel never arrived" },
        agent_id: "support-agent-7",
        context: { ticket: "ZD-48213", channel: "chat" },
        ...extra,
      },
    });

  /** A fresh browser context (own cookie jar) that records console errors, page errors and CSP violations. */
  async function openPage(viewport: { width: number; height: number }, phone = false): Promise<Page> {
    const ctx = await browser.newContext({ viewport, deviceScaleFactor: phone ? 2 : 1, isMobile: phone, hasTouch: phone });
    contexts.push(ctx);
    const page = await ctx.newPage();
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(m.text());
    });
    page.on("pageerror", (e) => consoleErrors.push(`pageerror: ${e.message}`));
    // Injected over CDP, so the page's own CSP does not apply to this listener.
    await page.addInitScript(
      'document.addEventListener("securitypolicyviolation", (e) => console.error("CSP violation: " + e.violatedDirective + " " + e.blockedURI))',
    );
    return page;
  }

  async function signIn(page: Page, key: string) {
    await page.goto(`${v.url}/console/`);
    await expect.poll(() => page.locator("#signin-title").isVisible()).toBe(true);
    await page.getByLabel("Reviewer key").fill(key);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Pending reviews" }).waitFor();
    await page.locator('#live-status[data-state="live"]').waitFor();
  }

  async function screenshot(page: Page, name: string, viewport: { width: number; height: number }, scale: number) {
    mkdirSync(SHOTS, { recursive: true });
    const file = path.join(SHOTS, name);
    await page.screenshot({ path: file, fullPage: true });
    const png = readFileSync(file);
    expect(statSync(file).size).toBeGreaterThan(5_000);
    const size = pngSize(png);
    expect(size.width).toBe(viewport.width * scale);
    expect(size.height).toBeGreaterThanOrEqual(viewport.height * scale);
    expect(size.height).toBeLessThan(20_000);
  }

  beforeAll(async () => {
    db = newPgliteDir();
    v = await startTestVault(db);
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy })).status).toBe(200);
    agent = await newKey(v, "agent");
    const reviewer = await call(v.url, "POST", "/reviewers", { key: v.adminKey, body: { name: "Rita Reviewer", email: "rita@example.com" } });
    expect(reviewer.status).toBe(201);
    reviewerKey = reviewer.body.api_key;
    browser = await launchChromium();
  });

  afterAll(async () => {
    // The browser first: its open event streams would otherwise hold the vault's shutdown.
    for (const ctx of contexts) await ctx.close().catch(() => {});
    await browser?.close();
    await v?.close();
    await db?.drop();
  });

  it("serves the console with a strict content security policy", async () => {
    const res = await fetch(`${v.url}/console`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-security-policy")).toMatch(/default-src 'self'.*frame-ancestors 'none'/);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  });

  it("signs in, shows a new request live without reloading, approves it, and the agent's poll turns approved", async () => {
    const page = await openPage(DESKTOP);
    await page.goto(`${v.url}/console/`);
    await page.locator('html[data-ready="true"]').waitFor({ state: "attached" });
    // Keyboard only: skip link, then the key field; Enter submits.
    await page.keyboard.press("Tab");
    await page.keyboard.press("Tab");
    expect(await inPage(page, "document.activeElement?.id")).toBe("api-key");
    await page.keyboard.type(reviewerKey);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Pending reviews" }).waitFor();
    await page.locator('#live-status[data-state="live"]').waitFor();
    expect(await page.locator("#whoami-name").textContent()).toBe("Rita Reviewer");
    expect(await page.locator("#api-key").inputValue()).toBe("");

    // A marker on window survives only if the page is never reloaded.
    await inPage(page, "window.__noReload = true");
    const submitted = await clear(500, { human_principal: "alice@example.com" });
    expect(submitted.body).toMatchObject({ status: "pending_review" });
    const id: string = submitted.body.request_id;
    const item = page.locator(`#queue-list [data-request-id="${id}"]`);
    await item.waitFor({ timeout: 15_000 });
    expect(await inPage(page, "window.__noReload")).toBe(true);
    expect(await item.textContent()).toContain("stripe_refund");
    expect(await item.textContent()).toMatch(/expires in (1d 0h|23h \d+m)/);
    expect(await page.locator("#announcer").textContent()).toContain("New request to review: stripe_refund from support-agent-7");
    expect(await page.locator("#queue-count").textContent()).toBe("1");

    // Open it from the keyboard.
    await item.getByRole("link").focus();
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "stripe_refund · Pending review" }).waitFor();
    expect(page.url()).toBe(`${v.url}/console/#/reviews/${id}`);
    const body = page.locator("#detail-body");
    const args = await body.getByRole("region", { name: "What the agent wants to do" }).textContent();
    expect(args).toContain('"amount": 500');
    // Request data is text, never markup.
    expect(args).toContain("<img src=x onerror=alert(1)> parcel never arrived");
    expect(await page.locator("#detail-body img").count()).toBe(0);
    expect(args).toContain("alice@example.com");
    expect(args).toContain('"ticket": "ZD-48213"');
    const why = await body.getByRole("region", { name: "Why it needs a human" }).textContent();
    expect(why).toContain("Refunds over $100 need a human");
    expect(why).toContain("refund-policy");
    expect(await body.getByRole("region", { name: "Timing" }).textContent()).toMatch(/expires in (1d 0h|23h \d+m)/);
    expect(await body.getByRole("region", { name: "Approvals" }).textContent()).toContain("0 of 1 approvals");
    expect(await body.getByRole("region", { name: "Ledger" }).textContent()).toMatch(/Events\s*[1-9]/);
    await screenshot(page, "console-desktop-detail.png", DESKTOP, 1);

    // Approve with a reason, keyboard only, while the agent long-polls for the change.
    const poll = call(v.url, "GET", `/clearance-status/${id}?wait=30`, { key: agent });
    await page.getByLabel("Reason (optional)").fill("Order checked: parcel lost in transit");
    // Between the reason and Approve sit the approval's terms (grant scope, constraint, edited arguments):
    // each is reachable by keyboard, in the order shown, and Approve follows them.
    const passed: string[] = [];
    for (let i = 0; i < 8; i++) {
      await page.keyboard.press("Tab");
      const focused = String(await inPage(page, "document.activeElement?.id"));
      if (focused === "approve") break;
      passed.push(focused);
    }
    expect(await inPage(page, "document.activeElement?.id")).toBe("approve");
    expect(passed[0]).toBe("grant-scope");
    expect(await inPage(page, "getComputedStyle(document.activeElement).outlineStyle")).not.toBe("none");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "stripe_refund · Approved" }).waitFor();
    const answer = await poll;
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ request_id: id, status: "approved", decision_status: "approved", reason: "Order checked: parcel lost in transit" });
    expect(answer.body.token).toMatch(/^eyJ/);
    const votes = await body.getByRole("list", { name: "Votes" }).textContent();
    expect(votes).toContain("Rita Reviewer");
    expect(votes).toContain("<rita@example.com>");
    expect(votes).toContain("Order checked: parcel lost in transit");
    // The judge's reason stays the judge's: the reviewer's is with the vote and the final decision.
    expect(await body.locator("#judge-reason").textContent()).toBe("Refunds over $100 need a human");
    expect(await body.getByRole("region", { name: "Why it needs a human" }).textContent()).not.toContain("Order checked");
    const review = body.getByRole("region", { name: "Review" });
    const final = await review.getByRole("group", { name: "Final decision" }).textContent();
    expect(final).toContain("Approved");
    expect(final).toContain("Order checked: parcel lost in transit");
    expect(final).toContain("review_approved");
    // Read in order: the judge's reasoning, then the review that decided.
    expect(await inPage(page, 'document.getElementById("judge-title").compareDocumentPosition(document.getElementById("review-title")) & Node.DOCUMENT_POSITION_FOLLOWING')).toBeTruthy();
    // The stream took it out of the queue.
    await expect.poll(() => page.locator("#queue-count").textContent()).toBe("0");
    expect(await page.locator(`#queue-list [data-request-id="${id}"]`).count()).toBe(0);

    // Ledger proof status: once sequenced, the bundle's inclusion proof verifies in the browser.
    await v.vault.ctx.ledgerLoop.drain();
    await page.getByRole("button", { name: "Verify ledger proof" }).click();
    await expect.poll(() => page.locator("#proof-result").textContent(), { timeout: 10_000 }).toMatch(/^✓ Verified in checkpoint \d+ \(leaf \d+ of \d+\)$/);

    // History lists the decided request.
    await page.getByRole("link", { name: "History" }).click();
    const row = page.locator(`#history-list [data-request-id="${id}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain("Approved");
    await screenshot(page, "console-desktop-history.png", DESKTOP, 1);
  });

  it("names each voter: the reviewer's name and email, or the key's label, never 'reviewer key key_…'", async () => {
    const labelled = await createApiKey(v.vault.ctx.control, { tenantId: v.tenantId, scope: "reviewer", label: "Ops rota key" });
    const bare = await createApiKey(v.vault.ctx.control, { tenantId: v.tenantId, scope: "reviewer" });
    const byLabel = (await clear(910)).body.request_id as string;
    const byBare = (await clear(920)).body.request_id as string;
    for (const [id, key] of [[byLabel, labelled.apiKey], [byBare, bare.apiKey]] as const) {
      expect((await call(v.url, "POST", `/reviews/${id}/decision`, { key, body: { approved: false, review_reason: "Duplicate of ZD-48212" } })).body.status).toBe("denied");
    }
    const page = await openPage(DESKTOP);
    await signIn(page, reviewerKey);
    await page.goto(`${v.url}/console/#/reviews/${byLabel}`);
    await page.getByRole("heading", { name: "stripe_refund · Denied" }).waitFor();
    const labelVotes = await page.getByRole("list", { name: "Votes" }).textContent();
    expect(labelVotes).toContain("Ops rota key");
    expect(labelVotes).toContain(`(API key ${labelled.id})`);
    expect(labelVotes).toContain("Duplicate of ZD-48212");
    expect(labelVotes).not.toContain("reviewer key");
    expect(await page.locator("#judge-reason").textContent()).toBe("Refunds over $100 need a human");

    await page.goto(`${v.url}/console/#/reviews/${byBare}`);
    await page.locator(`#proof-result[data-request-id="${byBare}"]`).waitFor({ state: "attached" });
    const bareVotes = await page.getByRole("list", { name: "Votes" }).textContent();
    expect(bareVotes).toContain(`API key ${bare.id}`);
    expect(bareVotes).not.toContain("reviewer key");
  });

  it("shows requests decided without review in the history, filterable by who decided and by status", async () => {
    const small = (await clear(50)).body;
    const large = (await clear(5000)).body;
    expect([small.status, large.status]).toEqual(["approved", "denied"]);
    const reviewed = (await clear(930)).body.request_id as string;
    await call(v.url, "POST", `/reviews/${reviewed}/decision`, { key: reviewerKey, body: { approved: false } });

    const page = await openPage(DESKTOP);
    await signIn(page, reviewerKey);
    await page.getByRole("link", { name: "History" }).click();
    const item = (id: string) => page.locator(`#history-list [data-request-id="${id}"]`);
    await item(small.request_id).waitFor();
    expect(await page.getByLabel("Decided", { exact: true }).inputValue()).toBe("any");
    expect(await item(small.request_id).textContent()).toContain("Decided automatically");
    expect(await item(large.request_id).textContent()).toContain("Decided automatically");
    expect(await item(reviewed).textContent()).toContain("Reviewed");

    await page.getByLabel("Decided", { exact: true }).selectOption({ label: "By review" });
    await expect.poll(() => item(small.request_id).count()).toBe(0);
    expect(await item(reviewed).count()).toBe(1);

    await page.getByLabel("Decided", { exact: true }).selectOption({ label: "Automatically" });
    await item(small.request_id).waitFor();
    expect(await item(large.request_id).count()).toBe(1);
    expect(await item(reviewed).count()).toBe(0);

    await page.getByLabel("Status", { exact: true }).selectOption({ label: "Denied" });
    await expect.poll(() => item(small.request_id).count()).toBe(0);
    expect(await item(large.request_id).count()).toBe(1);
    await screenshot(page, "console-desktop-history-automatic.png", DESKTOP, 1);

    // An automatic decision has no review: the judge's reason and the outcome, no votes.
    await item(large.request_id).getByRole("link").click();
    await page.getByRole("heading", { name: "stripe_refund · Denied" }).waitFor();
    const how = await page.getByRole("region", { name: "How it was decided" }).textContent();
    expect(how).toContain("Amount exceeds $1000 limit");
    expect(how).toContain("without review");
    expect(await page.getByRole("region", { name: "Review" }).count()).toBe(0);
    expect(await page.getByRole("region", { name: "Approvals" }).count()).toBe(0);
  });

  it("shows the problem's title when the server refuses a self-approval or a principal's approval", async () => {
    // The admin key submits a request and then tries to approve it from the console.
    const own = await clear(600, {}, v.adminKey);
    expect(own.body.status).toBe("pending_review");
    const admin = await openPage(DESKTOP);
    await signIn(admin, v.adminKey);
    await admin.goto(`${v.url}/console/#/reviews/${own.body.request_id}`);
    await admin.getByRole("heading", { name: "stripe_refund · Pending review" }).waitFor();
    expect(await admin.locator("#viewer-note").textContent()).toContain("you submitted this request");
    await admin.getByRole("button", { name: "Approve" }).click();
    const alert = admin.locator("#decision-error");
    await alert.waitFor();
    expect(await alert.getAttribute("role")).toBe("alert");
    expect(await alert.textContent()).toContain(errorCatalog.self_approval_forbidden.title);
    expect(await alert.textContent()).toContain("(self_approval_forbidden)");

    // Rita is the human principal of this one.
    const hers = await clear(700, { human_principal: "rita@example.com" });
    const rita = await openPage(DESKTOP);
    await signIn(rita, reviewerKey);
    await rita.goto(`${v.url}/console/#/reviews/${hers.body.request_id}`);
    await rita.getByRole("heading", { name: "stripe_refund · Pending review" }).waitFor();
    await rita.getByRole("button", { name: "Approve" }).click();
    await rita.locator("#decision-error").waitFor();
    expect(await rita.locator("#decision-error").textContent()).toContain(errorCatalog.principal_approval_forbidden.title);
    // Still pending: nothing was decided.
    expect((await call(v.url, "GET", `/clearance-status/${hers.body.request_id}`, { key: agent })).body.status).toBe("pending_review");
  });

  it("fits a 375 px phone without horizontal scrolling, and signs out", async () => {
    const pending = await clear(800, { human_principal: "bob.from.accounts.payable@example-customer-with-a-long-domain.com" });
    const page = await openPage(PHONE, true);
    await signIn(page, reviewerKey);
    await page.locator(`#queue-list [data-request-id="${pending.body.request_id}"]`).waitFor();
    const fits = () => inPage(page, "document.documentElement.scrollWidth <= window.innerWidth");
    expect(await fits()).toBe(true);
    await screenshot(page, "console-phone-queue.png", PHONE, 2);

    await page.locator(`#queue-list [data-request-id="${pending.body.request_id}"] a`).tap();
    await page.getByRole("heading", { name: "stripe_refund · Pending review" }).waitFor();
    expect(await inPage(page, "[document.documentElement.scrollWidth, window.innerWidth]")).toEqual([PHONE.width, PHONE.width]);
    expect(await fits()).toBe(true);
    // Controls are big enough to tap (WCAG 2.5.8 asks for 24 px; we aim for 44).
    for (const name of ["Approve", "Deny"]) {
      const box = await page.getByRole("button", { name }).boundingBox();
      expect(box!.height).toBeGreaterThanOrEqual(44);
    }
    await screenshot(page, "console-phone-detail.png", PHONE, 2);
    // The narrowest common phone width still fits.
    await page.setViewportSize({ width: 360, height: 740 });
    expect(await inPage(page, "[document.documentElement.scrollWidth, window.innerWidth]")).toEqual([360, 360]);

    await page.getByRole("button", { name: "Sign out" }).tap();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await page.reload();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    expect(await page.locator("#nav").isHidden()).toBe(true);
  });

  it("shows admins the dead deliveries, never silently dropped, with a retry", async () => {
    // An email notification that ran out of attempts. It is written due an hour from now, so the
    // vault's own outbox worker leaves it alone while this test claims it and records it dead.
    const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
    const due = new Date(Date.now() + 3_600_000);
    await insertEntry(sql, { kind: "email", deliveryId: "dlv_console_test", eventType: "review.requested", requestId: "req-dead-1", endpointId: null, target: '["ops@example.com"]', payload: "{}", createdAt: due });
    const [claimed] = await claimDue(sql, new Date(due.getTime() + 1000), new Date(due.getTime() + 60_000), 10);
    expect(claimed?.delivery_id).toBe("dlv_console_test");
    expect(await recordOutcome(sql, claimed!, { status: "dead", at: due, httpStatus: null, error: "SMTP server refused the message eight times" })).toBe(true);

    const admin = await openPage(DESKTOP);
    await signIn(admin, v.adminKey);
    await expect.poll(() => admin.locator("#outbox-count").textContent()).toBe("1");
    await admin.getByRole("link", { name: /Dead deliveries/ }).click();
    const entry = admin.locator('#outbox-list [data-delivery-id="dlv_console_test"]');
    await entry.waitFor();
    expect(await entry.textContent()).toContain("Email · review.requested");
    expect(await entry.textContent()).toContain("SMTP server refused the message eight times");
    await entry.getByRole("button", { name: /Retry/ }).click();
    await expect.poll(() => entry.getByRole("status").textContent()).toBe("Queued for delivery again.");

    // Reviewers cannot read the outbox, so they are not offered the view.
    const rita = await openPage(DESKTOP);
    await signIn(rita, reviewerKey);
    expect(await rita.locator("#nav-outbox").isHidden()).toBe(true);
  });

  it("labels every form control and logs no console error beyond the expected 401/403 answers", async () => {
    const page = await openPage(DESKTOP);
    await signIn(page, reviewerKey);
    const unlabeled = await inPage(page, '[...document.querySelectorAll("input, select, textarea")].filter((el) => el.labels.length === 0).map((el) => el.id)');
    expect(unlabeled).toEqual([]);
    const nameless = await inPage(page, '[...document.querySelectorAll("button, a[href]")].filter((el) => !el.textContent.trim()).length');
    expect(nameless).toBe(0);
    expect(consoleErrors.filter((e) => !EXPECTED_ERRORS.test(e))).toEqual([]);
  });
});

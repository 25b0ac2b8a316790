/**
 * A StepAuth request in the console (issue 16), in headless chromium: a real SP (the interop client of
 * test/interop/stepauth-sp, written from the reference) submits a request that goes to review; the detail
 * page shows the SP's summary first, the principal chain with labelled attributes, the labelled details
 * (nested groups indented, labels not keys), target, approver, expiry, and after a reviewer approves in
 * the console, the callback delivery and the SP's execution result. The SP's text is hostile (markup in
 * the summary and labels) and must stay text. The StepAuth senders page lists, adds and removes SPs.
 * The request page's screenshot is the evidence in docs/images/console-stepauth-request.png.
 */
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call } from "../helpers/vault.js";
import { reviewIdOf, startInterop, TYPES, type Interop } from "../interop/stepauth-sp/fixture.js";
import { hybridSigner } from "../interop/stepauth-sp/sp-keys.js";
import { launchChromium, pngSize } from "./chromium.js";

const EVIDENCE = path.resolve(import.meta.dirname, "../../docs/images/console-stepauth-request.png");
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 375, height: 812 };
const EXPECTED_ERRORS = /^Failed to load resource: the server responded with a status of 401 /;
const SUMMARY = "Pay invoice INV-42 to ACME GmbH: 12,400.00 EUR from the operating account";
const HOSTILE_SUMMARY = 'Pay invoice INV-42 to ACME GmbH <img src=x onerror="window.__xss=1">';
const HOSTILE_LABEL = "<script>window.__xss=2</script>IBAN";

describe("a StepAuth request and the StepAuth senders in the console, in headless chromium", () => {
  let x: Interop;
  let browser: Browser;
  const pageErrors: string[] = [];
  const contexts: BrowserContext[] = [];

  async function openSignedIn(key: string, viewport = DESKTOP): Promise<Page> {
    const ctx = await browser.newContext({ viewport });
    contexts.push(ctx);
    const page = await ctx.newPage();
    page.on("console", (m) => m.type() === "error" && pageErrors.push(m.text()));
    page.on("pageerror", (e) => pageErrors.push(`pageerror: ${e.message}`));
    await page.addInitScript('document.addEventListener("securitypolicyviolation", (e) => console.error("CSP violation: " + e.violatedDirective))');
    await page.goto(`${x.v.url}/console/`);
    await page.getByLabel("Reviewer key").fill(key);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Pending reviews" }).waitFor();
    return page;
  }

  beforeAll(async () => {
    x = await startInterop("pglite");
    browser = await launchChromium();
  });
  afterAll(async () => {
    for (const ctx of contexts) await ctx.close().catch(() => {});
    await browser?.close();
    await x?.close();
  });

  /** A request that goes to review, with a three-link principal chain and nested labelled details. */
  async function submitRich(summary: string, ibanLabel: string) {
    const res = await x.sp.submit({
      callbackUrl: x.spReceiver.url,
      principal: {
        subject: "email:alice@sp.example",
        attributes: [
          { key: "dept", label: "Department", value: "Finance" },
          { key: "role", label: "Role", value: "Accounts payable clerk" },
        ],
        operator: {
          subject: "persistent:agent-invoice-bot",
          attributes: [{ key: "model", label: "Agent model", value: "invoice-bot 3.1" }],
          operator: { subject: "persistent:orchestrator-7", attributes: [{ key: "run", label: "Run", value: "nightly batch 2026-01-01" }] },
        },
      },
      action: {
        type: TYPES.review,
        category: "financial.transfer",
        name: "Supplier payment",
        summary,
        details: [
          { key: "amount", label: "Amount", value: "12,400.00 EUR" },
          { key: "iban", label: ibanLabel, value: "DE89 3704 0044 0532 0130 00" },
          { key: "supplier", label: "Supplier", value: [
            { key: "name", label: "Legal name", value: "ACME GmbH" },
            { key: "vat", label: "VAT number", value: "DE123456789" },
          ] },
        ],
        target: { id: "INV-42", kind: "invoice" },
        approver: "group:payments",
      },
    });
    expect(res.status, res.text).toBe(202);
    return { ...res, reviewId: await reviewIdOf(x, x.sp.senderId, res.requestId) };
  }

  it("shows the summary first, the principal chain and the labelled details", async () => {
    const res = await submitRich(SUMMARY, "IBAN");
    const reviewId = res.reviewId;

    const page = await openSignedIn(x.reviewers.rita);
    await page.goto(`${x.v.url}/console/#/reviews/${encodeURIComponent(reviewId)}`);
    const summary = page.locator("#stepauth-summary");
    await summary.waitFor();
    expect(await page.evaluate('document.getElementById("detail-body").firstElementChild.id')).toBe("stepauth-summary");
    expect(await summary.locator(".stepauth-summary-text").textContent()).toBe(SUMMARY);

    const chain = page.getByRole("list", { name: "Principal chain" }).locator(":scope > li");
    expect(await chain.count()).toBe(3);
    expect(await chain.nth(0).textContent()).toMatch(/^Subject email:alice@sp\.example.*Department.*Finance.*Role.*Accounts payable clerk/);
    expect(await chain.nth(1).textContent()).toMatch(/^Operator persistent:agent-invoice-bot.*Agent model.*invoice-bot 3\.1/);
    expect(await chain.nth(2).textContent()).toMatch(/^Operator \(level 2\) persistent:orchestrator-7.*Run/);

    const details = page.locator('section[aria-labelledby="stepauth-details-title"]');
    const row = (key: string) => details.locator(`[data-key="${key}"]`);
    expect(await row("amount").locator(":scope > dt").textContent()).toBe("Amount");
    expect(await row("amount").locator(":scope > dd").textContent()).toBe("12,400.00 EUR");
    expect(await row("iban").locator(":scope > dt").textContent()).toBe("IBAN");
    expect(await row("supplier").locator(":scope > dd > dl.labelled-group [data-key=name] > dt").textContent()).toBe("Legal name");
    // Labels, not keys.
    expect(await details.textContent()).not.toMatch(/\bvat\b|\bsupplier\b/);

    const delivery = page.locator('section[aria-labelledby="stepauth-delivery-title"]');
    expect(await delivery.textContent()).toMatch(/Targetinvoice INV-42/);
    expect(await delivery.textContent()).toContain("group:payments");
    expect(await delivery.textContent()).toMatch(/Expires.*expires in (29|30)m/);

    // Rita approves in the console; the decision goes back by callback and the SP's answer shows up.
    await page.getByRole("button", { name: "Approve" }).click();
    await x.spReceiver.decisionFor(res.requestId);
    await expect.poll(async () => {
      await page.reload();
      await summary.waitFor();
      return page.locator("#stepauth-execution").textContent();
    }).toBe("success");
    expect(await page.locator("#stepauth-decision").textContent()).toContain("approved by email:rita@example.com");
    expect(await page.locator("#stepauth-callback").textContent()).toMatch(/^delivered/);

    mkdirSync(path.dirname(EVIDENCE), { recursive: true });
    await page.screenshot({ path: EVIDENCE, fullPage: true });
    expect(pngSize(readFileSync(EVIDENCE)).width).toBe(DESKTOP.width);
    expect(pageErrors.filter((e) => !EXPECTED_ERRORS.test(e))).toEqual([]);
  });

  it("keeps the SP's markup as text (summary and labels), and fits a 375 px phone", async () => {
    const res = await submitRich(HOSTILE_SUMMARY, HOSTILE_LABEL);
    const page = await openSignedIn(x.reviewers.rita, PHONE);
    await page.goto(`${x.v.url}/console/#/reviews/${encodeURIComponent(res.reviewId)}`);
    await page.locator("#stepauth-summary").waitFor();
    expect(await page.locator("#stepauth-summary .stepauth-summary-text").textContent()).toBe(HOSTILE_SUMMARY);
    expect(await page.locator('[data-key="iban"] > dt').textContent()).toBe(HOSTILE_LABEL);
    expect(await page.locator("#detail-body img, #detail-body script").count()).toBe(0);
    expect(await page.evaluate("window.__xss")).toBeUndefined();
    expect(await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")).toEqual([PHONE.width, PHONE.width]);
    expect(pageErrors.filter((e) => !EXPECTED_ERRORS.test(e))).toEqual([]);
  });

  it("lists, registers and removes StepAuth senders (admin)", async () => {
    const page = await openSignedIn(x.v.adminKey);
    page.on("dialog", (d) => void d.accept());
    await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "StepAuth senders" }).click();
    await page.getByRole("heading", { name: "StepAuth senders", level: 1 }).waitFor();
    const list = page.getByRole("list", { name: "Registered service providers" });
    await list.locator("[data-sender-id]").first().waitFor();
    expect(await list.locator("[data-sender-id] > .review-item-head > strong").allTextContents()).toEqual(expect.arrayContaining([x.sp.senderId, x.seed.senderId]));
    expect(await page.locator("#senders-hub").textContent()).toContain(x.hub.entity);

    await page.getByLabel("Entity (the SP's senderId)").fill("<b>new-sp</b>.example.com");
    await page.getByLabel("Keyset (JSON)").fill("{not json");
    await page.getByLabel("Callback URL pattern").fill(`${x.spReceiver.url.replace(/\/stepauth\/callback$/, "")}/new/*`);
    await page.getByRole("button", { name: "Register" }).click();
    expect(await page.locator("#senders-form-status").textContent()).toMatch(/not valid JSON/);

    await page.getByLabel("Keyset (JSON)").fill(JSON.stringify(hybridSigner("ks_console_1").keyset));
    await page.getByRole("button", { name: "Register" }).click();
    const added = list.locator("li", { hasText: "<b>new-sp</b>.example.com" });
    await added.waitFor();
    expect(await added.textContent()).toContain("ks_console_1 (ed25519 + ml-dsa-65)");
    expect(await page.locator("#senders-list b").count()).toBe(0);
    const api = await call(x.v.url, "GET", "/stepauth/senders", { key: x.v.adminKey });
    expect(api.body.senders.map((s: { entity: string }) => s.entity)).toContain("<b>new-sp</b>.example.com");

    await added.getByRole("button", { name: /Remove/ }).click();
    await added.getByText("Disabled", { exact: true }).waitFor();
    expect(await added.getByRole("button", { name: /Remove/ }).count()).toBe(0);
    const after = await call(x.v.url, "GET", "/stepauth/senders", { key: x.v.adminKey });
    expect(after.body.senders.filter((s: { entity: string; disabled_at?: string | null }) => s.entity === "<b>new-sp</b>.example.com" && !s.disabled_at)).toEqual([]);
    expect(pageErrors.filter((e) => !EXPECTED_ERRORS.test(e))).toEqual([]);
  });
});

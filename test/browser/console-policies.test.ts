/**
 * The console's Policies view in headless chromium (issue 11, item 1): a policy whose default
 * decision is approve carries a visible warning, in the list and on the detail page of a request it
 * judged; a review-default policy carries none. Issue 14: a policy opens read-only in full (its
 * conditions, default, rules, documents, content hash and versions with their status), and the list
 * still works when the vault answers 404 for the detail API. Screenshots (desktop and a 375 px phone) go to test-results/.
 */
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, newKey, newPgliteDir, refundPolicy, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";
import { launchChromium, pngSize } from "./chromium.js";

const SHOTS = path.resolve(import.meta.dirname, "../../test-results");
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 375, height: 812 };
const WARNING = /approved automatically/;
/** Chromium logs every non-2xx fetch; the session check before sign-in is a 401 by design. */
const EXPECTED_ERRORS = /^Failed to load resource: the server responded with a status of 401 /;

const lenientPolicy = {
  policy_id: "lenient-wires",
  description: "Wire transfers to known vendors.\nLarge ones go to a human.",
  tools: ["wire_transfer"],
  conditions: [{ id: "large", when: "args.amount > 1000", decision: "review", reason: "Large transfers need a human" }],
  default_decision: "approve",
};

describe("console Policies view in headless chromium", () => {
  let db: TestDatabase;
  let v: TestVault;
  let browser: Browser;
  let reviewerKey: string;
  const pageErrors: string[] = [];
  const contexts: BrowserContext[] = [];

  async function openSignedIn(viewport: { width: number; height: number }, phone = false): Promise<Page> {
    const ctx = await browser.newContext({ viewport, deviceScaleFactor: phone ? 2 : 1, isMobile: phone, hasTouch: phone });
    contexts.push(ctx);
    const page = await ctx.newPage();
    page.on("console", (m) => {
      if (m.type() === "error") pageErrors.push(m.text());
    });
    page.on("pageerror", (e) => pageErrors.push(`pageerror: ${e.message}`));
    await page.addInitScript('document.addEventListener("securitypolicyviolation", (e) => console.error("CSP violation: " + e.violatedDirective))');
    await page.goto(`${v.url}/console/`);
    await page.getByLabel("Reviewer key").fill(reviewerKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Pending reviews" }).waitFor();
    return page;
  }

  async function screenshot(page: Page, name: string, width: number) {
    mkdirSync(SHOTS, { recursive: true });
    const file = path.join(SHOTS, name);
    await page.screenshot({ path: file, fullPage: true });
    expect(pngSize(readFileSync(file)).width).toBe(width);
  }

  /** A request the policy sends to review, once the judge has decided it. */
  async function pendingRequest(tool: string, amount: number): Promise<string> {
    const agent = await newKey(v, "agent");
    const res = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: tool, tool_args: { amount } } });
    const id = res.body.request_id as string;
    await expect.poll(async () => (await call(v.url, "GET", `/reviews/${id}`, { key: reviewerKey })).body.status, { timeout: 10_000 }).toBe("pending_review");
    return id;
  }

  beforeAll(async () => {
    db = newPgliteDir();
    v = await startTestVault(db);
    for (const body of [refundPolicy, lenientPolicy]) expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body })).status).toBe(200);
    reviewerKey = (await call(v.url, "POST", "/reviewers", { key: v.adminKey, body: { name: "Rita Reviewer", email: "rita@example.com" } })).body.api_key;
    browser = await launchChromium();
  });

  afterAll(async () => {
    for (const ctx of contexts) await ctx.close().catch(() => {});
    await browser?.close();
    await v?.close();
    await db?.drop();
  });

  it("lists each policy with its default decision, warning only on the one that approves by default", async () => {
    const page = await openSignedIn(DESKTOP);
    await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Policies" }).click();
    await page.getByRole("heading", { name: "Policies", level: 1 }).waitFor();
    expect(await page.getByRole("link", { name: "Policies" }).getAttribute("aria-current")).toBe("page");
    await page.locator('[data-policy-id="refund-policy"]').waitFor();

    const lenient = page.locator('[data-policy-id="lenient-wires"]');
    const strict = page.locator('[data-policy-id="refund-policy"]');
    expect(await lenient.locator(".badge").textContent()).toBe("Default: approve");
    expect(await strict.locator(".badge").textContent()).toBe("Default: review");
    const note = lenient.getByRole("note");
    expect(await note.isVisible()).toBe(true);
    expect(await note.textContent()).toMatch(WARNING);
    // A string: the tests are type-checked without the DOM library.
    expect(await page.evaluate('getComputedStyle(document.querySelector(\'[data-policy-id="lenient-wires"] [role="note"]\')).borderLeftStyle')).toBe("solid");
    // The list item names its warning, so a screen reader reads it with the policy.
    expect(await lenient.getAttribute("aria-describedby")).toBe(await note.getAttribute("id"));
    expect(await strict.getByRole("note").count()).toBe(0);
    expect(await strict.textContent()).not.toMatch(WARNING);
    expect(await strict.textContent()).toContain("3 conditions");
    await screenshot(page, "console-policies-desktop.png", DESKTOP.width);
  });

  it("fits a 375 px phone without sideways scrolling", async () => {
    const page = await openSignedIn(PHONE, true);
    await page.goto(`${v.url}/console/#/policies`);
    await page.locator('[data-policy-id="lenient-wires"]').getByRole("note").waitFor();
    expect(await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")).toEqual([PHONE.width, PHONE.width]);
    await screenshot(page, "console-policies-phone.png", PHONE.width * 2);
  });

  it("shows the warning next to the policy on the detail page of a request an approve-default policy judged", async () => {
    const lenientId = await pendingRequest("wire_transfer", 5000);
    const strictId = await pendingRequest("stripe_refund", 500);
    const page = await openSignedIn(DESKTOP);
    await page.goto(`${v.url}/console/#/reviews/${lenientId}`);
    const note = page.locator("#detail-policy-warning");
    await note.waitFor();
    expect(await note.getAttribute("role")).toBe("note");
    expect(await note.textContent()).toMatch(WARNING);
    await screenshot(page, "console-detail-default-approve.png", DESKTOP.width);

    await page.goto(`${v.url}/console/#/reviews/${strictId}`);
    await page.getByRole("heading", { name: /stripe_refund/ }).waitFor();
    expect(await page.locator("#detail-policy-warning").count()).toBe(0);
    expect(await page.locator("#view-detail").textContent()).toContain("refund-policy");
    expect(pageErrors.filter((e) => !EXPECTED_ERRORS.test(e))).toEqual([]);
  });

  it("opens a policy read-only: its conditions, default with the warning, rules, documents, content hash and versions", async () => {
    // Version 2 moves the condition's threshold, version 3 attaches a document.
    const v2 = { ...lenientPolicy, rules: ["Known vendors only"], conditions: [{ ...lenientPolicy.conditions[0], when: "args.amount > 2000" }] };
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: v2 })).status).toBe(200);
    const attached = await call(v.url, "POST", "/policies/lenient-wires/documents", { key: v.adminKey, body: { title: "Vendor list", content: "# Vendors\n\nAcme Ltd is a known vendor." } });
    expect(attached.status).toBe(201);
    const current = (await call(v.url, "GET", "/policies/lenient-wires", { key: reviewerKey })).body;
    const versions = (await call(v.url, "GET", "/policies/lenient-wires/versions", { key: reviewerKey })).body.versions as { version: number }[];
    expect(versions.length).toBeGreaterThanOrEqual(3);

    const page = await openSignedIn(DESKTOP);
    await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Policies" }).click();
    await page.locator('[data-policy-id="lenient-wires"]').getByRole("link", { name: "lenient-wires" }).click();
    await page.getByRole("heading", { name: "Policy lenient-wires", level: 1 }).waitFor();
    expect(page.url()).toBe(`${v.url}/console/#/policies/lenient-wires`);
    // Still under Policies in the navigation.
    expect(await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Policies" }).getAttribute("aria-current")).toBe("page");

    const conditions = page.getByRole("region", { name: "Conditions", exact: true });
    const row = page.locator('tr[data-condition-id="large"]');
    await row.waitFor();
    expect(await row.locator("td").allTextContents()).toEqual(["large", "args.amount > 2000", "review", "Large transfers need a human"]);
    expect(await page.getByRole("columnheader").allTextContents()).toEqual(expect.arrayContaining(["Id", "When", "Decision", "Reason"]));
    const warning = page.locator("#policy-detail-warning");
    expect(await warning.getAttribute("role")).toBe("note");
    expect(await warning.textContent()).toMatch(WARNING);
    expect(await conditions.isVisible()).toBe(true);
    const summary = await page.getByRole("region", { name: "Summary" }).textContent();
    expect(summary).toContain("wire_transfer");
    expect(summary).toContain(current.content_hash);
    expect(summary).toContain(`${current.version}`);
    const rules = await page.getByRole("region", { name: "Rules and documents" }).textContent();
    expect(rules).toContain("Known vendors only");
    expect(rules).toContain("Vendor list");
    expect(rules).toContain("text/markdown");

    const list = page.getByRole("list", { name: "Versions, newest first" });
    await list.waitFor();
    const items = list.locator(":scope > li");
    expect(await items.count()).toBe(versions.length);
    const newest = items.first();
    expect(await newest.textContent()).toContain(`Version ${current.version}`);
    expect(await newest.textContent()).toContain("Current");
    expect(await newest.textContent()).toContain("Active");
    expect(await items.last().textContent()).toContain("Version 1");
    expect(await items.last().textContent()).not.toContain("Current");
    // The change that version 2 made, as the vault's diff shows it.
    const second = list.locator('li[data-version="2"]');
    await second.getByRole("button", { name: /Show changes/ }).click();
    expect(await second.getByRole("button", { name: /Show changes/ }).getAttribute("aria-expanded")).toBe("true");
    await expect.poll(() => second.locator("pre").textContent()).toContain("args.amount > 2000");
    await screenshot(page, "console-policy-detail-desktop.png", DESKTOP.width);

    const phone = await openSignedIn(PHONE, true);
    await phone.goto(`${v.url}/console/#/policies/lenient-wires`);
    await phone.locator('tr[data-condition-id="large"]').waitFor();
    expect(await phone.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")).toEqual([PHONE.width, PHONE.width]);
    await screenshot(phone, "console-policy-detail-phone.png", PHONE.width * 2);
  });

  it("shows retired policies on request, with their retired versions", async () => {
    const retiring = { policy_id: "old-exports", tools: ["export_data"], conditions: [], default_decision: "deny" };
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: retiring })).status).toBe(200);
    expect((await call(v.url, "DELETE", "/policies/old-exports", { key: v.adminKey })).status).toBe(200);
    const page = await openSignedIn(DESKTOP);
    await page.goto(`${v.url}/console/#/policies`);
    await page.locator('[data-policy-id="lenient-wires"]').waitFor();
    expect(await page.locator('[data-policy-id="old-exports"]').count()).toBe(0);
    await page.getByLabel("Show retired").check();
    const retired = page.locator('[data-policy-id="old-exports"]');
    await retired.waitFor();
    expect(await retired.textContent()).toContain("Retired");
    await retired.getByRole("link", { name: "old-exports" }).click();
    const list = page.getByRole("list", { name: "Versions, newest first" });
    await list.waitFor();
    expect(await list.locator(":scope > li").first().textContent()).toMatch(/Version 2\s*Retired\s*Current/);
    expect(await list.locator(":scope > li").last().textContent()).toMatch(/Version 1\s*Active/);
    expect(await page.getByRole("region", { name: "Summary" }).textContent()).toContain("retired: it no longer judges requests");
  });

  it("still lists policies, and shows a policy's summary, when the vault answers 404 for the detail API", async () => {
    const page = await openSignedIn(DESKTOP);
    // A vault from before the policy read API: only GET /policies exists.
    const notFound = { status: 404, contentType: "application/problem+json", body: JSON.stringify({ type: "about:blank", title: "Not Found", status: 404, code: "not_found", detail: "Route not found" }) };
    await page.route(/\/policies\/[^?]+/, (route) => route.fulfill(notFound));
    await page.goto(`${v.url}/console/#/policies`);
    await page.locator('[data-policy-id="lenient-wires"]').getByRole("link", { name: "lenient-wires" }).click();
    await page.getByRole("heading", { name: "Policy lenient-wires", level: 1 }).waitFor();
    const notice = page.locator("#policy-error");
    await notice.waitFor();
    expect(await notice.textContent()).toContain("does not serve policy details yet");
    expect(await page.locator("#policy-detail-warning").textContent()).toMatch(WARNING);
    expect(await page.getByRole("region", { name: "Summary" }).textContent()).toContain("wire_transfer");
    await expect.poll(() => page.locator("#policy-versions").textContent()).toContain("does not list policy versions yet");
    await page.getByRole("link", { name: "← Back to the policies" }).click();
    await page.locator('[data-policy-id="refund-policy"]').waitFor();
    expect(pageErrors.filter((e) => !EXPECTED_ERRORS.test(e) && !/status of 404/.test(e))).toEqual([]);
  });
});

/**
 * The API reference page (/docs) in headless chromium against a real vault: swagger-ui, served from
 * the package under the page's own strict CSP, loads /openapi.json and shows the operations, with no
 * CSP violation, no script error and no request to another origin (no CDN).
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newPgliteDir, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";
import { launchChromium } from "./chromium.js";

describe("the API reference page in headless chromium", () => {
  let db: TestDatabase;
  let v: TestVault;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];
  const requested: string[] = [];

  beforeAll(async () => {
    db = newPgliteDir();
    v = await startTestVault(db);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(m.text());
    });
    page.on("pageerror", (e) => consoleErrors.push(`pageerror: ${e.message}`));
    page.on("request", (r) => requested.push(r.url()));
    // Injected over CDP, so the page's own CSP does not apply to this listener.
    await page.addInitScript(
      'document.addEventListener("securitypolicyviolation", (e) => console.error("CSP violation: " + e.violatedDirective + " " + e.blockedURI))',
    );
  });

  afterAll(async () => {
    await browser?.close();
    await v?.close();
    await db?.drop();
  });

  it("renders the operations from /openapi.json with no CSP violation and nothing from another origin", async () => {
    const res = await page.goto(`${v.url}/docs`);
    expect(res?.status()).toBe(200);
    expect(res?.headers()["content-security-policy"]).toContain("script-src 'self'");
    await page.locator(".opblock-summary-path", { hasText: "/request-clearance" }).first().waitFor();
    await expect.poll(() => page.locator(".opblock").count()).toBeGreaterThan(30);
    await expect.poll(() => page.locator(".info .title").textContent()).toContain("Countersign vault API");

    // Opening an operation shows its documented example body.
    await page.locator(".opblock-summary-path", { hasText: "/request-clearance" }).first().click();
    await expect.poll(() => page.locator(".opblock.is-open").textContent()).toContain("stripe_refund");

    expect(requested.some((url) => url === `${v.url}/openapi.json` || url === `${v.url}/docs/json`)).toBe(true);
    expect(requested.filter((url) => !url.startsWith(`${v.url}/`) && !url.startsWith("data:"))).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });
});

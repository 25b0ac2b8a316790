/**
 * The console's "Burned, never reported" list in headless chromium (issue 15, lost-consume recovery):
 * a token burned with no execution report is listed (the vault's timeout is 0 here), one that reported
 * is not, and a reviewer closes it as outcome unknown with a note, which the vault records as the
 * token's execution. Screenshots (desktop and a 375 px phone) go to test-results/.
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
/** Chromium logs every non-2xx fetch; the session check before sign-in is a 401 by design. */
const EXPECTED_ERRORS = /^Failed to load resource: the server responded with a status of 401 /;

describe("console list of burned tokens never reported, in headless chromium", () => {
  let db: TestDatabase;
  let v: TestVault;
  let browser: Browser;
  let agent: string;
  let reviewerKey: string;
  let ritaId: string;
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

  /** An approved, burned token: its jti and request id. */
  async function burned(amount: number): Promise<{ jti: string; requestId: string }> {
    const res = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount }, agent_id: "agent-7" } });
    expect(res.body.status).toBe("approved");
    const consumed = await call(v.url, "POST", "/consume-token", { key: agent, body: { token: res.body.token } });
    expect(consumed.status).toBe(200);
    return { jti: consumed.body.jti, requestId: res.body.request_id };
  }

  beforeAll(async () => {
    db = newPgliteDir();
    // 0 s: a burn is listed as soon as it happened, so the test needs no clock.
    v = await startTestVault(db, { env: { VAULT_EXECUTION_REPORT_TIMEOUT_SECONDS: "0" } });
    agent = await newKey(v, "agent");
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy })).status).toBe(200);
    const rita = (await call(v.url, "POST", "/reviewers", { key: v.adminKey, body: { name: "Rita Reviewer", email: "rita@example.com" } })).body;
    reviewerKey = rita.api_key;
    ritaId = rita.reviewer_id;
    browser = await launchChromium();
  });

  afterAll(async () => {
    for (const ctx of contexts) await ctx.close().catch(() => {});
    await browser?.close();
    await v?.close();
    await db?.drop();
  });

  it("lists a burn never reported, not one that reported, and closes it as outcome unknown with a note", async () => {
    const lost = await burned(30);
    const reported = await burned(31);
    expect((await call(v.url, "POST", `/tokens/${reported.jti}/execution`, { key: agent, body: { status: 200, duration_ms: 9 } })).status).toBe(200);

    const page = await openSignedIn(DESKTOP);
    await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Burned, never reported" }).click();
    await page.getByRole("heading", { name: "Burned, never reported", level: 1 }).waitFor();
    const item = page.locator(`[data-jti="${lost.jti}"]`);
    await item.waitFor();
    expect(await page.locator(`[data-jti="${reported.jti}"]`).count()).toBe(0);
    expect(await item.textContent()).toContain("stripe_refund");
    expect(await item.textContent()).toContain(lost.requestId);
    expect(await item.textContent()).toContain("agent agent-7");
    await screenshot(page, "console-unreported-desktop.png", DESKTOP.width);

    // No note: nothing is sent, and the reviewer is told why.
    const button = item.getByRole("button", { name: /Close as unknown/ });
    await button.click();
    expect(await item.getByRole("status").textContent()).toMatch(/Write what you found out/);
    expect((await call(v.url, "GET", "/tokens/unreported", { key: v.adminKey })).body.tokens.map((t: { jti: string }) => t.jti)).toContain(lost.jti);

    const note = "Payments confirmed the refund went out";
    await item.getByLabel("What happened (recorded in the ledger)").fill(note);
    await button.click();
    await item.waitFor({ state: "detached" });
    expect((await call(v.url, "GET", "/tokens/unreported", { key: v.adminKey })).body.tokens.map((t: { jti: string }) => t.jti)).not.toContain(lost.jti);

    // Recorded as the token's execution: reporting it now is a different report, closing it again a replay.
    const again = await call(v.url, "POST", `/tokens/${lost.jti}/execution/close`, { key: v.adminKey, body: { note } });
    expect(again.body).toMatchObject({ outcome: "unknown", status: null, detail: note, closed_by: `Rita Reviewer (${ritaId})`, replayed: true });
    await v.vault.ctx.ledgerLoop.drain();
    const bundle = await call(v.url, "GET", `/ledger/proof/bundle?request_id=${lost.requestId}`, { key: agent });
    const types = bundle.body.request_events.map((e: { event: { event_type: string } }) => e.event.event_type);
    expect(types).toEqual(["token.consumed", "token.executed"]);
    expect(pageErrors.filter((e) => !EXPECTED_ERRORS.test(e))).toEqual([]);
  });

  it("fits a 375 px phone without sideways scrolling", async () => {
    await burned(32);
    const page = await openSignedIn(PHONE, true);
    await page.goto(`${v.url}/console/#/unreported`);
    await page.locator("[data-jti]").first().waitFor();
    expect(await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")).toEqual([PHONE.width, PHONE.width]);
    await screenshot(page, "console-unreported-phone.png", PHONE.width * 2);
    expect(pageErrors.filter((e) => !EXPECTED_ERRORS.test(e))).toEqual([]);
  });
});

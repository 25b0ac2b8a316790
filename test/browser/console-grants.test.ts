/**
 * Scoped grants and edit-on-approve in the console (issue 17), in headless chromium: a reviewer opens
 * a pending request, widens the approval into a window grant with a constraint whose plain words
 * appear as it is typed (an invalid one says so), edits the amount, and approves. The agent's next
 * matching request is approved by the grant; on the Grants page the reviewer revokes it, and the
 * request after that goes to review again. Request fields are hostile and must stay text. The Grants
 * page's screenshot is the evidence in docs/images/console-grants.png.
 */
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toolArgsHash } from "../../src/tokens/canonical-json.js";
import { setUpGrants, type Reviewer } from "../helpers/grants.js";
import { call, newKey, newPgliteDir, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";
import { launchChromium, pngSize } from "./chromium.js";

const SHOTS = path.resolve(import.meta.dirname, "../../test-results");
const EVIDENCE = path.resolve(import.meta.dirname, "../../docs/images/console-grants.png");
const EXPECTED_ERRORS = /^Failed to load resource: the server responded with a status of 401 /;
const HOSTILE = '<img src=x onerror="window.__xss=1">refund';

describe("grants and edit-on-approve in the console, in headless chromium", () => {
  let db: TestDatabase;
  let v: TestVault;
  let browser: Browser;
  let agent: string;
  let people: Record<string, Reviewer>;
  const pageErrors: string[] = [];
  const contexts: BrowserContext[] = [];

  const refund = (args: Record<string, unknown>) =>
    call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { currency: "usd", note: HOSTILE, ...args }, agent_id: "agent-7", session_id: "s-1" } });

  async function openSignedIn(key: string): Promise<Page> {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    contexts.push(ctx);
    const page = await ctx.newPage();
    page.on("console", (m) => m.type() === "error" && pageErrors.push(m.text()));
    page.on("pageerror", (e) => pageErrors.push(`pageerror: ${e.message}`));
    await page.addInitScript('document.addEventListener("securitypolicyviolation", (e) => console.error("CSP violation: " + e.violatedDirective))');
    await page.goto(`${v.url}/console/`);
    await page.getByLabel("Reviewer key").fill(key);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Pending reviews" }).waitFor();
    return page;
  }

  beforeAll(async () => {
    db = newPgliteDir();
    v = await startTestVault(db, { env: { VAULT_REVIEW_SWEEP_INTERVAL_SECONDS: "3600" } });
    agent = await newKey(v, "agent");
    people = await setUpGrants(v, ["Rita"]);
    browser = await launchChromium();
  });
  afterAll(async () => {
    for (const ctx of contexts) await ctx.close().catch(() => {});
    await browser?.close();
    await v?.close();
    await db?.drop();
  });

  it("approves with a window grant (its constraint in plain words, live) and edited arguments, then revokes the grant on the Grants page", async () => {
    const first = await refund({ amount: 180, order: "A-1043" });
    expect(first.body.status).toBe("pending_review");
    const id = first.body.request_id as string;

    const page = await openSignedIn(people.Rita!.api_key);
    await page.goto(`${v.url}/console/#/reviews/${encodeURIComponent(id)}`);
    await page.getByRole("heading", { name: "Your decision" }).waitFor();
    await page.getByLabel("Scope").selectOption("window");
    await page.getByLabel("Minutes").fill("30");
    const constraint = page.getByLabel("Only where (CEL over args, optional)");
    const words = page.locator("#grant-constraint-words");
    await constraint.fill("tool == 'stripe_refund'");
    await expect.poll(() => words.textContent(), { timeout: 10_000 }).toMatch(/^Not a valid constraint: a constraint reads only args/);
    expect(await constraint.getAttribute("aria-invalid")).toBe("true");
    await constraint.fill('args.amount <= 200 && args.currency == "usd"');
    await expect.poll(() => words.textContent(), { timeout: 10_000 }).toBe("Applies only when amount ≤ 200 and currency = usd.");
    await page.getByLabel("Edit the arguments before approving").check();
    const editor = page.getByLabel("Edited arguments (JSON)");
    const edited = { amount: 120, currency: "usd", note: HOSTILE, order: "A-1043" };
    // Not JSON first: refused in the page, nothing sent.
    await editor.fill("{ amount: 120 ");
    await page.getByRole("button", { name: "Approve" }).click();
    await expect.poll(() => page.locator("#decision-error").textContent()).toBe("The edited arguments must be a JSON object.");
    await editor.fill(JSON.stringify(edited, null, 2));
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, "console-grant-form.png"), fullPage: true });
    await page.getByLabel("Reason (optional)").fill("partial refund; same for the next half hour");
    await page.getByRole("button", { name: "Approve" }).click();
    await page.getByRole("heading", { name: "Grants and edits" }).waitFor();
    expect(await page.locator("pre[aria-label='Approved arguments']").textContent()).toContain('"amount": 120');

    const status = await call(v.url, "GET", `/clearance-status/${id}`, { key: agent });
    expect(status.body).toMatchObject({ status: "approved", edited_tool_args: edited, edited_tool_args_hash: toolArgsHash(edited) });
    const [grant] = (await call(v.url, "GET", "/grants", { key: v.adminKey })).body.grants;
    expect(grant).toMatchObject({ scope: "window", window_minutes: 30, constraint: 'args.amount <= 200 && args.currency == "usd"', source_request_id: id });
    // The agent's next matching request is approved by the grant.
    expect((await refund({ amount: 150, order: "A-1044" })).body).toMatchObject({ status: "approved", grant_id: grant.id });

    await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Grants" }).click();
    await page.getByRole("heading", { name: "Grants", level: 1 }).waitFor();
    const item = page.locator(`[data-grant-id="${grant.id}"]`);
    await item.waitFor();
    expect(await item.textContent()).toContain("Only when amount ≤ 200 and currency = usd");
    expect(await item.textContent()).toContain("approved by Rita");
    await page.screenshot({ path: EVIDENCE, fullPage: true });
    expect(pngSize(readFileSync(EVIDENCE)).width).toBe(1280);

    await item.getByLabel("Reason (recorded in the ledger)").fill("ticket closed");
    await item.getByRole("button", { name: `Revoke grant ${grant.id}` }).click();
    await expect.poll(async () => page.locator(`[data-grant-id="${grant.id}"] .badge-grant-revoked`).count()).toBe(1);
    expect((await call(v.url, "GET", `/grants/${grant.id}`, { key: v.adminKey })).body).toMatchObject({ status: "revoked", revoke_reason: "ticket closed" });
    expect((await refund({ amount: 150, order: "A-1045" })).body.status).toBe("pending_review");
    await page.getByLabel("Grant status").selectOption("all");
    await item.waitFor();
    await page.getByLabel("Grant status").selectOption("active");
    await page.locator("#grants-empty").waitFor({ state: "visible" });

    expect(await page.evaluate("window.__xss")).toBeUndefined();
    expect(pageErrors.filter((e) => !EXPECTED_ERRORS.test(e))).toEqual([]);
  });
});

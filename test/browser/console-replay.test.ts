/**
 * Shadow mode and replay in the console (issue 17), in headless chromium. An admin switches a policy
 * to shadow on the Policies page (a second click confirms: it disarms the policy) and back; then on
 * the Replay page loads the policy's current version, pastes a candidate as YAML, runs it over the
 * recorded history and reads the transitions table and the changed requests, whose counts are known
 * from how the history was made. A reviewer sees the modes but neither the switch nor the Replay page.
 * The Replay page's screenshot is the evidence in docs/images/console-replay.png.
 */
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordHistory, type RecordedSpec } from "../helpers/recorded-history.js";
import { call, newKey, newPgliteDir, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";
import { launchChromium, pngSize } from "./chromium.js";

const SHOTS = path.resolve(import.meta.dirname, "../../test-results");
const EVIDENCE = path.resolve(import.meta.dirname, "../../docs/images/console-replay.png");
// 401: the session check before sign-in; 400: the candidate that does not compile, sent on purpose.
const EXPECTED_ERRORS = /^Failed to load resource: the server responded with a status of (401|400) /;
const HOSTILE = '<img src=x onerror="window.__xss=1">tool';

const refunds = {
  policy_id: "refunds",
  description: "Customer refunds",
  tools: ["refund", HOSTILE],
  conditions: [
    { id: "over-1000", when: "args.amount > 1000", decision: "deny", reason: "over 1000" },
    { id: "small", when: "args.amount <= 100", decision: "approve", reason: "small refund" },
  ],
  default_decision: "review",
};
// The candidate, as an admin would paste it: denies over 500, approves up to 200.
const CANDIDATE_YAML = `policy_id: refunds
description: Customer refunds
tools: [refund]
conditions:
  - id: over-500
    when: args.amount > 500
    decision: deny
    reason: over 500
  - id: up-to-200
    when: args.amount <= 200
    decision: approve
default_decision: review
`;

describe("shadow mode and replay in the console, in headless chromium", () => {
  let db: TestDatabase;
  let v: TestVault;
  let browser: Browser;
  let reviewerKey: string;
  const pageErrors: string[] = [];
  const contexts: BrowserContext[] = [];

  async function openSignedIn(key: string, viewport = { width: 1280, height: 900 }): Promise<Page> {
    const ctx = await browser.newContext({ viewport });
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
    v = await startTestVault(db);
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refunds })).status).toBe(200);
    reviewerKey = (await call(v.url, "POST", "/reviewers", { key: v.adminKey, body: { name: "Rita Reviewer", email: "rita@example.com" } })).body.api_key;
    // 400 refunds, amount = i * 5 (0 … 1995), decided as the live policy decides them.
    const now = Date.now();
    const specs: RecordedSpec[] = Array.from({ length: 400 }, (_, i) => {
      const amount = i * 5;
      return { tool: "refund", args: { amount }, end: amount > 1000 ? "denied" : amount <= 100 ? "approved" : "pending", createdAt: new Date(now - 60_000 - i * 1000) };
    });
    await recordHistory(await v.vault.ctx.tenantDbs.get(v.tenantId), specs);
    browser = await launchChromium();
  }, 240_000);
  afterAll(async () => {
    for (const ctx of contexts) await ctx.close().catch(() => {});
    await browser?.close();
    await v?.close();
    await db?.drop();
  });

  it("an admin switches a policy to shadow (confirming) and back on the Policies page", async () => {
    const page = await openSignedIn(v.adminKey);
    await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Policies" }).click();
    const item = page.locator('[data-policy-id="refunds"]');
    await item.waitFor();
    const toggle = item.getByRole("button", { name: /Switch to shadow/ });
    await toggle.click();
    // The first click only warns; nothing changed yet.
    await item.getByText("Click again to confirm").waitFor();
    expect((await call(v.url, "GET", "/policies/refunds/mode", { key: v.adminKey })).body.mode).toBe("enforce");
    await item.getByRole("button", { name: /Confirm: switch to log-only/ }).click();
    await page.locator('[data-policy-id="refunds"] .badge-shadow').waitFor();
    expect((await call(v.url, "GET", "/policies/refunds/mode", { key: v.adminKey })).body).toMatchObject({ mode: "shadow" });
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, "console-policy-shadow.png"), fullPage: true });

    // A reviewer sees the mode, not the switch, and no Replay page.
    const reviewer = await openSignedIn(reviewerKey);
    await reviewer.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Policies" }).click();
    await reviewer.locator('[data-policy-id="refunds"] .badge-shadow').waitFor();
    expect(await reviewer.locator('[data-policy-id="refunds"] .mode-toggle').count()).toBe(0);
    expect(await reviewer.getByRole("link", { name: "Replay" }).isVisible()).toBe(false);

    await page.locator('[data-policy-id="refunds"]').getByRole("button", { name: /Enforce again/ }).click();
    await expect.poll(async () => (await call(v.url, "GET", "/policies/refunds/mode", { key: v.adminKey })).body.mode).toBe("enforce");
    await page.locator('[data-policy-id="refunds"] .badge-shadow').waitFor({ state: "detached" });
    // Both switches are ledger events.
    await v.vault.ctx.ledgerLoop.drain();
    const entries = (await call(v.url, "GET", "/ledger?limit=100", { key: v.adminKey })).body.entries as { tool_name: string }[];
    expect(entries.filter((e) => e.tool_name === "audit:policy.mode_changed")).toHaveLength(2);
  });

  it("replays a pasted YAML candidate and shows the transitions and the changed requests", async () => {
    const page = await openSignedIn(v.adminKey);
    await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Replay" }).click();
    await page.getByRole("heading", { name: "Replay a policy" }).waitFor();
    await page.locator("#replay-policy").fill("refunds");
    await page.getByRole("button", { name: "Load its current version" }).click();
    const editor = page.getByLabel("Candidate version (JSON or YAML)");
    await expect.poll(async () => JSON.parse((await editor.inputValue()) || "{}").conditions?.length).toBe(2);
    expect(await editor.inputValue()).toContain("over-1000");
    await editor.fill(CANDIDATE_YAML);
    await page.getByRole("button", { name: "Run replay" }).click();
    const table = page.getByRole("region", { name: "Decisions, old to new table" });
    await table.waitFor();
    // Amounts i*5: 0..100 (21) stay approved, 105..200 (20) review→approved, 205..500 (60) stay review,
    // 505..1000 (100) review→denied, 1005..1995 (199) stay denied.
    const rows = await table.locator("tbody tr").evaluateAll((trs) => trs.map((tr) => [tr.getAttribute("data-transition"), tr.children[2]!.textContent]));
    expect(rows).toEqual([
      ["approved→approved", "21"],
      ["denied→denied", "199"],
      ["review→approved", "20"],
      ["review→denied", "100"],
      ["review→review", "60"],
    ]);
    await page.getByRole("heading", { name: "Requests whose decision would change (120)" }).waitFor();
    const changed = page.getByRole("region", { name: "Changed requests table" });
    expect(await changed.locator("tbody tr").count()).toBe(120);
    const first = await changed.locator("tbody tr").first().textContent();
    expect(first).toMatch(/review.*→.*approved/);
    expect(first).toContain("refunds/up-to-200");
    expect(await page.locator("#replay-status").textContent()).toBe("Replayed 400 requests: 120 would change.");
    // The form, the summary table and the first changed requests (the full list is 120 rows long).
    await page.screenshot({ path: EVIDENCE, fullPage: true, clip: { x: 0, y: 0, width: 1280, height: 1450 } });
    expect(pngSize(readFileSync(EVIDENCE)).width).toBe(1280);

    // A candidate that does not compile: the vault's problem is shown, nothing else.
    await editor.fill(CANDIDATE_YAML.replace("args.amount > 500", "args.amount >"));
    await page.getByRole("button", { name: "Run replay" }).click();
    await expect.poll(() => page.locator("#replay-error").textContent()).toMatch(/invalid_condition/);

    // On a phone the tables scroll on their own.
    const phone = await openSignedIn(v.adminKey, { width: 375, height: 812 });
    await phone.goto(`${v.url}/console/#/replay`);
    await phone.getByRole("heading", { name: "Replay a policy" }).waitFor();
    await phone.screenshot({ path: path.join(SHOTS, "console-replay-phone.png"), fullPage: true });
    expect(pngSize(readFileSync(path.join(SHOTS, "console-replay-phone.png"))).width).toBe(375);

    expect(await page.evaluate("window.__xss")).toBeUndefined();
    expect(pageErrors.filter((e) => !EXPECTED_ERRORS.test(e))).toEqual([]);
    // The replays are audit events; the policy itself is unchanged.
    expect((await call(v.url, "GET", "/policies/refunds", { key: await newKey(v, "reviewer") })).body.version).toBe(1);
  });
});

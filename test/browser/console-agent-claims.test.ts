/**
 * The console's agent claims page (issue 16, Sigilum profile), in headless chromium: agents submit
 * signed claims (the SDK's AgentSigner), a reviewer approves one and rejects another through the
 * claims' reviews, then revokes the approved one with a reason. The agent's name is hostile and must
 * stay text. A screenshot goes to test-results/.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { agentSetup, claimBody, newAgent, PUBLIC_URL, send, type Agent } from "../helpers/agents.js";
import { call, newPgliteDir, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";
import { launchChromium } from "./chromium.js";

const SHOTS = path.resolve(import.meta.dirname, "../../test-results");
const EXPECTED_ERRORS = /^Failed to load resource: the server responded with a status of 401 /;
const HOSTILE_NAME = '<img src=x onerror="window.__xss=1">Invoice bot';

describe("console agent claims, in headless chromium", () => {
  let db: TestDatabase;
  let v: TestVault;
  let browser: Browser;
  let serviceKey: string;
  let ritaKey: string;
  const pageErrors: string[] = [];
  const contexts: BrowserContext[] = [];
  const clock = new ManualClock(Date.now());

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

  async function claim(agent: Agent, extra: Record<string, unknown>): Promise<string> {
    const res = await send(v, "POST", "/v1/claims", { agent, bearer: serviceKey, body: claimBody(agent, "billing-api", extra) });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.claim_id as string;
  }

  beforeAll(async () => {
    db = newPgliteDir();
    // Signed requests are checked against the public URL (the agent signs that origin plus the path).
    v = await startTestVault(db, { env: { VAULT_PUBLIC_URL: PUBLIC_URL } });
    ({ serviceKey } = await agentSetup(v, { namespace: "acme-corp", service: "billing-api" }));
    const rita = await call(v.url, "POST", "/reviewers", { key: v.adminKey, body: { name: "Rita Reviewer", email: "rita@example.com" } });
    expect(rita.status).toBe(201);
    ritaKey = rita.body.api_key;
    browser = await launchChromium();
  });
  afterAll(async () => {
    for (const ctx of contexts) await ctx.close().catch(() => {});
    await browser?.close();
    await v?.close();
    await db?.drop();
  });

  it("approves, rejects and revokes claims, showing the agent's fields as text", async () => {
    const good = await claim(newAgent("acme-corp", clock, "alice@acme.example"), { agent_name: HOSTILE_NAME, agent_id: "invoice-bot" });
    const bad = await claim(newAgent("acme-corp", clock, "mallory@acme.example"), { agent_name: "Unknown scraper", agent_id: "scraper" });

    const page = await openSignedIn(ritaKey);
    await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Agent claims" }).click();
    await page.getByRole("heading", { name: "Agent claims", level: 1 }).waitFor();
    const item = (id: string) => page.locator(`[data-claim-id="${id}"]`);
    await item(good).waitFor();
    await item(bad).waitFor();
    expect(await item(good).locator(".review-item-head strong").textContent()).toBe(HOSTILE_NAME);
    expect(await page.locator("#claims-list img").count()).toBe(0);
    expect(await item(good).textContent()).toContain("billing-api");
    expect(await item(good).textContent()).toContain("acme-corp");
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, "console-agent-claims.png"), fullPage: true });

    await item(good).getByRole("button", { name: `Approve claim ${good}` }).click();
    await item(good).waitFor({ state: "detached" });
    await item(bad).getByRole("button", { name: `Reject claim ${bad}` }).click();
    await item(bad).waitFor({ state: "detached" });
    const status = async (id: string) => (await call(v.url, "GET", "/agent-claims", { key: v.adminKey })).body.claims.find((c: { claim_id: string }) => c.claim_id === id)?.status;
    expect(await status(good)).toBe("approved");
    expect(await status(bad)).toBe("rejected");

    await page.getByLabel("Claim status").selectOption("approved");
    await item(good).waitFor();
    await item(good).getByLabel("Reason for revoking (optional)").fill("laptop lost");
    await item(good).getByRole("button", { name: `Revoke claim ${good}` }).click();
    await item(good).waitFor({ state: "detached" });
    await page.getByLabel("Claim status").selectOption("revoked");
    await item(good).waitFor();
    expect(await item(good).textContent()).toContain("laptop lost");
    expect(await status(good)).toBe("revoked");
    await page.getByLabel("Claim status").selectOption("all");
    await item(bad).waitFor();
    expect(await page.evaluate("window.__xss")).toBeUndefined();
    expect(pageErrors.filter((e) => !EXPECTED_ERRORS.test(e))).toEqual([]);
  });
});

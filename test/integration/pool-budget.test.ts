/**
 * Issue 11 item 10: the default pools must fit a default PostgreSQL server (max_connections 100) with
 * 4 vault processes and 10 tenants, and a vault whose pools cannot fit says so at start-up, with what
 * to change.
 */
import { Writable } from "node:stream";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import { judgePoolBudget } from "../../src/db/pool-budget.js";
import { newPgDatabase, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

function capturingLogger() {
  const lines: { level: number; msg: string }[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split("\n")) if (line.trim()) lines.push(JSON.parse(line) as { level: number; msg: string });
      done();
    },
  });
  return { log: pino({ level: "info" }, stream), lines };
}

const budgetWarnings = (lines: { level: number; msg: string }[]) => lines.filter((l) => l.level === 40 && /connection budget exceeded/.test(l.msg));

describe("the PostgreSQL connection budget", () => {
  it("fits 4 processes and 10 tenants on a default server with the default pools", () => {
    const { pools } = loadConfig({});
    const verdict = judgePoolBudget({ ...pools, tenants: 10, maxConnections: 100, reserved: 3 });
    expect(verdict.perProcess * 4).toBeLessThanOrEqual(97);
    expect(verdict.processesThatFit).toBeGreaterThanOrEqual(4);
    expect(verdict.warning).toBeUndefined();
  });

  it("names the variables, the figures and the formula when one process does not fit", () => {
    const verdict = judgePoolBudget({ controlMax: 50, tenantMax: 25, tenants: 3, maxConnections: 100, reserved: 3 });
    expect(verdict.perProcess).toBe(125);
    expect(verdict.warning).toMatch(/VAULT_TENANT_DB_MAX_OPEN_CONNS=25/);
    expect(verdict.warning).toMatch(/VAULT_CONTROL_PLANE_DB_MAX_OPEN_CONNS=50/);
    expect(verdict.warning).toMatch(/max_connections 100/);
    expect(verdict.warning).toMatch(/processes × \(control \+ tenants × tenant\) ≤ max_connections − superuser_reserved_connections/);
  });

  describe("at start-up on a real server", () => {
    let db: TestDatabase | undefined;
    let v: TestVault | undefined;
    afterEach(async () => {
      await v?.close();
      await db?.drop();
      v = undefined;
    });

    it("warns when the pools exceed max_connections", async () => {
      db = newPgDatabase();
      const { log, lines } = capturingLogger();
      v = await startTestVault(db, { env: { VAULT_TENANT_DB_MAX_OPEN_CONNS: "1000", VAULT_CONTROL_PLANE_DB_MAX_OPEN_CONNS: "1000" }, overrides: { log } });
      const warnings = budgetWarnings(lines);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.msg).toMatch(/one vault process may open 2000 connections/);
    });

    it("does not warn with the default pools", async () => {
      db = newPgDatabase();
      const { log, lines } = capturingLogger();
      v = await startTestVault(db, { overrides: { log } });
      expect(budgetWarnings(lines)).toEqual([]);
      // The check ran: it reports the budget it found.
      expect(lines.some((l) => /PostgreSQL connection budget: 6 per process/.test(l.msg))).toBe(true);
    });
  });
});

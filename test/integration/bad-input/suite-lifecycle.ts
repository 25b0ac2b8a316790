/**
 * What every bad-input file shares: its own PGlite vault, seeded the same way, and the closing
 * checks that the vault survived the file and that no response in it was a 5xx.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newDatabase, startTestVault, type TestDatabase, type TestVault } from "../../helpers/vault.js";
import { BadInputVault } from "./bad-input-vault.js";
import { ResponseStatusRecorder } from "./problem-assertions.js";

export interface BadInputSuite {
  readonly statuses: ResponseStatusRecorder;
  /** The seeded vault; only valid inside tests (it is opened in beforeAll). */
  readonly vault: BadInputVault;
}

/** Call first in a file: opens and seeds the file's vault before its tests, closes it after. */
export function useBadInputVault(): BadInputSuite {
  const statuses = new ResponseStatusRecorder();
  let opened: { db: TestDatabase; testVault: TestVault; vault: BadInputVault } | undefined;
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = newDatabase("pglite");
    const testVault = await startTestVault(db);
    opened = { db, testVault, vault: await BadInputVault.seed(testVault, statuses) };
  });
  afterAll(async () => {
    await opened?.testVault.close();
    await db?.drop();
  });
  return {
    statuses,
    get vault() {
      if (!opened) throw new Error("the bad-input vault is opened in beforeAll; use it inside tests");
      return opened.vault;
    },
  };
}

/** Call last in a file. `minResponses` is a floor, so the 5xx check cannot pass by recording nothing. */
export function describeClosingChecks(suite: BadInputSuite, minResponses: number): void {
  const { statuses } = suite;
  describe("after this file's tests", () => {
    it("the vault still answers GET /healthz and /readyz", async () => {
      expect((await suite.vault.http("GET", "/healthz")).status).toBe(200);
      expect((await suite.vault.http("GET", "/readyz")).status).toBe(200);
    });

    it("no response in this file was a 5xx", () => {
      expect(statuses.seen.length).toBeGreaterThan(minResponses);
      const fiveHundreds = statuses.serverErrors();
      expect(fiveHundreds, fiveHundreds.map((s) => `${s.status} ${s.label}`).join("\n")).toEqual([]);
    });
  });
}

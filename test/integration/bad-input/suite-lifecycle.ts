/**
 * What every bad-input file shares: its own PGlite vault, seeded the same way, and the closing
 * checks that the vault survived the file and that no response in it was a 5xx.
 */
import { describe, expect, it } from "vitest";
import { newDatabase, startTestVault, type TestDatabase, type TestVault } from "../../helpers/vault.js";
import { BadInputVault } from "./bad-input-vault.js";
import type { ResponseStatusRecorder } from "./problem-assertions.js";

export async function openBadInputVault(statuses: ResponseStatusRecorder): Promise<{ db: TestDatabase; testVault: TestVault; vault: BadInputVault }> {
  const db = newDatabase("pglite");
  const testVault = await startTestVault(db);
  return { db, testVault, vault: await BadInputVault.seed(testVault, statuses) };
}

export async function closeBadInputVault(testVault: TestVault | undefined, db: TestDatabase | undefined): Promise<void> {
  await testVault?.close();
  await db?.drop();
}

/** Call last in a file. `minResponses` is a floor, so the 5xx check cannot pass by recording nothing. */
export function describeClosingChecks(vault: () => BadInputVault, statuses: ResponseStatusRecorder, minResponses: number): void {
  describe("after this file's tests", () => {
    it("the vault still answers GET /healthz and /readyz", async () => {
      expect((await vault().http("GET", "/healthz")).status).toBe(200);
      expect((await vault().http("GET", "/readyz")).status).toBe(200);
    });

    it("no response in this file was a 5xx", () => {
      expect(statuses.seen.length).toBeGreaterThan(minResponses);
      const fiveHundreds = statuses.serverErrors();
      expect(fiveHundreds, fiveHundreds.map((s) => `${s.status} ${s.label}`).join("\n")).toEqual([]);
    });
  });
}

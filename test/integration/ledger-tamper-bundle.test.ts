import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildLedger, flipChar, runCli, type BuiltLedger } from "../helpers/ledger-fixture.js";
import { call, newPgDatabase, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

/**
 * A proof bundle fetched from the API and checked offline by the real `countersign verify-bundle`
 * process: the genuine bundle passes; one changed character anywhere that matters fails exactly the
 * check that covers it, and the output names that check.
 */

type Bundle = Record<string, any>;

/** The check names of the FAIL lines of the text report. */
const failedChecks = (stdout: string) => [...stdout.matchAll(/^FAIL ([^:]+):/gm)].map((m) => m[1]);

describe("proof bundle tamper evidence through the API and verify-bundle", () => {
  let db: TestDatabase;
  let v: TestVault;
  let built: BuiltLedger;
  let dir: string;
  let bundle: Bundle;
  let jwksFile: string;
  let verifierKey: string;

  const writeBundle = (name: string, b: Bundle) => {
    const file = path.join(dir, `${name}.json`);
    writeFileSync(file, JSON.stringify(b, null, 2));
    return file;
  };
  const tampered = (change: (b: Bundle) => void) => {
    const copy = structuredClone(bundle);
    change(copy);
    return copy;
  };

  beforeAll(async () => {
    db = newPgDatabase();
    v = await startTestVault(db, { env: { VAULT_LEDGER_ANCHOR_BACKFILL_INTERVAL_SECONDS: "3600" } });
    built = await buildLedger(v, [12, 9, 5]);
    dir = mkdtempSync(path.join(os.tmpdir(), "cs-bundles-"));
    // A denied request of round 0 (its only event): covered first by checkpoint 1, proven in checkpoint 3.
    // (rounds[0][0] will not do: buildLedger consumes its token in round 1, a newer event.)
    const id = built.rounds[0]![2]!;
    const res = await call(v.url, "GET", `/ledger/proof/bundle?request_id=${id}`, { key: built.agent });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    bundle = res.body;
    jwksFile = path.join(dir, "jwks.json");
    writeFileSync(jwksFile, JSON.stringify((await call(v.url, "GET", "/.well-known/jwks.json")).body));
    verifierKey = (await call(v.url, "GET", "/ledger/checkpoint-key", { key: built.agent })).body;
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("the bundle carries a consistency proof from the first covering checkpoint to the newest", () => {
    expect(bundle.event.tool_args).toEqual({ amount: 5000, order_id: "r0-2" });
    expect(bundle.event.event_type).toBe("clearance.denied");
    expect(bundle.inclusion.checkpoint.checkpoint_id).toBe(3);
    expect(bundle.consistency.from_checkpoint.checkpoint_id).toBe(1);
    expect(bundle.consistency.to_checkpoint.checkpoint_id).toBe(3);
    expect(bundle.consistency.path.length).toBeGreaterThan(0);
    expect(bundle.inclusion.path.length).toBeGreaterThan(0);
  });

  it("verifies with the JWKS: exit 0, every check on an ok line", async () => {
    const out = await runCli(["verify-bundle", writeBundle("genuine", bundle), "--jwks", jwksFile]);
    expect(out.code, out.stdout + out.stderr).toBe(0);
    expect(out.stdout).toMatch(/^keys: jwks$/m);
    for (const name of ["receipt signature", "event hash", "leaf hash", "inclusion proof", "inclusion checkpoint signature", "consistency proof", "c2sp checkpoint"]) {
      expect(out.stdout).toMatch(new RegExp(`^ok   ${name}( |$)`, "m"));
    }
    expect(failedChecks(out.stdout)).toEqual([]);
    expect(out.stdout).toMatch(/^verdict: VERIFIED \(\d+ checks passed\)$/m);
  });

  const cases: Array<[string, (b: Bundle) => void, string[]]> = [
    ["one digit of the event's tool_args", (b) => void (b.event.tool_args.amount = 7000), ["event hash"]],
    ["the receipt signature", (b) => void (b.event.receipt_signature = flipChar(b.event.receipt_signature, 30)), ["receipt signature"]],
    ["an inclusion path element", (b) => void (b.inclusion.path[0] = flipChar(b.inclusion.path[0], 10)), ["inclusion proof"]],
    ["the consistency path", (b) => void (b.consistency.path[0] = flipChar(b.consistency.path[0], 10)), ["consistency proof"]],
    [
      "the checkpoint signature",
      (b) => void (b.inclusion.checkpoint.checkpoint_signature = flipChar(b.inclusion.checkpoint.checkpoint_signature, 30)),
      ["inclusion checkpoint signature"],
    ],
  ];

  // Concurrent: each case is a separate CLI process; concurrent tests assert with their own expect.
  for (const [label, change, expected] of cases) {
    it.concurrent(`fails on a changed ${label}: exit 1, and the output names the failed check`, async ({ expect }) => {
      const file = writeBundle(label.replace(/\W+/g, "-"), tampered(change));
      const out = await runCli(["verify-bundle", file, "--jwks", jwksFile]);
      expect(out.code, out.stdout + out.stderr).toBe(1);
      expect(failedChecks(out.stdout)).toEqual(expected);
      expect(out.stdout).toMatch(new RegExp(`^verdict: FAILED \\(${expected.length} of \\d+ checks failed\\)$`, "m"));
    });
  }

  it("verifies with --key set to the C2SP verifier key from GET /ledger/checkpoint-key", async () => {
    expect(verifierKey).toMatch(/^[^+\s]+\+[0-9a-f]{8}\+[A-Za-z0-9+/]+=*$/);
    const out = await runCli(["verify-bundle", writeBundle("genuine-key", bundle), "--key", verifierKey]);
    expect(out.code, out.stdout + out.stderr).toBe(0);
    expect(out.stdout).toMatch(/^keys: key$/m);
    expect(out.stdout).toMatch(/^ok   c2sp checkpoint \(origin \S+, tree size \d+, signed by /m);
    // The same key also catches a forged checkpoint signature.
    const bad = await runCli(["verify-bundle", writeBundle("bad-key", tampered(cases[4]![1])), "--key", verifierKey]);
    expect(bad.code).toBe(1);
    expect(failedChecks(bad.stdout)).toEqual(["inclusion checkpoint signature"]);
  });

  it("--json prints a parseable report, for a genuine and a tampered bundle", async () => {
    const good = await runCli(["verify-bundle", writeBundle("genuine-json", bundle), "--jwks", jwksFile, "--json"]);
    expect(good.code).toBe(0);
    const report = JSON.parse(good.stdout);
    expect(report).toMatchObject({ ok: true, keySource: "jwks" });
    expect(report.checks.length).toBeGreaterThan(10);
    expect(report.checks.every((c: { ok: boolean }) => c.ok)).toBe(true);

    const bad = await runCli(["verify-bundle", writeBundle("tampered-json", tampered(cases[2]![1])), "--jwks", jwksFile, "--json"]);
    expect(bad.code).toBe(1);
    const failed = JSON.parse(bad.stdout);
    expect(failed.ok).toBe(false);
    expect(failed.checks.filter((c: { ok: boolean }) => !c.ok).map((c: { name: string }) => c.name)).toEqual(["inclusion proof"]);
  });

  it("a key that did not sign the log fails every signature, however intact the bundle", async () => {
    const stranger = Buffer.alloc(32, 7).toString("base64url");
    const out = await runCli(["verify-bundle", writeBundle("genuine-stranger", bundle), "--key", stranger]);
    expect(out.code).toBe(1);
    expect(failedChecks(out.stdout)).toEqual(
      expect.arrayContaining(["receipt signature", "inclusion checkpoint signature", "from checkpoint signature", "to checkpoint signature"]),
    );
  });
});

import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { verifierKeyString } from "../../src/ledger/core/signed-note.js";
import { runVerifyBundle } from "../../src/main/verify-bundle.js";
import { c2spWitnessVkey } from "../helpers/c2sp-cosignature-verifier.js";
import { fullBundle, ORIGIN, PUBLIC_KEY, signer } from "../helpers/proof-bundle-fixture.js";

const dir = mkdtempSync(path.join(tmpdir(), "verify-bundle-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileCount = 0;
function write(content: unknown): string {
  const file = path.join(dir, `f${fileCount++}.json`);
  writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content));
  return file;
}

let stdout = "";
let stderr = "";
beforeEach(() => {
  stdout = "";
  stderr = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
});
afterEach(() => vi.restoreAllMocks());

const jwksFile = () => write({ keys: [signer.publicJwk] });

describe("countersign verify-bundle", () => {
  it("exit 0 and one line per check with --jwks", async () => {
    expect(await runVerifyBundle(write(await fullBundle()), { jwks: jwksFile(), json: false })).toBe(0);
    const lines = stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("keys: jwks");
    expect(lines).toContain("ok   receipt signature (kid ledger-2026-01)");
    expect(lines.filter((l) => l.startsWith("ok   "))).toHaveLength(20);
    expect(lines.at(-1)).toBe("verdict: VERIFIED (20 checks passed)");
    expect(stderr).toBe("");
  });

  it("exit 1 and a FAIL line naming the check when the bundle was tampered with", async () => {
    const bundle = await fullBundle();
    bundle.inclusion.path[0] = "00".repeat(32);
    expect(await runVerifyBundle(write(bundle), { jwks: jwksFile(), json: false })).toBe(1);
    expect(stdout).toMatch(/^FAIL inclusion proof: path does not lead/m);
    expect(stdout.trimEnd().split("\n").at(-1)).toBe("verdict: FAILED (1 of 20 checks failed)");
  });

  it("--json prints the report as JSON", async () => {
    const bundle = await fullBundle();
    bundle.event.reason = "changed";
    expect(await runVerifyBundle(write(bundle), { key: verifierKeyString(ORIGIN, PUBLIC_KEY), json: true })).toBe(1);
    const report = JSON.parse(stdout) as { ok: boolean; keySource: string; checks: Array<{ name: string; ok: boolean }> };
    expect(report.ok).toBe(false);
    expect(report.keySource).toBe("key");
    expect(report.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(["event hash"]);
  });

  it("without --jwks or --key uses the bundle's keys and prints a warning line", async () => {
    expect(await runVerifyBundle(write(await fullBundle()), { json: false })).toBe(0);
    expect(stdout).toMatch(/^WARNING: keys come from the bundle itself: .*integrity.*not who signed/m);
    expect(stdout).toMatch(/integrity only, keys from the bundle\)$/m);
  });

  it("a malformed bundle is a failed shape check (exit 1), not a usage error", async () => {
    expect(await runVerifyBundle(write({ event: null }), { jwks: jwksFile(), json: false })).toBe(1);
    expect(stdout).toMatch(/^FAIL shape: event: /m);
  });

  it("reads the bundle from stdin with -", async () => {
    const text = JSON.stringify(await fullBundle());
    vi.spyOn(process, "stdin", "get").mockReturnValue(Readable.from([Buffer.from(text)]) as unknown as typeof process.stdin);
    expect(await runVerifyBundle("-", { jwks: jwksFile(), json: false })).toBe(0);
  });

  const usageErrors: Array<[string, () => Promise<[string, Parameters<typeof runVerifyBundle>[1]]>, RegExp]> = [
    ["a missing file", async () => [path.join(dir, "nope.json"), { json: false }], /cannot read bundle/],
    ["a file that is not JSON", async () => [write("{not json"), { json: false }], /is not JSON/],
    ["a missing JWKS file", async () => [write(await fullBundle()), { jwks: path.join(dir, "nope"), json: false }], /cannot read JWKS file/],
    ["a JWKS with a private key", async () => [write(await fullBundle()), { jwks: write({ keys: [{ ...signer.publicJwk, d: "x" }] }), json: false }], /private key/],
    ["an unreadable --key", async () => [write(await fullBundle()), { key: "not-a-key", json: false }], /neither a C2SP verifier key/],
    ["both --jwks and --key", async () => [write(await fullBundle()), { jwks: jwksFile(), key: signer.publicJwk.x, json: false }], /either --jwks or --key/],
    ["a bundle without keys and no key option", async () => [write(await fullBundle({ keys: false })), { json: false }], /no usable public key/],
    [
      "--require-witnesses 2 with one witness key given under two names",
      async () => {
        const key = generateKeyPairSync("ed25519").privateKey;
        const witnesses = [c2spWitnessVkey("witness.example/a", key), c2spWitnessVkey("witness.example/b", key)];
        return [write(await fullBundle()), { jwks: jwksFile(), witnesses, requireWitnesses: 2, json: false }];
      },
      /--require-witnesses 2 is more than the 1 witness key\(s\) given \(distinct public keys\)/,
    ],
    ["--origin without --witness", async () => [write(await fullBundle()), { jwks: jwksFile(), origin: "vault.example.com/ledger/tenant-1", json: false }], /--origin pins the log .*pass --witness KEY too/],
  ];
  it.each(usageErrors)("exit 2 for %s", async (_what, args, message) => {
    const [file, opts] = await args();
    expect(await runVerifyBundle(file, opts)).toBe(2);
    expect(stderr).toMatch(message);
    expect(stdout).toBe("");
  });
});

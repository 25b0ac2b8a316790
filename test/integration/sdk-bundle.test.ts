import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pureLedgerCrypto, withLedgerCrypto } from "../../src/ledger/core/crypto.js";
import { Countersign, verifyBundleWith, type BundleReport } from "../../src/sdk/index.js";
import { flipChar, runCli } from "../helpers/ledger-fixture.js";
import { call, newDatabase, newKey, refundPolicy, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

type Bundle = Record<string, any>;

/**
 * cs.verifyBundle and the real `countersign verify-bundle` process agree: the genuine bundle of a
 * guarded request (approval, burn, execution) passes both with the same checks, and a bundle with one
 * character changed anywhere that matters fails both, on the same checks.
 */
describe.each<Engine>(["postgres", "pglite"])("SDK verifyBundle against verify-bundle on %s", (engine) => {
  let db: TestDatabase;
  let v: TestVault;
  let cs: Countersign;
  let dir: string;
  let bundle: Bundle;
  let jwks: unknown;
  let jwksFile: string;

  const cli = async (b: Bundle, name: string) => {
    const file = path.join(dir, `${name}.json`);
    writeFileSync(file, JSON.stringify(b));
    const out = await runCli(["verify-bundle", file, "--jwks", jwksFile, "--json"]);
    return { code: out.code, report: JSON.parse(out.stdout) as BundleReport, stderr: out.stderr };
  };
  const failed = (r: BundleReport) => r.checks.filter((c) => !c.ok).map((c) => c.name);

  beforeAll(async () => {
    db = newDatabase(engine);
    // A generous condition budget: on a loaded machine the 50 ms default sends conditions to review (fail closed).
    v = await startTestVault(db, { env: { VAULT_CEL_TIMEOUT_MS: "2000" } });
    const agent = await newKey(v, "agent");
    cs = new Countersign({ baseUrl: v.url, apiKey: agent });
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy })).status).toBe(200);
    dir = mkdtempSync(path.join(os.tmpdir(), "cs-sdk-bundles-"));
    // A guarded refund (approved, burned, executed), then more traffic and a second checkpoint, so the
    // bundle carries an inclusion proof into the newest checkpoint and a consistency proof to it.
    let requestId = "";
    const refund = cs.guard("stripe_refund", async (args: { amount: number; order_id: string }) => ({ ok: args.order_id }), { agentId: "agent-b", waitSeconds: 10 });
    const first = await cs.requestClearance({ tool: "stripe_refund", args: { amount: 10, order_id: "b-0" }, agentId: "agent-b" }, { waitSeconds: 10 });
    requestId = first.requestId;
    const { jti } = await cs.consume(first.token!, { tool: "stripe_refund", args: { amount: 10, order_id: "b-0" } });
    await cs.reportExecution(jti, { status: 200, durationMs: 3 });
    await refund({ amount: 20, order_id: "b-1" });
    await v.vault.ctx.ledgerLoop.drain();
    for (let i = 2; i < 6; i++) await refund({ amount: 30 + i, order_id: `b-${i}` });
    await v.vault.ctx.ledgerLoop.drain();
    const res = await call(v.url, "GET", `/ledger/proof/bundle?request_id=${requestId}`, { key: agent });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    bundle = res.body;
    jwks = (await call(v.url, "GET", "/.well-known/jwks.json")).body;
    jwksFile = path.join(dir, "jwks.json");
    writeFileSync(jwksFile, JSON.stringify(jwks));
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("verifies the genuine bundle with the vault's JWKS, as verify-bundle does, with the same checks", async () => {
    expect(bundle.consistency).toBeDefined();
    const report = await cs.verifyBundle(bundle);
    expect(failed(report)).toEqual([]);
    expect(report).toMatchObject({ ok: true, keySource: "jwks" });
    const names = report.checks.map((c) => c.name);
    for (const name of ["receipt signature", "event hash", "leaf hash", "inclusion proof", "inclusion checkpoint signature", "consistency proof", "c2sp checkpoint"]) {
      expect(names).toContain(name);
    }
    const out = await cli(bundle, `genuine-${engine}`);
    expect(out.code, out.stderr).toBe(0);
    expect(out.report.checks).toEqual(report.checks);
    // The plain-JavaScript crypto an edge runtime gets reaches the same verdict on every check.
    expect(withLedgerCrypto(pureLedgerCrypto, () => verifyBundleWith(bundle, { jwks })).checks).toEqual(report.checks);
    // Other key sources: the C2SP verifier key, and (integrity only) the bundle's own keys.
    const verifierKey = (await call(v.url, "GET", "/ledger/checkpoint-key", { key: v.adminKey })).body;
    expect((await cs.verifyBundle(bundle, { key: verifierKey })).ok).toBe(true);
    const own = await cs.verifyBundle(bundle, { bundleKeys: true });
    expect(own.keySource).toBe("bundle");
  });

  const tampers: Array<[string, (b: Bundle) => void]> = [
    ["the event's tool_args", (b) => void (b.event.tool_args.amount = 7000)],
    ["the receipt signature", (b) => void (b.event.receipt_signature = flipChar(b.event.receipt_signature, 30))],
    ["an inclusion path element", (b) => void (b.inclusion.path[0] = flipChar(b.inclusion.path[0], 10))],
    ["the consistency path", (b) => void (b.consistency.path[0] = flipChar(b.consistency.path[0], 10))],
    ["the checkpoint signature", (b) => void (b.inclusion.checkpoint.checkpoint_signature = flipChar(b.inclusion.checkpoint.checkpoint_signature, 30))],
    ["the previous checkpoint hash (the chain)", (b) => void (b.consistency.to_checkpoint.prev_checkpoint_hash = flipChar(b.consistency.to_checkpoint.prev_checkpoint_hash, 5))],
  ];

  for (const [label, change] of tampers) {
    it(`refuses a bundle with a changed ${label}, on the same checks as verify-bundle`, async () => {
      const copy = structuredClone(bundle);
      change(copy);
      const report = await cs.verifyBundle(copy, { jwks });
      expect(report.ok).toBe(false);
      expect(failed(report).length).toBeGreaterThan(0);
      const out = await cli(copy, `${label.replace(/\W+/g, "-")}-${engine}`);
      expect(out.code, out.stderr).toBe(1);
      expect(failed(out.report)).toEqual(failed(report));
      expect(withLedgerCrypto(pureLedgerCrypto, () => failed(verifyBundleWith(copy, { jwks })))).toEqual(failed(report));
    });
  }

  it("refuses an unusable key source with a typed error, and never passes a non-bundle", async () => {
    await expect(cs.verifyBundle(bundle, { jwks: { keys: "nope" } })).rejects.toMatchObject({ name: "CountersignError", code: "bad_keys" });
    await expect(cs.verifyBundle(bundle, { jwks, key: "x" })).rejects.toMatchObject({ code: "bad_keys" });
    const report = await cs.verifyBundle({ hello: "world" }, { jwks });
    expect(report.ok).toBe(false);
    expect(failed(report)).toEqual(["shape"]);
  });

  it("verifies the bundle's JSON form, as verify-bundle reads it: an object whose JSON is a tampered bundle fails both", async () => {
    const tampered = structuredClone(bundle);
    tampered.event.tool_args.amount = 7000;
    // In memory the genuine fields; serialised (what the CLI would read) the tampered ones.
    const twoFaced = { ...structuredClone(bundle), toJSON: () => tampered };
    const out = await cli(twoFaced, `two-faced-${engine}`);
    expect(out.code, out.stderr).toBe(1);
    const report = await cs.verifyBundle(twoFaced, { jwks });
    expect(report.ok).toBe(false);
    expect(failed(report)).toEqual(failed(out.report));
    // No JSON form at all: a failed report, never a throw.
    const big = { ...structuredClone(bundle), extra: 1n };
    expect(verifyBundleWith(big, { jwks })).toMatchObject({ ok: false, checks: [expect.objectContaining({ name: "shape", ok: false })] });
    // A bundle whose own keys are unusable: the CLI refuses it (exit 2), the SDK fails it.
    const keyless = structuredClone(bundle);
    for (const k of Object.keys(keyless)) if (/key|jwks/i.test(k)) delete keyless[k];
    expect((await cs.verifyBundle(keyless, { bundleKeys: true })).ok).toBe(false);
  });
});

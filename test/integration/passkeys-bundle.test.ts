import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pureLedgerCrypto, withLedgerCrypto } from "../../src/ledger/core/crypto.js";
import { trustedKeysFromBundle, verifyProofBundle, type BundleReport } from "../../src/ledger/verify/bundle-verifier.js";
import { verifyBundleWith } from "../../src/sdk/index.js";
import { runCli } from "../helpers/ledger-fixture.js";
import { SoftwareAuthenticator } from "../helpers/software-authenticator.js";
import { call, newDatabase, newKey, refundPolicy, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

/**
 * The offline half of passkey-signed approvals (docs/passkeys.md): a request approved by two
 * passkey-signed votes proves, from its bundle alone, who signed what (each assertion checked against
 * the public key its proven passkey.enrolled event committed, and the commitment recomputed), in the
 * verifier, the SDK and the real `countersign verify-bundle`; and a bundle with the enrolled key, an
 * assertion or the enrolments changed fails.
 */
type Bundle = Record<string, any>;
const ORIGIN = "http://localhost:8080";

describe.each<Engine>(["postgres", "pglite"])("passkey approvals in a proof bundle on %s", (engine) => {
  let db: TestDatabase;
  let v: TestVault;
  let dir: string;
  let bundle: Bundle;
  let claims: { approvals: { credential_id: string; assertion_digest: string }[] };
  const reviewers: Record<string, { reviewer_id: string; api_key: string; auth: SoftwareAuthenticator }> = {};

  const verify = (b: Bundle) => verifyProofBundle(b, trustedKeysFromBundle(b));
  const failed = (r: BundleReport) => r.checks.filter((c) => !c.ok).map((c) => c.name);
  const copy = (): Bundle => JSON.parse(JSON.stringify(bundle));

  beforeAll(async () => {
    db = newDatabase(engine);
    v = await startTestVault(db, { env: { VAULT_WEBAUTHN_RP_ID: "localhost", VAULT_WEBAUTHN_ORIGINS: ORIGIN, VAULT_CEL_TIMEOUT_MS: "2000" } });
    dir = mkdtempSync(path.join(os.tmpdir(), "cs-passkey-bundles-"));
    const agent = await newKey(v, "agent");
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy })).status).toBe(200);
    expect((await call(v.url, "PUT", "/review-settings", { key: v.adminKey, body: { minimum_confidence_bucket: "high", approvals_required: 2, require_passkey: true } })).status).toBe(200);
    for (const [name, alg] of [["ana", -7], ["bo", -8]] as const) {
      const r = (await call(v.url, "POST", "/reviewers", { key: v.adminKey, body: { name, email: `${name}@example.com` } })).body;
      const auth = new SoftwareAuthenticator(ORIGIN, { alg });
      const options = (await call(v.url, "POST", "/passkeys/registration-options", { key: r.api_key, body: {} })).body;
      expect((await call(v.url, "POST", "/passkeys/register", { key: r.api_key, body: { response: auth.register(options) } })).status).toBe(201);
      reviewers[name] = { ...r, auth };
    }
    const req = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 700, order_id: "p-1" }, agent_id: "agent-p" } });
    const id = req.body.request_id as string;
    for (const name of ["ana", "bo"]) {
      const r = reviewers[name]!;
      const options = (await call(v.url, "POST", `/reviews/${id}/passkey-options`, { key: r.api_key, body: {} })).body;
      const voted = await call(v.url, "POST", `/reviews/${id}/decision`, { key: r.api_key, body: { approved: true, review_reason: `${name} checked`, passkey: r.auth.assert(options) } });
      expect(voted.status, JSON.stringify(voted.body)).toBe(200);
    }
    const poll = await call(v.url, "GET", `/clearance-status/${id}`, { key: agent });
    claims = JSON.parse(Buffer.from(String(poll.body.token).split(".")[1]!, "base64url").toString("utf8"));
    await v.vault.ctx.ledgerLoop.drain();
    const res = await call(v.url, "GET", `/ledger/proof/bundle?request_id=${id}`, { key: agent });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    bundle = res.body;
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("carries both enrolments and verifies both signatures offline, matching the token's approvals", () => {
    expect(bundle.event.event_type).toBe("review.approved");
    expect(bundle.passkey_enrolments).toHaveLength(2);
    const report = verify(bundle);
    expect(failed(report)).toEqual([]);
    expect(report.checks.find((c) => c.name === "passkey approvals")).toMatchObject({ ok: true, detail: expect.stringMatching(/^2 passkey signatures verified/) });
    expect(report.checks.filter((c) => c.name.startsWith("passkey enrolment 2:")).length).toBeGreaterThan(4);
    expect(report.approvals).toEqual([
      expect.objectContaining({ reviewer_id: reviewers.ana!.reviewer_id, verified: true, origin: ORIGIN }),
      expect.objectContaining({ reviewer_id: reviewers.bo!.reviewer_id, verified: true, origin: ORIGIN }),
    ]);
    // Each signature once, whichever events carry it (ana's vote event and the approval's).
    expect(report.approvals![0]!.event_uuids).toHaveLength(2);
    expect(report.approvals!.map((a) => ({ credential_id: a.credential_id, assertion_digest: a.assertion_digest }))).toEqual(claims.approvals);
    // The plain-JavaScript crypto of an edge runtime agrees, and so does the SDK.
    expect(withLedgerCrypto(pureLedgerCrypto, () => verify(bundle)).checks).toEqual(report.checks);
    expect(verifyBundleWith(bundle, { bundleKeys: true }).approvals).toEqual(report.approvals);
  });

  it("countersign verify-bundle prints who signed", async () => {
    const file = path.join(dir, "genuine.json");
    writeFileSync(file, JSON.stringify(bundle));
    const out = await runCli(["verify-bundle", file]);
    expect(out.code, out.stderr + out.stdout).toBe(0);
    expect(out.stdout).toContain(`passkey approval: credential ${claims.approvals[0]!.credential_id} of reviewer ${reviewers.ana!.reviewer_id}: verified (origin ${ORIGIN}`);
    expect(out.stdout).toMatch(/ok {3}passkey approvals \(2 passkey signatures verified/);
  });

  it("docs/passkeys.md's hand-written check recomputes every challenge from the bundle alone", async () => {
    const page = readFileSync(path.join(process.cwd(), "docs/passkeys.md"), "utf8");
    const program = /```js\n([\s\S]*?)```/.exec(page.slice(page.indexOf("### Recompute a challenge by hand")))?.[1];
    expect(program).toBeDefined();
    const script = path.join(dir, "check-passkey-challenges.mjs");
    writeFileSync(script, program!);
    const run = (b: Bundle, name: string) => {
      const file = path.join(dir, `${name}.json`);
      writeFileSync(file, JSON.stringify(b));
      return new Promise<string>((resolve, reject) => execFile(process.execPath, [script, file], (err, stdout) => (err ? reject(err) : resolve(String(stdout)))));
    };
    const lines = (await run(bundle, "by-hand")).trim().split("\n");
    expect(lines).toHaveLength(3); // two in review.approved, ana's in her review.vote
    for (const line of lines) expect(line).toMatch(/^review\.(approved|vote) \S+: challenge matches the commitment$/);
    const moved = copy();
    moved.event.evidence_chunks.find((c: { type: string }) => c.type === "passkey").argshash = "0".repeat(64);
    expect(await run(moved, "by-hand-moved")).toMatch(/DOES NOT MATCH/);
  });

  it("fails when the enrolled public key is swapped for another", () => {
    const forged = copy();
    const enrolment = forged.passkey_enrolments[0].event;
    const key = Buffer.from(enrolment.tool_args.publickey, "base64url");
    key[key.length - 3] = key[key.length - 3]! ^ 0x01;
    enrolment.tool_args.publickey = key.toString("base64url");
    const report = verify(forged);
    expect(report.ok).toBe(false);
    expect(failed(report)).toEqual(expect.arrayContaining(["passkey enrolment 1: event hash", "passkey approvals"]));
    expect(report.approvals!.filter((a) => !a.verified)).toHaveLength(1);
    expect(verifyBundleWith(forged, { bundleKeys: true }).ok).toBe(false);
  });

  it("fails when an assertion's signature, the enrolments or their proofs are changed", () => {
    const sig = copy();
    const chunk = sig.event.evidence_chunks.find((c: { type: string }) => c.type === "passkey");
    const bytes = Buffer.from(chunk.signature, "base64url");
    bytes[10] = bytes[10]! ^ 0x01;
    chunk.signature = bytes.toString("base64url");
    expect(failed(verify(sig))).toEqual(expect.arrayContaining(["event hash", "passkey approvals"]));

    const none = copy();
    delete none.passkey_enrolments;
    const gone = verify(none);
    expect(failed(gone)).toEqual(["passkey approvals"]);
    expect(gone.approvals!.every((a) => a.problems!.some((p) => /not in the bundle/.test(p)))).toBe(true);

    // One reviewer's enrolment offered for the other's signature.
    const swapped = copy();
    swapped.passkey_enrolments[1] = swapped.passkey_enrolments[0];
    expect(failed(verify(swapped))).toContain("passkey approvals");

    const moved = copy();
    moved.passkey_enrolments[0].inclusion.leaf_index += 1;
    expect(failed(verify(moved))).toEqual(expect.arrayContaining(["passkey enrolment 1: inclusion proof", "passkey approvals"]));
  });

  it("never throws on a hostile passkey part", () => {
    for (const hostile of [[{}], "x", [{ event: bundle.event, inclusion: { ...bundle.inclusion, path: ["zz"] } }], new Array(101).fill(bundle.passkey_enrolments[0])]) {
      const b = { ...copy(), passkey_enrolments: hostile };
      const report = verify(b);
      expect(report.ok).toBe(false);
    }
    const weird = copy();
    const chunk = weird.event.evidence_chunks.find((c: { type: string }) => c.type === "passkey");
    Object.assign(chunk, { authenticator: "!!", client: "", signature: "A", grant: { scope: 1 } });
    expect(verify(weird).ok).toBe(false);
  });

  it("the enrolment's own bundle proves the key", async () => {
    const [passkey] = (await call(v.url, "GET", "/passkeys", { key: reviewers.ana!.api_key })).body.passkeys;
    const res = await call(v.url, "GET", `/ledger/proof/bundle?request_id=${passkey.id}`, { key: v.adminKey });
    expect(res.status).toBe(200);
    expect(res.body.event).toMatchObject({ event_type: "vault.audit", tool_name: "audit:passkey.enrolled", request_id: passkey.id });
    expect(res.body.event.tool_args).toMatchObject({ reviewer: reviewers.ana!.reviewer_id, credential: passkey.credential_id, alg: -7, rpid: "localhost" });
    expect(failed(verify(res.body))).toEqual([]);
  });
});

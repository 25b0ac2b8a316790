/**
 * What an auditor checks of the production topology's ledger from outside the vaults: the checkpoint
 * anchored in the S3 bucket (its C2SP signature, against the ledger key the JWKS publishes), a proof
 * bundle (the repository's offline verifier), and `countersign ledger fsck` run as an operator runs it.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { parseVerifierKey } from "../../src/ledger/core/signed-note.js";
import { openCheckpoint } from "../../src/ledger/core/tlog-checkpoint.js";
import { trustedKeysFromJwks, verifyProofBundle, type BundleCheck } from "../../src/ledger/verify/bundle-verifier.js";
import { runCli, type CliResult } from "./ledger-fixture.js";
import { call } from "./vault.js";

export interface AnchoredCheckpoint {
  size: number;
  rootHex: string;
  origin: string;
  signedBy: string[];
}

/** Polls `read` (the bucket's checkpoint object) until it covers `size` leaves or `ms` pass; returns the last note read. */
export async function waitForAnchoredNote(read: () => Promise<string | undefined>, size: number, ms: number): Promise<string | undefined> {
  const deadline = Date.now() + ms;
  for (;;) {
    const note = await read();
    // A checkpoint note: origin, tree size, root hash, a blank line, signatures.
    if ((note && Number(note.split("\n")[1]) >= size) || Date.now() > deadline) return note;
    await sleep(250);
  }
}

/**
 * Opens the anchored note with the vault's checkpoint key, after checking that key is the ledger key the
 * JWKS publishes (a key only the vault vouches for would prove nothing). Throws when anything differs.
 */
export async function verifyAnchoredNote(vaultUrl: string, key: string, note: string, ledgerKid: string): Promise<AnchoredCheckpoint> {
  const verifier = parseVerifierKey((await call(vaultUrl, "GET", "/ledger/checkpoint-key", { key })).body);
  const jwks = (await call(vaultUrl, "GET", "/.well-known/jwks.json")).body as { keys: { kid: string; x: string }[] };
  const published = jwks.keys.find((k) => k.kid === ledgerKid);
  if (!published) throw new Error(`JWKS has no ${ledgerKid}: ${JSON.stringify(jwks.keys.map((k) => k.kid))}`);
  if (Buffer.from(verifier.publicKey).toString("base64url") !== published.x) throw new Error("the checkpoint key is not the JWKS ledger key");
  const opened = openCheckpoint(note, [verifier], { origin: verifier.name });
  return {
    size: opened.checkpoint.size,
    rootHex: Buffer.from(opened.checkpoint.rootHash).toString("hex"),
    origin: opened.checkpoint.origin,
    signedBy: opened.verifiedBy.map((k) => k.name),
  };
}

/** The proof bundle of one request, verified offline against the JWKS; returns the failed checks (none expected). */
export async function verifyRequestBundle(vaultUrl: string, key: string, requestId: string): Promise<{ failed: BundleCheck[]; names: string[]; treeSize: number }> {
  const bundle = await call(vaultUrl, "GET", `/ledger/proof/bundle?request_id=${requestId}`, { key });
  if (bundle.status !== 200) throw new Error(`proof bundle: ${bundle.status} ${JSON.stringify(bundle.body)}`);
  const jwks = (await call(vaultUrl, "GET", "/.well-known/jwks.json")).body;
  const report = verifyProofBundle(bundle.body, trustedKeysFromJwks(jwks));
  return { failed: report.checks.filter((c) => !c.ok), names: report.checks.map((c) => c.name), treeSize: bundle.body.inclusion.checkpoint.tree_size };
}

/** `countersign ledger fsck --tenant ID --json` in its own process, with the environment an operator's shell would have. */
export async function ledgerFsck(tenantId: string, env: Record<string, string>): Promise<CliResult & { report?: Record<string, any> }> {
  const out = await runCli(["ledger", "fsck", "--tenant", tenantId, "--json"], env);
  let report: Record<string, any> | undefined;
  try {
    report = JSON.parse(out.stdout);
  } catch {
    /* left undefined: the assertion shows stdout and stderr */
  }
  return { ...out, report };
}

import { Command } from "commander";
import { UsageError } from "../cli-errors.js";
import { withExamples } from "../help.js";

/** `countersign verify-bundle`: fully offline (no configuration, no database, no vault). */
export function verifyBundleCommand(): Command {
  const command = new Command("verify-bundle")
    .summary("verify a proof bundle offline")
    .description(
      "Verify a proof bundle (GET /ledger/proof/bundle) offline. Exit 0 when every check passes, 1 when one fails, " +
        "2 for a usage or input error (an unreadable file, not JSON, unusable keys). Without --jwks or --key the bundle's own keys are used, which proves consistency, not origin.",
    )
    .argument("<file>", 'the bundle file, or "-" for stdin')
    .option("--jwks <file>", "a JWKS file obtained independently of the bundle")
    .option("--key <key>", "one trusted key: a C2SP verifier key, a raw Ed25519 public key (base64) or a JWK")
    .option("--json", "print the report as JSON")
    .action(async (file: string, opts: { jwks?: string; key?: string; json?: boolean }) => {
      if (opts.jwks !== undefined && opts.key !== undefined) throw new UsageError("verify-bundle: give --jwks or --key, not both");
      const { runVerifyBundle } = await import("../../verify-bundle.js");
      process.exitCode = await runVerifyBundle(file, { jwks: opts.jwks, key: opts.key, json: opts.json ?? false });
    });
  return withExamples(command, [
    "curl -s -H \"X-Vault-API-Key: $KEY\" \"$VAULT/ledger/proof/bundle?request_id=req_...\" > bundle.json",
    "countersign verify-bundle bundle.json --jwks jwks.json",
    "countersign verify-bundle - --key \"$(cat vault.vkey)\" --json < bundle.json",
  ]);
}

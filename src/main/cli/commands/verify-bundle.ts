import { Command, InvalidArgumentError } from "commander";
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
    .option(
      "--witness <key>",
      "a witness you trust, by its cosignature verifier key (<name>+<key id>+<base64>; repeat for each): reports whether it cosigned the checkpoint",
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option("--require-witnesses <n>", "fail unless at least N of the --witness keys cosigned the checkpoint (default 1 with --witness)", requiredCount)
    .option(
      "--origin <origin>",
      "the log you audit, by its origin (the name in GET /ledger/checkpoint-key): cosignatures count only on a checkpoint of this log (default: the name of a C2SP --key)",
    )
    .option("--json", "print the report as JSON")
    .action(async (file: string, opts: { jwks?: string; key?: string; witness: string[]; requireWitnesses?: number; origin?: string; json?: boolean }) => {
      if (opts.jwks !== undefined && opts.key !== undefined) throw new UsageError("verify-bundle: give --jwks or --key, not both");
      const { runVerifyBundle } = await import("../../verify-bundle.js");
      process.exitCode = await runVerifyBundle(file, {
        jwks: opts.jwks,
        key: opts.key,
        witnesses: opts.witness,
        requireWitnesses: opts.requireWitnesses,
        origin: opts.origin,
        json: opts.json ?? false,
      });
    });
  return withExamples(command, [
    "curl -s -H \"X-Vault-API-Key: $KEY\" \"$VAULT/ledger/proof/bundle?request_id=req_...\" > bundle.json",
    "countersign verify-bundle bundle.json --jwks jwks.json",
    "countersign verify-bundle - --key \"$(cat vault.vkey)\" --json < bundle.json",
    "countersign verify-bundle bundle.json --jwks jwks.json --witness \"$(cat w1.vkey)\" --witness \"$(cat w2.vkey)\" --require-witnesses 2 --origin vault.example.com/ledger/acme",
  ]);
}

function requiredCount(value: string): number {
  if (!/^(0|[1-9][0-9]{0,2})$/.test(value)) throw new InvalidArgumentError("a whole number from 0 to 999");
  return Number(value);
}

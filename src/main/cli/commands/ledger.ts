import { Command } from "commander";
import { withAdminContext } from "../vault-session.js";
import { withExamples } from "../help.js";

/** `countersign ledger fsck`: database-direct, it re-derives the ledger from the tenant's own tables. */
export function ledgerCommand(): Command {
  const ledger = new Command("ledger").summary("check a tenant's ledger").description("Check a tenant's transparency ledger");
  const fsck = new Command("fsck")
    .summary("re-derive and check a tenant's ledger")
    .description(
      "Re-derive a tenant's ledger from its events and check every leaf, tile, root, signature and chain link. " +
        "Exit 0 when it re-derives cleanly, 1 when a check fails, 2 for an unknown tenant. Opens the database directly: with the embedded database, stop the vault first.",
    )
    .requiredOption("--tenant <id>", "the tenant whose ledger to check")
    .option("--json", "print the report as JSON")
    .action(async (opts: { tenant: string; json?: boolean }) =>
      withAdminContext(async (ctx) => {
        const { runLedgerFsck } = await import("../../ledger-fsck.js");
        process.exitCode = await runLedgerFsck(ctx, opts.tenant, opts.json ?? false);
      }),
    );
  withExamples(fsck, ["countersign ledger fsck --tenant t_5d2c9e41a07b3f8c6e12", "countersign ledger fsck --tenant t_5d2c9e41a07b3f8c6e12 --json"]);
  ledger.addCommand(fsck);
  return withExamples(ledger, ["countersign ledger fsck --tenant t_5d2c9e41a07b3f8c6e12"]);
}

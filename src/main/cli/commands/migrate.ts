import { Command } from "commander";
import { print } from "../output.js";
import { withAdminContext } from "../vault-session.js";
import { withExamples } from "../help.js";

/** `countersign migrate`: database-direct (there is no HTTP counterpart: the vault migrates at start too). */
export function migrateCommand(): Command {
  const command = new Command("migrate")
    .summary("migrate the control and tenant databases")
    .description(
      "Migrate the control database and every tenant database to this version's schema. Migrations also run at every start, " +
        "so this is only needed to migrate ahead of a deployment. Opens the database directly: with the embedded database, stop the vault first.",
    )
    .option("--json", "print the result as JSON")
    .action(async (opts: { json?: boolean }) =>
      withAdminContext(async (ctx) => {
        const ids = await ctx.tenantDbs.listTenantIds();
        for (const id of ids) await ctx.tenantDbs.get(id);
        print(opts.json, { control: "migrated", tenants: ids.length }, `Migrated the control database and ${ids.length} tenant database(s).`);
      }),
    );
  return withExamples(command, ["countersign migrate", "DATABASE_URL=postgres://vault@db/countersign countersign migrate --json"]);
}

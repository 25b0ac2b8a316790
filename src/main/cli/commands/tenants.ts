import { Command } from "commander";
import { UsageError } from "../cli-errors.js";
import { print } from "../output.js";
import { withAdminContext } from "../vault-session.js";
import { withExamples } from "../help.js";

/**
 * `countersign tenants ...`: database-direct. Tenants have no HTTP API (an API key belongs to one
 * tenant), so these commands open the database, and with the embedded one the vault must be stopped.
 */
export function tenantsCommand(): Command {
  const tenants = new Command("tenants").summary("create and list tenants (database-direct)").description("Create and list tenants (opens the database directly: with the embedded database, stop the vault first)");

  const create = new Command("create")
    .summary("create a tenant and its first admin key")
    .description(
      "Create a tenant with its own database; prints its id and an admin API key (shown once). " +
        "--secret-ref: its database is described by a bundle in AWS Secrets Manager, SECRET or <TENANT_SECRET_PREFIX>/<tenant_id>.",
    )
    .argument("<name>", "the tenant's name")
    .option("--dsn <dsn>", "use this PostgreSQL database instead of creating one; stored sealed, or pass an env:NAME or file:/path reference instead of the DSN")
    .option("--secret-ref [secret]", "read the tenant's database from an AWS Secrets Manager bundle")
    .option("--json", "print the result as JSON")
    .action(async (name: string, opts: { dsn?: string; secretRef?: string | true; json?: boolean }) => {
      if (opts.dsn !== undefined && opts.secretRef !== undefined) throw new UsageError("tenants create: give --dsn or --secret-ref, not both");
      const { createTenant } = await import("../../../tenancy/tenants.js");
      await withAdminContext(async (ctx) => {
        const secretRef = opts.secretRef === undefined ? undefined : { name: opts.secretRef === true ? undefined : opts.secretRef };
        const t = await createTenant(ctx.control, ctx.tenantDbs, { name, dsn: opts.dsn, secretRef });
        // The key is printed even when the bundle is not readable yet: it is shown once, and the tenant stands.
        if (t.databasePending) process.stderr.write(`warning: ${t.databasePending}; the database opens on first use once the bundle is readable\n`);
        print(
          opts.json,
          {
            tenant_id: t.tenantId,
            name: t.name,
            api_key: t.adminKey.apiKey,
            api_key_id: t.adminKey.id,
            scope: "admin",
            ...(t.secretRef ? { secret_ref: t.secretRef, database: t.databasePending ? "pending" : "open" } : {}),
          },
          `tenant_id: ${t.tenantId}\napi_key:   ${t.adminKey.apiKey}   (admin; shown once)${t.secretRef ? `\nsecret:    ${t.secretRef}` : ""}`,
        );
      });
    });
  withExamples(create, ["countersign tenants create acme", "countersign tenants create acme --dsn postgres://acme@db/acme --json", "countersign tenants create acme --secret-ref"]);

  const list = new Command("list")
    .summary("list tenants")
    .description("List tenants: id and name, oldest first")
    .option("--json", "print the result as JSON")
    .action(async (opts: { json?: boolean }) =>
      withAdminContext(async (ctx) => {
        const rows = await ctx.control.query<{ id: string; name: string; created_at: Date }>("SELECT id, name, created_at FROM tenants ORDER BY created_at");
        print(opts.json, { tenants: rows }, rows.map((r) => `${r.id}  ${r.name}`).join("\n") || "(no tenants)");
      }),
    );
  withExamples(list, ["countersign tenants list", "countersign tenants list --json"]);

  tenants.addCommand(create).addCommand(list);
  return withExamples(tenants, ["countersign tenants create acme", "countersign tenants list"]);
}

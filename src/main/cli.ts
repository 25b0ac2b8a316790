#!/usr/bin/env node
import { parseArgs } from "node:util";
import { ConfigError } from "../config/config.js";
import { loadStartupConfig } from "../config/secret-bundle.js";
import { SecretUnresolvedError } from "../config/secrets-provider.js";
import { openAdminContext, type AdminContext } from "./context.js";
import { DirectoryInUseError } from "../db/pglite-database.js";
import { AppError } from "../errors.js";
import { AnchorConfigError } from "../ledger/anchor/anchor-store.js";
import { createApiKey, listApiKeys, revokeApiKey, scopes, type Scope } from "../tenancy/api-keys.js";
import { createReviewer, disableReviewer, listReviewers } from "../tenancy/reviewers.js";
import { createTenant } from "../tenancy/tenants.js";
import { KeyConflictError } from "../tokens/key-registry.js";
import { SignerKeyError } from "../tokens/signer.js";
import { runLedgerFsck } from "./ledger-fsck.js";
import { reembed } from "./reembed.js";
import { runVerifyBundle } from "./verify-bundle.js";
import { runJudge } from "./judge.js";
import { startVault } from "./serve.js";
import { exitOnSignals } from "./shutdown.js";
import { PortInUseError } from "../http/early-listener.js";
import { UnsafeDirectoryError } from "../private-files.js";

const usage = `countersign <command>

  serve                                     start the vault (default: embedded PGlite in ./data)
  judge                                     start the judge service (needs DATABASE_URL and JUDGE_API_KEY)
  policies reembed [--tenant ID] [--json]   re-embed policy chunks made with another EMBEDDING_MODEL
  migrate                                   migrate the control database and every tenant database
  ledger fsck --tenant ID [--json]          re-derive a tenant's ledger from its events and check every
                                            leaf, tile, root, signature and chain link
  verify-bundle FILE [--jwks FILE | --key KEY] [--json]
                                            verify a proof bundle offline (FILE "-" = stdin); KEY is a
                                            C2SP verifier key, a raw Ed25519 public key or a JWK
  tenants create NAME [--dsn DSN | --secret-ref [SECRET]] [--json]
                                            create a tenant; prints its id and an admin api_key (once).
                                            --secret-ref: its database is described by a bundle in AWS
                                            Secrets Manager, SECRET or <TENANT_SECRET_PREFIX>/<tenant_id>
  tenants list [--json]
  keys create --tenant ID --scope agent|reviewer|admin [--label TEXT] [--json]
  keys revoke KEY_ID
  keys list --tenant ID [--json]
  reviewers add --tenant ID --name NAME --email EMAIL [--groups a,b] [--json]
                                            add a reviewer; prints its reviewer key (once)
  reviewers list --tenant ID [--json]
  reviewers disable REVIEWER_ID --tenant ID  stop a reviewer's keys and console sessions (votes stay)

Configuration comes from environment variables; see docs/configuration.md.`;

function fail(message: string, code = 1): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

async function withContext<T>(fn: (ctx: AdminContext) => Promise<T>): Promise<T> {
  const ctx = await openAdminContext(await loadStartupConfig());
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}

function print(json: boolean, value: object, text: string) {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
}

async function serve() {
  const config = await loadStartupConfig();
  const vault = await startVault(config);
  vault.ctx.log.info({ url: vault.url }, "countersign vault listening");
  exitOnSignals({ graceMs: config.shutdown.graceMs, log: vault.ctx.log, close: () => vault.close() });
}

async function main(argv: string[]) {
  const { values, positionals } = parseArgs({
    // `--secret-ref` may come without a value (the default name): parseArgs knows no optional values.
    args: argv.map((a, i) => (a === "--secret-ref" && (i === argv.length - 1 || argv[i + 1]!.startsWith("-")) ? "--secret-ref=" : a)),
    allowPositionals: true,
    options: {
      json: { type: "boolean", default: false },
      tenant: { type: "string" },
      scope: { type: "string" },
      label: { type: "string" },
      dsn: { type: "string" },
      "secret-ref": { type: "string" },
      jwks: { type: "string" },
      name: { type: "string" },
      email: { type: "string" },
      groups: { type: "string" },
      key: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const [command, sub, arg] = positionals;
  if (values.help || !command) return print(false, {}, usage);
  const json = values.json ?? false;
  // verify-bundle runs fully offline: no configuration, no database.
  if (command === "verify-bundle") {
    // Exit 2 is a usage or input error; 1 means the bundle failed verification.
    if (!sub || positionals.length > 2) fail("usage: countersign verify-bundle FILE [--jwks FILE | --key KEY] [--json]", 2);
    if (values.jwks && values.key) fail("verify-bundle: give --jwks or --key, not both", 2);
    process.exitCode = await runVerifyBundle(sub, { jwks: values.jwks, key: values.key, json });
    return;
  }
  switch (`${command} ${sub ?? ""}`.trim()) {
    case "serve":
      return serve();
    case "judge":
      return runJudge(await loadStartupConfig());
    case "policies reembed":
      return withContext((ctx) => reembed(ctx, values.tenant, json));
    case "ledger fsck":
      if (!values.tenant) fail("usage: countersign ledger fsck --tenant ID [--json]", 2);
      return withContext(async (ctx) => {
        process.exitCode = await runLedgerFsck(ctx, values.tenant!, json);
      });
    case "migrate":
      return withContext(async (ctx) => {
        const ids = await ctx.tenantDbs.listTenantIds();
        for (const id of ids) await ctx.tenantDbs.get(id);
        print(json, { control: "migrated", tenants: ids.length }, `Migrated the control database and ${ids.length} tenant database(s).`);
      });
    case "tenants create":
      if (!arg) fail("usage: countersign tenants create NAME [--dsn DSN | --secret-ref [SECRET]] [--json]");
      if (values.dsn !== undefined && values["secret-ref"] !== undefined) fail("tenants create: give --dsn or --secret-ref, not both", 2);
      return withContext(async (ctx) => {
        const secretRef = values["secret-ref"] === undefined ? undefined : { name: values["secret-ref"] || undefined };
        const t = await createTenant(ctx.control, ctx.tenantDbs, { name: arg, dsn: values.dsn, secretRef });
        // The key is printed even when the bundle is not readable yet: it is shown once, and the tenant stands.
        if (t.databasePending) process.stderr.write(`warning: ${t.databasePending}; the database opens on first use once the bundle is readable\n`);
        print(
          json,
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
    case "tenants list":
      return withContext(async (ctx) => {
        const rows = await ctx.control.query<{ id: string; name: string; created_at: Date }>("SELECT id, name, created_at FROM tenants ORDER BY created_at");
        print(json, { tenants: rows }, rows.map((r) => `${r.id}  ${r.name}`).join("\n") || "(no tenants)");
      });
    case "keys create": {
      const scope = values.scope as Scope;
      if (!values.tenant || !scopes.includes(scope)) fail("usage: countersign keys create --tenant ID --scope agent|reviewer|admin [--json]");
      return withContext(async (ctx) => {
        const exists = await ctx.control.query("SELECT 1 FROM tenants WHERE id = $1", [values.tenant]);
        if (exists.length === 0) fail(`no tenant ${values.tenant}`);
        const key = await createApiKey(ctx.control, { tenantId: values.tenant!, scope, label: values.label });
        print(json, { api_key_id: key.id, tenant_id: key.tenantId, scope, api_key: key.apiKey }, `api_key_id: ${key.id}\napi_key:    ${key.apiKey}   (${scope}; shown once)`);
      });
    }
    case "reviewers add": {
      const { tenant, name, email } = values;
      if (!tenant || !name || !email) fail("usage: countersign reviewers add --tenant ID --name NAME --email EMAIL [--groups a,b] [--json]", 2);
      const groups = (values.groups ?? "").split(",").map((g) => g.trim()).filter(Boolean);
      return withContext(async (ctx) => {
        const exists = await ctx.control.query("SELECT 1 FROM tenants WHERE id = $1", [tenant]);
        if (exists.length === 0) fail(`no tenant ${tenant}`);
        const r = await createReviewer(ctx.control, { tenantId: tenant!, name: name!, email: email!, groups });
        print(
          json,
          { reviewer_id: r.id, name: r.name, email: r.email, groups: r.groups, api_key: r.api_key, api_key_id: r.api_key_id },
          `reviewer_id: ${r.id}\napi_key:     ${r.api_key}   (reviewer ${r.name}; shown once)`,
        );
      });
    }
    case "reviewers list":
      if (!values.tenant) fail("usage: countersign reviewers list --tenant ID [--json]", 2);
      return withContext(async (ctx) => {
        const rows = await listReviewers(ctx.control, values.tenant!);
        print(json, { reviewers: rows }, rows.map((r) => `${r.id}  ${r.name} <${r.email}>  ${r.groups.join(",")}${r.disabled_at ? "  disabled" : ""}`).join("\n") || "(no reviewers)");
      });
    case "reviewers disable":
      if (!arg || !values.tenant) fail("usage: countersign reviewers disable REVIEWER_ID --tenant ID", 2);
      return withContext(async (ctx) => {
        if (!(await disableReviewer(ctx.control, values.tenant!, arg))) fail(`no active reviewer ${arg} in tenant ${values.tenant}`);
        print(json, { reviewer_id: arg, disabled: true }, `disabled ${arg}`);
      });
    case "keys revoke":
      if (!arg) fail("usage: countersign keys revoke KEY_ID");
      return withContext(async (ctx) => {
        const done = await revokeApiKey(ctx.control, arg);
        if (!done) fail(`no active key ${arg}`);
        print(json, { revoked: arg }, `revoked ${arg}`);
      });
    case "keys list":
      if (!values.tenant) fail("usage: countersign keys list --tenant ID");
      return withContext(async (ctx) => {
        const keys = await listApiKeys(ctx.control, values.tenant!);
        print(json, { keys }, keys.map((k) => `${k.id}  ${k.scope.padEnd(8)} ${k.key_prefix}…  ${k.revoked_at ? "revoked" : "active"}  ${k.label}`).join("\n"));
      });
    default:
      fail(`unknown command: ${positionals.join(" ")}\n\n${usage}`);
  }
}

main(process.argv.slice(2)).catch((err) => {
  if (
    err instanceof ConfigError ||
    err instanceof SecretUnresolvedError ||
    err instanceof SignerKeyError ||
    err instanceof KeyConflictError ||
    err instanceof DirectoryInUseError ||
    err instanceof AnchorConfigError ||
    err instanceof PortInUseError ||
    err instanceof UnsafeDirectoryError
  ) {
    fail(err.message);
  }
  if (err instanceof AppError) fail(err.message);
  process.stderr.write(`countersign: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

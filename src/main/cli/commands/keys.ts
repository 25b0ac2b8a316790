import { Command, Option } from "commander";
import { scopes } from "../../../tenancy/api-keys.js";
import { CommandError } from "../cli-errors.js";
import { print, terminalSafe } from "../output.js";
import { withVault } from "../vault-session.js";
import { TENANT_OPTION_TEXT, vaultOptionsOf } from "../vault-options.js";
import { withExamples } from "../help.js";

interface CreatedKey { api_key_id: string; tenant_id: string; scope: string; label: string; key_prefix: string; created_at: string; api_key: string }
interface ListedKey { api_key_id: string; scope: string; label: string; key_prefix: string; created_at: string; revoked_at: string | null }

const WHERE = "Talks to the running vault (--url/--api-key, COUNTERSIGN_URL/COUNTERSIGN_API_KEY, or one on 127.0.0.1:VAULT_PORT), else to the database directly.";

/** `countersign keys ...`: through the vault's /keys API (src/http/routes/keys.ts), so it works while the vault runs. */
export function keysCommand(): Command {
  const keys = new Command("keys").summary("create, list and revoke API keys").description(`Create, list and revoke a tenant's API keys. ${WHERE}`);

  const create = new Command("create")
    .summary("create an API key (shown once)")
    .description("Create an agent, reviewer or admin API key; prints the raw key once (only its hash is stored)")
    .addOption(new Option("--scope <scope>", "what the key may do").choices(scopes).makeOptionMandatory())
    .option("--label <text>", "a note to tell keys apart in listings")
    .option("--tenant <id>", TENANT_OPTION_TEXT)
    .option("--json", "print the result as JSON")
    .action(async (opts: { scope: string; label?: string; json?: boolean }, command: Command) =>
      withVault(vaultOptionsOf(command), async (vault) => {
        const key = await vault.request<CreatedKey>("POST", "/keys", { body: { scope: opts.scope, ...(opts.label !== undefined ? { label: opts.label } : {}) } });
        print(opts.json, key, `api_key_id: ${key.api_key_id}\napi_key:    ${key.api_key}   (${key.scope}; shown once)`);
      }),
    );
  withExamples(create, [
    "countersign keys create --scope agent --label billing-agent",
    "COUNTERSIGN_URL=http://127.0.0.1:8000 COUNTERSIGN_API_KEY=csk_... countersign keys create --scope reviewer --json",
    "countersign keys create --tenant t_5d2c9e41a07b3f8c6e12 --scope admin   # no vault running",
  ]);

  const list = new Command("list")
    .summary("list the tenant's keys")
    .description(
      "List the tenant's keys (active and revoked) with their 8-character prefixes; never a raw key or a hash. " +
        'Each command run with no vault (over the database) leaves its temporary admin key in the list, revoked, labelled "countersign CLI session (temporary)".',
    )
    .option("--tenant <id>", TENANT_OPTION_TEXT)
    .option("--json", "print the result as JSON")
    .action(async (opts: { json?: boolean }, command: Command) =>
      withVault(vaultOptionsOf(command), async (vault) => {
        const listed = await vault.request<{ keys: ListedKey[] }>("GET", "/keys");
        // A local session's own temporary key is an artefact of this command, not one of the tenant's keys.
        const rows = listed.keys.filter((k) => k.api_key_id !== vault.sessionKeyId);
        print(
          opts.json,
          { keys: rows },
          rows.map((k) => `${k.api_key_id}  ${k.scope.padEnd(8)} ${k.key_prefix}…  ${k.revoked_at ? "revoked" : "active "}  ${terminalSafe(k.label)}`.trimEnd()).join("\n") || "(no keys)",
        );
      }),
    );
  withExamples(list, ["countersign keys list", "countersign keys list --json --url https://vault.example.com --api-key csk_..."]);

  const revoke = new Command("revoke")
    .summary("revoke a key")
    .description("Revoke a key: refused at once by the vault that revoked it, by other vault processes within VAULT_API_KEY_CACHE_TTL_MS. The tenant's last active admin key cannot be revoked.")
    .argument("<key_id>", "the key's id (api_key_id, key_...)")
    .option("--tenant <id>", TENANT_OPTION_TEXT)
    .option("--json", "print the result as JSON")
    .action(async (keyId: string, opts: { json?: boolean }, command: Command) =>
      withVault(vaultOptionsOf(command), async (vault) => {
        const done = await vault.request<{ api_key_id: string; revoked: true }>("DELETE", `/keys/${encodeURIComponent(keyId)}`);
        print(opts.json, done, `revoked ${done.api_key_id}`);
      }),
    );
  withExamples(revoke, ["countersign keys revoke key_3f9a1c0d5b7e2a64"]);

  const rotate = new Command("rotate")
    .summary("rotate the tenant's token signing key")
    .description(
      "Publish the next generation of the tenant's token key (kid <VAULT_KEY_ID>.<tenant>.<n>) and retire the current one: new tokens " +
        "carry the new kid, issued tokens keep verifying, and the old key stays in the JWKS until they have expired. Not available with " +
        "VAULT_SIGNER_BACKEND=aws_kms (every tenant's tokens are signed by the KMS key there). With no vault answering it runs over the " +
        "database only if this machine's VAULT_KEY_ID is the one the tenant's current key derives from (else exit 1: a rotation under " +
        "another key would change nothing the running vault signs with).",
    )
    .option("--tenant <id>", TENANT_OPTION_TEXT)
    .option("--json", "print the result as JSON")
    .action(async (opts: { tenant?: string; json?: boolean }, command: Command) =>
      withVault(vaultOptionsOf(command), async (vault) => {
        // The key names the tenant when no --tenant is given.
        const tenantId = opts.tenant ?? (await vault.request<{ tenant_id: string }>("GET", "/console/session")).tenant_id;
        if (vault.sessionKeyId !== undefined) await refuseForeignOfflineRotation(vault, tenantId);
        const done = await vault.request<{ tenant_id: string; kid: string; previous_kid: string | null }>("POST", `/tenants/${encodeURIComponent(tenantId)}/keys/rotate`);
        print(opts.json, done, `rotated ${done.tenant_id}: new tokens are signed by ${done.kid}${done.previous_kid ? ` (${done.previous_kid} retired)` : ""}`);
      }),
    );
  withExamples(rotate, ["countersign keys rotate --tenant t_5d2c9e41a07b3f8c6e12", "countersign keys rotate --json --url https://vault.example.com --api-key csk_..."]);

  keys.addCommand(create).addCommand(list).addCommand(revoke).addCommand(rotate);
  return withExamples(keys, ["countersign keys create --scope agent", "countersign keys list", "countersign keys revoke key_3f9a1c0d5b7e2a64"]);
}

/**
 * An offline rotation (no vault answered: the vault was built here over the database) derives the next
 * key from this machine's vault key. Unless the tenant's newest key is current under that same key (its
 * key set says `active`), the running vault would never sign with the result: refuse, exit 1.
 */
async function refuseForeignOfflineRotation(vault: { request<T>(method: "GET", path: string): Promise<T> }, tenantId: string): Promise<void> {
  const set = await vault.request<{ keys: { kid: string; status: string; created_at: string }[] }>("GET", `/tenants/${encodeURIComponent(tenantId)}/keys/public`);
  const own = set.keys.filter((k) => k.kid.includes(`.${tenantId}`)).sort((a, b) => b.created_at.localeCompare(a.created_at));
  if (own[0]?.status === "active") return;
  throw new CommandError(
    own.length === 0
      ? `no vault answered, and tenant ${tenantId} has no token key yet: rotate it through the running vault (--url and --api-key), which creates its first key with its first token`
      : `no vault answered, and this machine's VAULT_KEY_ID is not the vault key tenant ${tenantId}'s current token key (${own[0]!.kid}) derives from: ` +
          "a rotation here would change nothing the running vault signs with. Run it against the running vault (--url and --api-key, or COUNTERSIGN_URL/COUNTERSIGN_API_KEY)",
  );
}

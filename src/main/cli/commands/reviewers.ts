import { Command } from "commander";
import { print, terminalSafe } from "../output.js";
import { withVault } from "../vault-session.js";
import { TENANT_OPTION_TEXT, vaultOptionsOf } from "../vault-options.js";
import { withExamples } from "../help.js";

interface Reviewer { id: string; name: string; email: string; groups: string[]; created_at: string; disabled_at: string | null }
interface AddedReviewer { reviewer_id: string; name: string; email: string; groups: string[]; api_key: string; api_key_id: string }

/** `countersign reviewers ...`: through the vault's /reviewers API, so it works while the vault runs. */
export function reviewersCommand(): Command {
  const reviewers = new Command("reviewers").summary("add, list and disable reviewers").description(
    "Add, list and disable the people who review requests. Talks to the running vault (--url/--api-key, COUNTERSIGN_URL/COUNTERSIGN_API_KEY, or one on 127.0.0.1:VAULT_PORT), else to the database directly.",
  );

  const add = new Command("add")
    .summary("add a reviewer (their key is shown once)")
    .description("Add a reviewer; prints their reviewer API key once (for the review console and the API)")
    .requiredOption("--name <name>", "the reviewer's name, shown on their votes")
    .requiredOption("--email <email>", "their email (unique in the tenant; review notifications go there)")
    .option("--groups <a,b>", "comma-separated reviewer groups that policies can require")
    .option("--tenant <id>", TENANT_OPTION_TEXT)
    .option("--json", "print the result as JSON")
    .action(async (opts: { name: string; email: string; groups?: string; json?: boolean }, command: Command) =>
      withVault(vaultOptionsOf(command), async (vault) => {
        const groups = (opts.groups ?? "").split(",").map((g) => g.trim()).filter(Boolean);
        const r = await vault.request<AddedReviewer>("POST", "/reviewers", { body: { name: opts.name, email: opts.email, groups } });
        print(opts.json, r, `reviewer_id: ${r.reviewer_id}\napi_key:     ${r.api_key}   (reviewer ${r.name}; shown once)`);
      }),
    );
  withExamples(add, ['countersign reviewers add --name "Rae Lee" --email rae@example.com --groups finance,ops']);

  const list = new Command("list")
    .summary("list reviewers")
    .description("List the tenant's reviewers, disabled ones too")
    .option("--tenant <id>", TENANT_OPTION_TEXT)
    .option("--json", "print the result as JSON")
    .action(async (opts: { json?: boolean }, command: Command) =>
      withVault(vaultOptionsOf(command), async (vault) => {
        const { reviewers: rows } = await vault.request<{ reviewers: Reviewer[] }>("GET", "/reviewers");
        print(opts.json, { reviewers: rows }, rows.map((r) => `${r.id}  ${terminalSafe(r.name)} <${terminalSafe(r.email)}>  ${terminalSafe(r.groups.join(","))}${r.disabled_at ? "  disabled" : ""}`).join("\n") || "(no reviewers)");
      }),
    );
  withExamples(list, ["countersign reviewers list --json"]);

  const disable = new Command("disable")
    .summary("disable a reviewer")
    .description("Disable a reviewer: their keys and console sessions stop working; their past votes stay")
    .argument("<reviewer_id>", "the reviewer's id (rvw_...)")
    .option("--tenant <id>", TENANT_OPTION_TEXT)
    .option("--json", "print the result as JSON")
    .action(async (reviewerId: string, opts: { json?: boolean }, command: Command) =>
      withVault(vaultOptionsOf(command), async (vault) => {
        const done = await vault.request<{ reviewer_id: string; disabled: true }>("DELETE", `/reviewers/${encodeURIComponent(reviewerId)}`);
        print(opts.json, done, `disabled ${done.reviewer_id}`);
      }),
    );
  withExamples(disable, ["countersign reviewers disable rvw_0b6c3c5e-8d1f-4a57-9a0e-2f4b7d9c1e23"]);

  reviewers.addCommand(add).addCommand(list).addCommand(disable);
  return withExamples(reviewers, ["countersign reviewers add --name Rae --email rae@example.com", "countersign reviewers list"]);
}

import { createInterface } from "node:readline/promises";
import { Command, Option } from "commander";
import { policyFormats, type PolicyFormat } from "../../../policies/policy-diff.js";
import { CommandError, UsageError } from "../cli-errors.js";
import { withExamples } from "../help.js";
import { print } from "../output.js";
import {
  applyPlan,
  diffAction,
  exportAction,
  getAction,
  hasChanges,
  listAction,
  planAction,
  planValue,
  renderPlan,
  retireAction,
  versionsAction,
  type Printed,
} from "../policy-actions.js";
import { policyModeAction, replayAction, tenantModeAction } from "../shadow-actions.js";
import { TENANT_OPTION_TEXT, vaultOptionsOf } from "../vault-options.js";
import { withAdminContext, withVault } from "../vault-session.js";
import type { VaultApi } from "../vault-api.js";

type JsonOpt = { json?: boolean };

/** A version number option: a positive integer, else exit 2. */
function versionNumber(value: string): number {
  if (!/^\d{1,9}$/.test(value) || Number(value) < 1) throw new UsageError(`${value}: a version is a positive integer`);
  return Number(value);
}

function modeArgument(value: string): string {
  if (value !== "enforce" && value !== "shadow") throw new UsageError(`${value}: a mode is enforce or shadow`);
  return value;
}

function replayLimit(value: string): number {
  if (!/^\d{1,6}$/.test(value) || Number(value) < 1 || Number(value) > 100_000) throw new UsageError(`${value}: --limit is 1 to 100000`);
  return Number(value);
}

/** A vault command: runs `action` through withVault and prints its answer. */
function vaultAction<A extends unknown[]>(run: (vault: VaultApi, ...args: A) => Promise<Printed>) {
  return (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const opts = args[args.length - 2] as JsonOpt;
    return withVault(vaultOptionsOf(command), async (vault) => {
      const out = await run(vault, ...(args.slice(0, -1) as A));
      print(opts.json, out.value, out.text);
    });
  };
}

function vaultCommand(name: string, description: string): Command {
  return new Command(name).description(description).option("--tenant <id>", TENANT_OPTION_TEXT).option("--json", "print the result as JSON");
}

/**
 * Asked on a terminal without --yes. Without a terminal (a script, CI) there is nobody to ask, and
 * applying unasked could retire policies (--prune) by surprise: the caller must say --yes.
 */
async function confirmed(): Promise<boolean> {
  if (!process.stdin.isTTY) throw new UsageError("not applied: no terminal to confirm the plan on; pass --yes to apply it, or --dry-run to only plan");
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question("Apply these changes? [y/N] ")).trim());
  } finally {
    rl.close();
  }
}

/** `countersign policies ...`: through the vault's API (reembed alone opens the databases). */
export function policiesCommand(): Command {
  const policies = new Command("policies").description(
    "List, read, diff, retire, apply and export policies. Talks to the running vault (--url/--api-key, COUNTERSIGN_URL/COUNTERSIGN_API_KEY, or one on 127.0.0.1:VAULT_PORT), else to the database directly.",
  );

  const list = vaultCommand("list", "List the current version of each policy")
    .option("--include-retired", "list retired policies too")
    .action(vaultAction((vault, opts: { includeRetired?: boolean }) => listAction(vault, opts.includeRetired ?? false)));
  withExamples(list, ["countersign policies list", "countersign policies list --include-retired --json"]);

  // The version is an argument, not --version: that is the program's own option, recognised after subcommands too.
  const get = vaultCommand("get", "Show a policy's current version (or an older one): conditions, rules, documents, default decision and hash")
    .argument("<policy_id>")
    .argument("[version]", "a version number instead of the current one", versionNumber)
    .action(vaultAction((vault, id: string, version: number | undefined) => getAction(vault, id, version)));
  withExamples(get, ["countersign policies get refund-policy", "countersign policies get refund-policy 2 --json"]);

  const versions = vaultCommand("versions", "List a policy's versions, newest first, with status and content hash")
    .argument("<policy_id>")
    .action(vaultAction((vault, id: string) => versionsAction(vault, id)));
  withExamples(versions, ["countersign policies versions refund-policy"]);

  const diff = vaultCommand("diff", "Show what changed between two versions of a policy (default: the current one and the one before)")
    .argument("<policy_id>")
    .option("--from <n>", "the older version (default: the one before --to)", versionNumber)
    .option("--to <n>", "the newer version (default: the current one)", versionNumber)
    .addOption(new Option("--format <format>", "the text the diff compares").choices(policyFormats).default("yaml"))
    .action(vaultAction((vault, id: string, opts: { from?: number; to?: number; format: PolicyFormat }) => diffAction(vault, id, opts)));
  withExamples(diff, ["countersign policies diff refund-policy", "countersign policies diff refund-policy --from 1 --to 3"]);

  const retire = vaultCommand("retire", "Retire a policy: a new version that applies to nothing; history and hashes stay. Registering it again brings it back")
    .argument("<policy_id>")
    .action(vaultAction((vault, id: string) => retireAction(vault, id)));
  withExamples(retire, ["countersign policies retire old-refund-policy"]);

  const apply = vaultCommand(
    "apply",
    "Apply policy files (YAML or JSON, one policy per file): validate them and compile every condition, show the plan (created, changed with a diff, retired), then apply it",
  )
    .requiredOption("-f, --file <path>", "a policy file, or a directory read recursively for *.yaml, *.yml and *.json")
    .option("--dry-run", "show the plan and stop")
    .option("--prune", "also retire active policies that no file names (never done without it)")
    .option("-y, --yes", "apply without asking (needed without a terminal; on a terminal it asks first)")
    .action(async (opts: { file: string; dryRun?: boolean; prune?: boolean; yes?: boolean; json?: boolean }, command: Command) =>
      withVault(vaultOptionsOf(command), async (vault) => {
        const plan = await planAction(vault, opts.file, { prune: opts.prune ?? false });
        if (!opts.json) print(false, null, renderPlan(plan));
        if (opts.dryRun || !hasChanges(plan)) {
          if (opts.json) print(true, { plan: planValue(plan), applied: [] }, "");
          return;
        }
        if (!opts.yes && !(await confirmed())) throw new CommandError("not applied: the plan was not confirmed");
        const done = await applyPlan(vault, plan);
        print(opts.json, { plan: planValue(plan), ...done.value }, done.text);
      }),
    );
  withExamples(apply, ["countersign policies apply -f policies/ --dry-run", "countersign policies apply -f policies/ --prune --yes", "countersign policies apply -f refund-policy.yaml"]);

  const exportCmd = vaultCommand("export", "Write each active policy to <policy_id>.yaml (or .json) in a directory; `apply` reads them back unchanged")
    .option("-o, --output <dir>", "the directory to write into", ".")
    .addOption(new Option("--format <format>", "file format").choices(policyFormats).default("yaml"))
    .action(vaultAction((vault, opts: { output: string; format: PolicyFormat }) => exportAction(vault, opts.output, opts.format)));
  withExamples(exportCmd, ["countersign policies export -o policies/", "countersign policies export --format json -o policies/"]);

  const reembedCmd = new Command("reembed")
    .description("Re-embed policy chunks made with another EMBEDDING_MODEL, for every tenant or one. Opens the databases directly: with the embedded database, stop the vault first.")
    .option("--tenant <id>", "only this tenant")
    .option("--json", "print the result as JSON")
    .action(async (opts: { tenant?: string; json?: boolean }) => withAdminContext(async (ctx) => {
        // Loaded here: the embedding providers are a heavy import that every other command (and --version) would pay.
        const { reembed } = await import("../../reembed.js");
        return reembed(ctx, opts.tenant, opts.json ?? false);
      }));
  withExamples(reembedCmd, ["countersign policies reembed", "countersign policies reembed --tenant t_5d2c9e41a07b3f8c6e12 --json"]);

  const mode = vaultCommand("mode", "Show a policy's mode, or switch it: shadow (log-only: evaluated and recorded, not enforced) or enforce. Each switch is a ledger event, a webhook and a notification")
    .argument("<policy_id>")
    .argument("[mode]", "enforce or shadow (left out: show the mode)", modeArgument)
    .option("--reason <text>", "why, for the ledger event and the notification")
    .action(vaultAction((vault, id: string, to: string | undefined, opts: { reason?: string }) => policyModeAction(vault, id, to, opts.reason)));
  withExamples(mode, ["countersign policies mode refund-policy", 'countersign policies mode refund-policy shadow --reason "new limits, observe first"', "countersign policies mode refund-policy enforce"]);

  const tenantMode = vaultCommand("tenant-mode", "Show the tenant's mode and the policies in shadow, or set the tenant's mode and its shadow default (the answer when only shadow policies apply)")
    .argument("[mode]", "enforce or shadow (left out: show)", modeArgument)
    .addOption(new Option("--shadow-default <decision>", "approve, review or deny (default: unchanged; a new tenant's is review)").choices(["approve", "review", "deny"]))
    .option("--reason <text>", "why, for the ledger event and the notification")
    .action(vaultAction((vault, to: string | undefined, opts: { shadowDefault?: string; reason?: string }) => tenantModeAction(vault, to, opts)));
  withExamples(tenantMode, ["countersign policies tenant-mode", "countersign policies tenant-mode enforce --shadow-default review"]);

  const replay = vaultCommand("replay", "Replay a candidate version of a policy over the recorded requests: counts by old → new decision and the requests that would change. Writes nothing but an audit event")
    .requiredOption("--policy <policy_id>", "the policy the candidate would replace (or add)")
    .requiredOption("--candidate <file>", "the candidate policy, YAML or JSON, as `apply` reads it")
    .option("--since <window>", 'how far back: a duration ("30d", "12h", "90m") or an ISO 8601 time', "30d")
    .option("--limit <n>", "at most this many recorded requests, newest first (1-100000, default 10000)", replayLimit)
    .option("--with-llm", "also replay the LLM step (calls the model once per request the conditions leave open)")
    .action(vaultAction((vault, opts: { policy: string; candidate: string; since?: string; limit?: number; withLlm?: boolean }) => replayAction(vault, opts)));
  withExamples(replay, ["countersign policies replay --policy refund-policy --candidate refund-policy.yaml", "countersign policies replay --policy refund-policy --candidate next.yaml --since 7d --json"]);

  for (const c of [list, get, versions, diff, retire, apply, exportCmd, reembedCmd, mode, tenantMode, replay]) policies.addCommand(c);
  return withExamples(policies, ["countersign policies list", "countersign policies apply -f policies/ --dry-run", "countersign policies export -o policies/"]);
}

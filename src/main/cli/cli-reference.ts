import type { Command, Help } from "commander";
import { commandPath } from "./program.js";
import { ENVIRONMENT_TEXT, EXIT_CODES_TEXT, examplesOf } from "./help.js";

/**
 * docs/cli.md, generated from the command tree (buildProgram()), so the reference cannot drift from
 * the CLI: every command's usage, description, arguments, options, subcommands and examples, and the
 * exit codes. Deterministic: a fixed help width, no terminal, no environment, no dates.
 */
export function cliReferenceMarkdown(program: Command): string {
  const commands = allCommands(program);
  const out: string[] = [
    "# CLI reference",
    "",
    "<!-- Generated from src/main/cli/program.ts by cliReferenceMarkdown() in src/main/cli/cli-reference.ts: edit the commands, then run `npm run docs`. -->",
    "",
    ...INTRO,
    "",
    "## Contents",
    "",
    "- [How commands reach the vault](#how-commands-reach-the-vault)",
    "- [Exit codes](#exit-codes)",
    ...commands.map((c) => `${"  ".repeat(depth(c))}- [${commandPath(c)}](#${slug(commandPath(c))})`),
    "",
    "## How commands reach the vault",
    "",
    ...HOW_IT_CONNECTS,
    "",
    "```text",
    ENVIRONMENT_TEXT,
    "```",
    "",
    "## Exit codes",
    "",
    "```text",
    EXIT_CODES_TEXT,
    "```",
    "",
    "`verify-bundle` and `ledger fsck` give 1 its own meaning: the bundle or the ledger failed a check. An unexpected error (a bug) also exits 1, with one line; `COUNTERSIGN_DEBUG=1` prints its stack trace.",
    "",
  ];
  for (const command of commands) out.push(...section(command));
  return `${out.join("\n").trimEnd()}\n`;
}

const INTRO = [
  "`countersign <command>`: in a checkout, `npx countersign <command>` (after `npm ci`, which builds `dist/`); installed with `npm i -g countersign`, `countersign <command>`.",
  "Every command and subcommand answers `--help` with its own usage and examples; `countersign --version` prints the version.",
  "Commands that print data take `--json`. Configuration comes from the same environment variables as the vault ([configuration](configuration.md)).",
];

const HOW_IT_CONNECTS = [
  "`keys`, `reviewers` and `policies` use the vault's HTTP API, so they work while the vault runs (the embedded database, PGlite, allows one process at a time):",
  "",
  "1. with `--url` or `COUNTERSIGN_URL`: that vault, authenticated with `--api-key` or `COUNTERSIGN_API_KEY` (an admin key of the tenant; required);",
  "2. else, when a vault answers `GET /healthz` on `http://127.0.0.1:<VAULT_PORT or 8000>` within 500 ms: that vault (an API key is required: the admin key printed at first start);",
  "3. else the database directly: the vault is built in-process over it (no port, no workers) with the same configuration as `serve`, and the command runs as a temporary admin key of the tenant, revoked when it ends. `--tenant` names the tenant; without it, the only tenant or the one named `default`.",
  "",
  "`tenants`, `migrate` and `ledger fsck` have no HTTP counterpart: they always open the database, so with the embedded database the vault must be stopped first (they say so). With PostgreSQL they run beside the vault.",
];

function allCommands(root: Command): Command[] {
  return [root, ...root.commands.filter(visible).flatMap((c) => allCommands(c))];
}

function visible(command: Command): boolean {
  return command.name() !== "help";
}

function depth(command: Command): number {
  let n = 0;
  for (let c = command.parent; c; c = c.parent) n++;
  return n;
}

/** GitHub's heading anchors for these headings: lower case, spaces to hyphens. */
function slug(heading: string): string {
  return heading.toLowerCase().replace(/[^a-z0-9 -]/g, "").replace(/ /g, "-");
}

function helpFor(command: Command): Help {
  const help = command.createHelp();
  help.prepareContext({ helpWidth: 100, outputHasColors: false, error: false });
  return help;
}

function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function section(command: Command): string[] {
  const help = helpFor(command);
  const out = [`${"#".repeat(Math.min(depth(command) + 2, 4))} ${commandPath(command)}`, "", "```text", help.commandUsage(command), "```", ""];
  const description = help.commandDescription(command);
  if (description) out.push(description, "");
  const args = help.visibleArguments(command);
  if (args.length > 0) out.push("| Argument | Description |", "| --- | --- |", ...args.map((a) => `| \`${cell(help.argumentTerm(a))}\` | ${cell(help.argumentDescription(a))} |`), "");
  const options = help.visibleOptions(command).filter((o) => o.long !== "--help");
  if (options.length > 0) out.push("| Option | Description |", "| --- | --- |", ...options.map((o) => `| \`${cell(help.optionTerm(o))}\` | ${cell(help.optionDescription(o))} |`), "");
  const subcommands = help.visibleCommands(command).filter(visible);
  if (subcommands.length > 0) {
    out.push("| Command | Description |", "| --- | --- |", ...subcommands.map((c) => `| [\`${cell(help.subcommandTerm(c))}\`](#${slug(commandPath(c))}) | ${cell(help.subcommandDescription(c))} |`), "");
  }
  const examples = examplesOf(command);
  if (examples.length > 0) out.push("Examples:", "", "```sh", ...examples, "```", "");
  return out;
}

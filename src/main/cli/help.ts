import type { Command } from "commander";

/** Each command's examples, kept beside its help text so the generated reference (cli-reference.ts) can list them. */
const examplesByCommand = new WeakMap<Command, readonly string[]>();

/** Adds an "Examples:" section to the command's --help, and records the examples for docs/cli.md. */
export function withExamples(command: Command, examples: readonly string[]): Command {
  examplesByCommand.set(command, examples);
  command.addHelpText("after", `\nExamples:\n${examples.map((e) => `  $ ${e}`).join("\n")}`);
  return command;
}

export function examplesOf(command: Command): readonly string[] {
  return examplesByCommand.get(command) ?? [];
}

/** The exit codes every command shares (docs/cli.md); verify-bundle's meanings of 1 and 2 are its own. */
export const EXIT_CODES_TEXT = `Exit codes:
  0  the command succeeded
  1  the command ran and failed (no such key, a vault error, a database that cannot be opened)
  2  it was used wrongly (unknown command or option, a missing argument, a group without its subcommand)`;

export const ENVIRONMENT_TEXT = `Environment:
  COUNTERSIGN_URL       the running vault's URL (same as --url)
  COUNTERSIGN_API_KEY   an admin API key of the tenant (same as --api-key)
  COUNTERSIGN_DEBUG=1   print the stack trace of an unexpected error
  The vault's own settings (DATABASE_URL, VAULT_DATA_DIR, VAULT_PORT...) are in docs/configuration.md.`;

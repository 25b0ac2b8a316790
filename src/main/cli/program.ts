import { Command, Option } from "commander";
import { VERSION } from "../../version.js";
import { judgeCommand, serveCommand } from "./commands/serve.js";
import { migrateCommand } from "./commands/migrate.js";
import { tenantsCommand } from "./commands/tenants.js";
import { keysCommand } from "./commands/keys.js";
import { reviewersCommand } from "./commands/reviewers.js";
import { ledgerCommand } from "./commands/ledger.js";
import { verifyBundleCommand } from "./commands/verify-bundle.js";
import { policiesCommand } from "./commands/policies.js";
import { mcpGatewayCommand } from "./commands/mcp-gateway.js";
import { gatewayCommand } from "./commands/gateway.js";
import { stepauthCommand } from "./commands/stepauth.js";
import { agentsCommand } from "./commands/agents.js";
import { grantsCommand } from "./commands/grants.js";
import { witnessCommand } from "./commands/witness.js";
import { ENVIRONMENT_TEXT, EXIT_CODES_TEXT, withExamples } from "./help.js";

/**
 * The whole command tree. Exported so docs/cli.md is generated from it (cli-reference.ts); it has
 * no side effects until parsed. Commander errors throw (exitOverride) and run.ts maps them to exit 2.
 */
export function buildProgram(): Command {
  const program = new Command("countersign")
    .description("Countersign: a self-hostable approval vault for AI agent actions.")
    .version(VERSION, "-V, --version", "print the version")
    .addOption(new Option("--url <url>", "the running vault to talk to, for keys, reviewers and policies").env("COUNTERSIGN_URL"))
    .addOption(new Option("--api-key <key>", "an admin API key of the tenant, for the running vault").env("COUNTERSIGN_API_KEY"));
  for (const command of [
    serveCommand(),
    judgeCommand(),
    migrateCommand(),
    tenantsCommand(),
    keysCommand(),
    reviewersCommand(),
    policiesCommand(),
    ledgerCommand(),
    verifyBundleCommand(),
    stepauthCommand(),
    agentsCommand(),
    grantsCommand(),
    gatewayCommand(),
    mcpGatewayCommand(),
    witnessCommand(),
  ]) {
    program.addCommand(command);
  }
  withExamples(program, ["countersign serve", "countersign keys create --scope agent", "countersign keys --help"]);
  program.addHelpText("after", `\n${ENVIRONMENT_TEXT}\n\n${EXIT_CODES_TEXT}\n`);
  configureTree(program);
  return program;
}

/**
 * Settings commander does not pass from a parent to a command added with addCommand(): applied to
 * every command, whoever built it (commands/policies.ts included).
 */
function configureTree(command: Command): void {
  command
    .exitOverride()
    .showSuggestionAfterError(true)
    .showHelpAfterError(`(see ${commandPath(command)} --help)`)
    .configureOutput({ outputError: (text, write) => write(`countersign: ${text.replace(/^error: /, "")}`) });
  for (const sub of command.commands) configureTree(sub);
}

export function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

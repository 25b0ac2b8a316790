import { CommanderError } from "commander";
import { cliEnvironment } from "../../config/cli-environment.js";
import { CommandError, EXIT, UsageError } from "./cli-errors.js";
import { buildProgram } from "./program.js";
import { VaultApiError } from "./vault-api.js";

/**
 * Errors that are the user's or the environment's, not a bug: one line, no stack trace. Loaded only
 * when a command failed: their modules (the databases, the AWS SDK) would slow down --help and --version.
 */
async function userErrorTypes(): Promise<(abstract new (...args: never[]) => Error)[]> {
  const [config, secrets, pglite, errors, listener, anchors, privateFiles, keyRegistry, signer] = await Promise.all([
    import("../../config/config.js"),
    import("../../config/secrets-provider.js"),
    import("../../db/pglite-database.js"),
    import("../../errors.js"),
    import("../../http/early-listener.js"),
    import("../../ledger/anchor/anchor-store.js"),
    import("../../private-files.js"),
    import("../../tokens/key-registry.js"),
    import("../../tokens/signer.js"),
  ]);
  return [
    CommandError,
    VaultApiError,
    errors.AppError,
    config.ConfigError,
    secrets.SecretUnresolvedError,
    signer.SignerKeyError,
    keyRegistry.KeyConflictError,
    pglite.DirectoryInUseError,
    anchors.AnchorConfigError,
    listener.PortInUseError,
    privateFiles.UnsafeDirectoryError,
  ];
}

/**
 * Parses and runs one command line. Exit codes (docs/cli.md): 0 ok, 1 failure, 2 usage. A command
 * that keeps running (serve, judge) returns with the process still alive; its signals end it.
 */
export async function runCli(argv: readonly string[]): Promise<void> {
  try {
    await buildProgram().parseAsync([...argv]);
  } catch (err) {
    process.exit(await reportError(err));
  }
}

async function reportError(err: unknown): Promise<number> {
  if (err instanceof CommanderError) {
    // Commander printed the message or the help already.
    if (err.code === "commander.helpDisplayed" || err.code === "commander.version") return EXIT.ok;
    // A group without its subcommand prints the group's help on stderr with exitCode 1; `help` asked for prints it with 0.
    if (err.code === "commander.help") return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    return EXIT.usage;
  }
  // Ctrl-C at a confirmation prompt: the user's choice, not a failure to explain.
  if (err instanceof Error && err.name === "AbortError") {
    process.stderr.write("countersign: cancelled\n");
    return EXIT.failure;
  }
  if (err instanceof UsageError) {
    process.stderr.write(`countersign: ${err.message}\n`);
    return EXIT.usage;
  }
  if ((await userErrorTypes()).some((type) => err instanceof type)) {
    process.stderr.write(`countersign: ${(err as Error).message}\n`);
    return EXIT.failure;
  }
  const { debug } = cliEnvironment();
  const text = err instanceof Error ? (debug ? (err.stack ?? err.message) : err.message) : String(err);
  process.stderr.write(`countersign: ${text}\n${debug ? "" : "(set COUNTERSIGN_DEBUG=1 to see the stack trace)\n"}`);
  return EXIT.failure;
}

import { Command, InvalidArgumentError, Option } from "commander";
import { CommandError } from "../cli-errors.js";
import { print } from "../output.js";
import { withExamples } from "../help.js";

/** "HOST:PORT", "[IPv6]:PORT" or ":PORT" (loopback). */
function listenOption(value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port > 65535) throw new InvalidArgumentError("HOST:PORT, e.g. 127.0.0.1:7380 or 0.0.0.0:7380");
  return { host: m[1] ?? (m[2] || "127.0.0.1"), port };
}

/** The witness's own errors are the operator's to fix: one line, exit 1 (run.ts prints CommandError as is). */
async function asCommandErrors<T>(fn: () => Promise<T>): Promise<T> {
  const [{ WitnessKeyError }, { WitnessLogError }, { WitnessStateError }, { WitnessConfigError }, { ConfigError }] = await Promise.all([
    import("../../../witness/witness-key.js"),
    import("../../../witness/witness-logs.js"),
    import("../../../witness/witness-state.js"),
    import("../../../witness/start.js"),
    import("../../../config/config-error.js"),
  ]);
  try {
    return await fn();
  } catch (err) {
    if ([WitnessKeyError, WitnessLogError, WitnessStateError, WitnessConfigError, ConfigError].some((type) => err instanceof type)) throw new CommandError((err as Error).message);
    if ((err as NodeJS.ErrnoException).code === "EADDRINUSE") throw new CommandError(`the address is in use (${(err as Error).message})`);
    throw err;
  }
}

/** `countersign witness ...`: a C2SP tlog-witness for other organisations' logs (docs/witness.md). */
export function witnessCommand(): Command {
  const witness = new Command("witness")
    .summary("run a C2SP tlog-witness that cosigns other logs' checkpoints")
    .description(
      "A witness keeps the latest checkpoint it verified for each log it is told to trust, checks every new one against it with an RFC 6962 " +
        "consistency proof, and returns a timestamped Ed25519 cosignature (C2SP tlog-witness, tlog-cosignature). See docs/witness.md.",
    );

  const keygen = new Command("keygen")
    .summary("create a witness key file and print its verifier key")
    .description("Generate an Ed25519 cosigning key for NAME and write it to FILE (mode 0600; an existing file is never overwritten). Prints the verifier key (vkey) to hand to the logs you witness.")
    .requiredOption("--name <name>", "the witness's name, a schema-less URL such as witness.example.org/w1 (no spaces, no +)")
    .requiredOption("--out <file>", "where to write the private key")
    .option("--json", "print {name, vkey, key_file} as JSON")
    .action(async (opts: { name: string; out: string; json?: boolean }) =>
      asCommandErrors(async () => {
        const { generateWitnessKey } = await import("../../../witness/witness-key.js");
        const key = await generateWitnessKey(opts.name, opts.out);
        print(opts.json, { name: key.name, vkey: key.vkey, key_file: opts.out }, key.vkey);
      }),
    );
  withExamples(keygen, ["countersign witness keygen --name witness.example.org/w1 --out /etc/countersign/witness.key"]);

  const vkey = new Command("vkey")
    .summary("print the verifier key of a witness key file")
    .requiredOption("--key-file <file>", "the witness key file")
    .action(async (opts: { keyFile: string }) =>
      asCommandErrors(async () => {
        const { readWitnessKey } = await import("../../../witness/witness-key.js");
        print(false, undefined, (await readWitnessKey(opts.keyFile)).vkey);
      }),
    );
  withExamples(vkey, ["countersign witness vkey --key-file /etc/countersign/witness.key"]);

  const serve = new Command("serve")
    .summary("serve POST /add-checkpoint for the given logs")
    .description(
      "Serve the tlog-witness protocol (POST /add-checkpoint) for the logs given with --log, keeping their latest cosigned checkpoints in --state-dir. " +
        "Runs until SIGTERM or SIGINT. LOG_LEVEL and LOG_FORMAT apply as for the vault.",
    )
    .addOption(new Option("--listen <host:port>", "the address to listen on").argParser(listenOption).default({ host: "127.0.0.1", port: 7380 }, "127.0.0.1:7380"))
    .requiredOption("--key-file <file>", "the witness key file (countersign witness keygen)")
    .requiredOption("--state-dir <dir>", "where the latest checkpoint of each log is kept (created 0700; back it up)")
    .requiredOption(
      "--log <log>",
      'a log to witness: its note verifier key ("<name>+<id>+<key>", the origin is the name), or "<origin> <vkey>"; repeatable, several keys per origin allowed',
      (value: string, all: string[] | undefined) => [...(all ?? []), value],
    )
    .option("--name <name>", "the witness name the key file must carry (a guard against the wrong key)")
    .action(async (opts: { listen: { host: string; port: number }; keyFile: string; stateDir: string; log: string[]; name?: string }) =>
      asCommandErrors(async () => {
        const [{ startWitness }, { createLogger }, { witnessLogSettings }, { exitOnSignals }] = await Promise.all([
          import("../../../witness/start.js"),
          import("../../../log.js"),
          import("../../../config/witness-log-config.js"),
          import("../../shutdown.js"),
        ]);
        const log = createLogger({ log: witnessLogSettings() });
        const running = await startWitness({ host: opts.listen.host, port: opts.listen.port, keyFile: opts.keyFile, stateDir: opts.stateDir, logs: opts.log, name: opts.name, log });
        exitOnSignals({ graceMs: 10_000, log, close: () => running.close() });
      }),
    );
  withExamples(serve, [
    'countersign witness serve --listen 0.0.0.0:7380 --key-file witness.key --state-dir /var/lib/countersign-witness --log "$(cat vault-ledger.vkey)"',
    'countersign witness serve --key-file witness.key --state-dir ./state --log "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx"',
  ]);

  witness.addCommand(keygen);
  witness.addCommand(vkey);
  witness.addCommand(serve);
  return witness;
}

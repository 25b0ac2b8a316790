import { Command } from "commander";
import { withExamples } from "../help.js";

// Imported when the command runs: the whole vault is behind them, and --help should not load it.
const startupConfig = async () => (await import("../../../config/secret-bundle.js")).loadStartupConfig();

/** `countersign serve`: the vault itself; it runs until SIGTERM or SIGINT. */
export function serveCommand(): Command {
  const command = new Command("serve")
    .summary("start the vault")
    .description(
      "Start the vault: HTTP API, review console and workers. Without DATABASE_URL it uses the embedded database in ./data " +
        "(VAULT_DATA_DIR) and, on first start, creates tenant default and prints its admin API key once.",
    )
    .action(async () => {
      const config = await startupConfig();
      const [{ startVault }, { exitOnSignals }] = await Promise.all([import("../../serve.js"), import("../../shutdown.js")]);
      const vault = await startVault(config);
      vault.ctx.log.info({ url: vault.url }, "countersign vault listening");
      exitOnSignals({ graceMs: config.shutdown.graceMs, log: vault.ctx.log, close: () => vault.close() });
    });
  return withExamples(command, ["countersign serve", "DATABASE_URL=postgres://vault@db/countersign VAULT_PORT=8080 countersign serve"]);
}

/** `countersign judge`: the stand-alone judge service the vault can call instead of judging in-process. */
export function judgeCommand(): Command {
  const command = new Command("judge")
    .summary("start the stand-alone judge service")
    .description("Start the judge service (policy conditions, retrieval and the LLM judge) for vaults configured with VAULT_JUDGE_URL. Needs a PostgreSQL DATABASE_URL and JUDGE_API_KEY; see docs/concepts.md, Running the judge as a service.")
    .action(async () => {
      const { runJudge } = await import("../../judge.js");
      await runJudge(await startupConfig());
    });
  return withExamples(command, ["DATABASE_URL=postgres://judge@db/countersign JUDGE_API_KEY=... countersign judge"]);
}

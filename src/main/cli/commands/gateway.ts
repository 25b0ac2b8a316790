import { Command, InvalidArgumentError } from "commander";
import { CommandError } from "../cli-errors.js";
import { withExamples } from "../help.js";

function portOption(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError("a port number from 0 to 65535");
  return port;
}

/** `countersign gateway`: the token-requiring reverse proxy (docs/gateway.md); it runs until SIGTERM or SIGINT. */
export function gatewayCommand(): Command {
  const command = new Command("gateway")
    .summary("start the token gateway, a reverse proxy that requires an approved A-JWT")
    .description(
      "Start the token gateway in front of one or more upstream HTTP services. Each route in the routes file (YAML or JSON) is a tool: " +
        "a request must carry an A-JWT for that tool and exactly these arguments, the gateway burns it at the vault, forwards the request once, " +
        "and reports the upstream's answer to the vault. Unlisted paths are refused. See docs/gateway.md.",
    )
    .requiredOption("--config <file>", "the routes file (YAML or JSON)")
    .option("--port <n>", "listen on this port instead of the file's listen.port", portOption)
    .option("--host <host>", "listen on this address instead of the file's listen.host")
    .action(async (opts: { config: string; port?: number; host?: string }) => {
      // Imported when the command runs, so --help does not load the gateway.
      const [{ loadGatewayConfig }, { startTokenGateway }, { UpstreamForbiddenError }, { exitOnSignals }] = await Promise.all([
        import("../../../config/gateway-config.js"),
        import("../../../gateway/token/start.js"),
        import("../../../gateway/token/upstream.js"),
        import("../../shutdown.js"),
      ]);
      const config = loadGatewayConfig(opts.config, undefined, { port: opts.port, host: opts.host });
      let running: Awaited<ReturnType<typeof startTokenGateway>>;
      try {
        running = await startTokenGateway(config);
      } catch (err) {
        if (err instanceof UpstreamForbiddenError) throw new CommandError(err.message);
        if ((err as NodeJS.ErrnoException).code === "EADDRINUSE") throw new CommandError(`port ${config.file.listen.port} on ${config.file.listen.host} is in use`);
        throw err;
      }
      running.log.info({ url: running.url, routes: config.file.routes.length, pass_through: config.file.pass_through.length }, "countersign gateway listening");
      exitOnSignals({ graceMs: 30_000, log: running.log, close: () => running.close() });
    });
  return withExamples(command, ["COUNTERSIGN_GATEWAY_API_KEY=csk_... countersign gateway --config gateway.yaml", "countersign gateway --config gateway.json --port 9090 --host 0.0.0.0"]);
}

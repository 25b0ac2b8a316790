import type { Logger } from "pino";
import type { GatewayConfig } from "../../config/gateway-config.js";
import { createLogger } from "../../log.js";
import { SdkVault } from "./sdk-vault.js";
import { buildTokenGateway, type TokenGateway } from "./server.js";
import type { TokenVault } from "./token-vault.js";

export interface RunningTokenGateway {
  url: string;
  gateway: TokenGateway;
  log: Logger;
  close(): Promise<void>;
}

/**
 * Builds and starts `countersign gateway` on the configured host and port. A vault that is down at
 * start does not stop the gateway (it is logged): token routes answer 503 and /readyz is not ready
 * until the vault is back. A forbidden upstream or a bad routes file does stop it.
 */
export async function startTokenGateway(config: GatewayConfig, opts: { vault?: TokenVault; log?: Logger; reportDelaysMs?: number[] } = {}): Promise<RunningTokenGateway> {
  const log = opts.log ?? createLogger({ log: config.log });
  const vault = opts.vault ?? new SdkVault(config);
  const gateway = await buildTokenGateway(config, { vault, log, reportDelaysMs: opts.reportDelaysMs });
  const why = await vault.unready();
  if (why) log.warn({ vault: config.file.vault.url, reason: why }, "the vault is not ready; token routes answer 503 until it is");
  const address = await gateway.app.listen({ host: config.file.listen.host, port: config.file.listen.port });
  return { url: address, gateway, log, close: () => gateway.close() };
}

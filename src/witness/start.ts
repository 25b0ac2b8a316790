/**
 * A running witness: key file + trusted logs + state directory + HTTP server, composed. Used by
 * `countersign witness serve` and, in process, by the tests.
 */
import type { Logger } from "pino";
import { systemClock, type Clock } from "../clock.js";
import { Witness } from "./add-checkpoint.js";
import { readWitnessKey } from "./witness-key.js";
import { parseTrustedLogs } from "./witness-logs.js";
import { startWitnessServer, type WitnessServerLimits } from "./witness-server.js";
import { WitnessStateStore } from "./witness-state.js";

export class WitnessConfigError extends Error {}

export interface WitnessOptions {
  host: string;
  port: number;
  keyFile: string;
  stateDir: string;
  /** --log values: "<vkey>" or "<origin> <vkey>". */
  logs: readonly string[];
  /** When given, must equal the name in the key file (a guard against starting with the wrong key). */
  name?: string;
  log: Logger;
  clock?: Clock;
  limits?: Partial<WitnessServerLimits>;
}

export interface RunningWitness {
  readonly url: string;
  readonly name: string;
  readonly vkey: string;
  readonly witness: Witness;
  readonly state: WitnessStateStore;
  close(): Promise<void>;
}

export async function startWitness(opts: WitnessOptions): Promise<RunningWitness> {
  const key = await readWitnessKey(opts.keyFile);
  if (opts.name !== undefined && opts.name !== key.name) {
    throw new WitnessConfigError(`--name ${opts.name} does not match the key file, whose witness is ${key.name}`);
  }
  const logs = parseTrustedLogs(opts.logs);
  const state = await WitnessStateStore.open(opts.stateDir);
  try {
    for (const s of state.all()) {
      if (!logs.has(s.origin)) opts.log.warn({ origin: s.origin, size: s.size }, "state for a log no longer given with --log: kept, not served");
    }
    const witness = new Witness({ key, logs, state, clock: opts.clock ?? systemClock });
    const server = await startWitnessServer({ witness, host: opts.host, port: opts.port, log: opts.log, limits: opts.limits });
    opts.log.info({ url: server.url, name: key.name, vkey: key.vkey, logs: [...logs.keys()] }, "countersign witness listening");
    return {
      url: server.url,
      name: key.name,
      vkey: key.vkey,
      witness,
      state,
      async close() {
        await server.close();
        await state.close();
      },
    };
  } catch (err) {
    await state.close();
    throw err;
  }
}

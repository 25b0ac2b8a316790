import type { ConditionInput } from "./cel.js";
import type { CelResult } from "./cel-worker.js";

/**
 * The port policy conditions are evaluated through, and what one evaluation comes to. The judge
 * depends on this; cel-pool.ts implements it with worker threads and a hard time budget.
 */
export type CelRun =
  | { kind: "done"; results: CelResult[] }
  /** The budget ran out while evaluating, or no worker was free in time. */
  | { kind: "timeout"; timeoutMs: number; waitedForWorker: boolean }
  /** A worker failed for another reason (out of memory, crashed, pool closed). */
  | { kind: "unavailable"; detail: string };

/** The port the judge evaluates conditions through. */
export interface ConditionRunner {
  readonly timeoutMs: number;
  /** `tenant` is whose request it is: workers are shared fairly between tenants. */
  evaluate(expressions: string[], input: ConditionInput, tenant: string): Promise<CelRun>;
  close(): Promise<void>;
}

import { parentPort, workerData, type MessagePort } from "node:worker_threads";
import { compileCondition, ConditionCompileError, ConditionEvalError, toBindings, type ConditionInput } from "./cel.js";

/**
 * One worker thread of the CEL pool (cel-pool.ts). It evaluates a request's conditions against plain
 * JSON bindings (a structured clone cannot carry the CEL maps, so the conversion happens here) and keeps
 * its own compile cache (compileCondition's), so a policy's expressions are parsed once per worker.
 * It may be terminated in the middle of a task: it holds no state that outlives one.
 */

export interface CelTask {
  id: number;
  expressions: string[];
  input: ConditionInput;
}

/** Per expression: its boolean value, or why it could not be evaluated (which fails closed to review). */
export type CelResult = boolean | { error: string };

export type CelWorkerMessage = { ready: true } | { id: number; results: CelResult[] };

/**
 * What the pool hands a worker at start: the port results go back on (the pool can drain it
 * synchronously, so a result that arrived while its event loop was busy is never taken for a
 * timeout), and shared memory where the worker marks when it started which task (so the budget is
 * counted from then, not from when the task was posted, and not over compiling: an expression new
 * to this worker is compiled first, which is bounded by the registration limits in cel.ts).
 */
export interface CelWorkerData {
  results: MessagePort;
  /** [0]: id of the task being run; set after `startedAt`. */
  startedId: Int32Array;
  /** [0]: when that task started, in ms since the epoch (performance.timeOrigin + performance.now()). */
  startedAt: Float64Array;
}

/** Milliseconds since the epoch at sub-millisecond resolution, comparable across threads. */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

type Compiled = ReturnType<typeof compileCondition> | { error: string };

function describe(err: unknown): { error: string } {
  const known = err instanceof ConditionEvalError || err instanceof ConditionCompileError;
  return { error: known ? (err as Error).message : "evaluation failed" };
}

/** Compiles (or takes from this worker's cache) every expression: bounded work, done before the budget starts. */
function compileAll(expressions: string[]): Compiled[] {
  return expressions.map((expression) => {
    try {
      return compileCondition(expression);
    } catch (err) {
      return describe(err);
    }
  });
}

/** `onStart` marks the start of the budgeted part: converting the input and evaluating. */
function evaluate(task: CelTask, onStart: () => void = () => {}): CelResult[] {
  const compiled = compileAll(task.expressions);
  onStart();
  const bindings = toBindings(task.input);
  return compiled.map((test) => {
    if (typeof test !== "function") return test;
    try {
      return test(bindings);
    } catch (err) {
      return describe(err);
    }
  });
}

/**
 * The first compile and the first evaluation in a fresh thread take about 100 ms and 50 ms (the CEL
 * parser, planner and regex engine load lazily and run cold), which alone would overrun the budget.
 * They are paid here, before the worker reports ready, with an expression that uses the common parts.
 */
function warmUp(): void {
  const sample = 'tool == "t" && args.to.exists(r, r.matches("^[a-z]+@example[.]com$")) && size(args.to) > 0 && has(args.n) && "n" in args && args.n <= 100 && context.k.startsWith("v")';
  const input = { tool: "t", args: { to: ["a@example.com"], n: 5 }, context: { k: "v" }, agent_id: "", session_id: "", human_principal: "" };
  for (let i = 0; i < 20; i++) evaluate({ id: 0, expressions: [sample], input });
}

// Only in a thread the pool started (a test runner's own worker thread has other workerData).
const data = workerData as Partial<CelWorkerData> | null;
if (parentPort && data?.results && data.startedId && data.startedAt) {
  const { results, startedId, startedAt } = data as CelWorkerData;
  warmUp();
  parentPort.on("message", (task: CelTask) => {
    const started = () => {
      startedAt[0] = wallClockMs();
      Atomics.store(startedId, 0, task.id);
    };
    results.postMessage({ id: task.id, results: evaluate(task, started) } satisfies CelWorkerMessage);
  });
  // Tasks are sent only after this, so the time budget never pays for loading this module.
  results.postMessage({ ready: true } satisfies CelWorkerMessage);
}

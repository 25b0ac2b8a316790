import { parse } from "@bufbuild/cel";
import { compileCondition, ConditionCompileError } from "../policies/cel.js";
import type { ConditionRunner } from "../policies/condition-runner.js";
import { MAX_CONSTRAINT_LENGTH } from "./grant-spec.js";

/**
 * A grant's argument constraint: a CEL expression over `args` only (the request's arguments). The
 * tool, agent and session a grant covers are its own columns, matched exactly; letting the
 * constraint read them (or `context`, which the agent writes freely) would let a constraint say
 * less than its columns do. It compiles under the policy conditions' limits (policies/cel.ts: size,
 * nesting) and is evaluated in the same worker pool, with the same time budget.
 */

export class ConstraintError extends Error {}

type AstNode = { exprKind?: { case?: string; value?: any } };

/** The names an expression reads that no comprehension bound: for a constraint, only `args`. */
function freeVariables(root: AstNode): Set<string> {
  const free = new Set<string>();
  const visit = (node: AstNode | undefined, bound: ReadonlySet<string>): void => {
    if (!node?.exprKind) return;
    const { case: kind, value: v } = node.exprKind;
    if (kind === "identExpr") {
      if (!bound.has(v.name)) free.add(v.name);
    } else if (kind === "selectExpr") visit(v.operand, bound);
    else if (kind === "callExpr") {
      visit(v.target, bound);
      for (const a of v.args) visit(a, bound);
    } else if (kind === "listExpr") for (const e of v.elements) visit(e, bound);
    else if (kind === "structExpr") {
      for (const e of v.entries) {
        if (e.keyKind?.case === "mapKey") visit(e.keyKind.value, bound);
        visit(e.value, bound);
      }
    } else if (kind === "comprehensionExpr") {
      visit(v.iterRange, bound);
      const inner = new Set([...bound, v.iterVar, v.iterVar2, v.accuVar].filter(Boolean));
      for (const part of [v.accuInit, v.loopCondition, v.loopStep, v.result]) visit(part, inner);
    }
  };
  visit(root, new Set());
  return free;
}

/** Throws ConstraintError (with a readable message) unless `expression` is a valid constraint. */
export function checkConstraint(expression: string): void {
  if (expression.length > MAX_CONSTRAINT_LENGTH) throw new ConstraintError(`constraint longer than ${MAX_CONSTRAINT_LENGTH} characters`);
  try {
    compileCondition(expression);
  } catch (err) {
    throw new ConstraintError(err instanceof ConditionCompileError ? err.message : "the expression does not compile");
  }
  const other = [...freeVariables(parse(expression).expr as AstNode)].filter((name) => name !== "args");
  if (other.length > 0) throw new ConstraintError(`a constraint reads only args; it uses ${other.join(", ")}`);
}

/** How one evaluation of a constraint came out: an error or a timeout is never a match. */
export type ConstraintOutcome = { kind: "true" } | { kind: "false" } | { kind: "failed"; detail: string };

/**
 * Evaluates `expression` over `args` through the condition worker pool (its time budget; a hostile
 * expression or input costs a worker, never the event loop). Fail closed: only a boolean true is true.
 */
export async function evaluateConstraint(runner: ConditionRunner, expression: string, args: Record<string, unknown>, tenantId: string): Promise<ConstraintOutcome> {
  const input = { tool: "", args, context: {}, agent_id: "", session_id: "", human_principal: "" };
  let run;
  try {
    run = await runner.evaluate([expression], input, tenantId);
  } catch (err) {
    return { kind: "failed", detail: err instanceof Error ? err.message : "evaluation failed" };
  }
  if (run.kind === "timeout") return { kind: "failed", detail: `the constraint ran over its ${run.timeoutMs} ms budget` };
  if (run.kind === "unavailable") return { kind: "failed", detail: run.detail };
  const result = run.results[0];
  if (result === true) return { kind: "true" };
  if (result === false) return { kind: "false" };
  return { kind: "failed", detail: typeof result === "object" && result !== null ? result.error : "no result" };
}

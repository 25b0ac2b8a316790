import { celEnv, CelScalar, isCelError, mapType, parse, plan } from "@bufbuild/cel";

/** Variables a condition may read; docs/concepts.md documents each. */
export const conditionVariables = ["tool", "args", "context", "agent_id", "session_id", "human_principal", "agent"] as const;

export const MAX_EXPRESSION_LENGTH = 2048;
const MAX_AST_NODES = 400;
// CEL has no evaluation cost limit here, and nested comprehensions over request-sized lists can
// block the event loop for seconds, so they are refused at registration.
const MAX_COMPREHENSION_DEPTH = 1;

const env = celEnv({
  variables: {
    tool: CelScalar.STRING,
    args: mapType(CelScalar.STRING, CelScalar.DYN),
    context: mapType(CelScalar.STRING, CelScalar.DYN),
    agent_id: CelScalar.STRING,
    session_id: CelScalar.STRING,
    human_principal: CelScalar.STRING,
    agent: mapType(CelScalar.STRING, CelScalar.DYN),
  },
});

/**
 * `agent`: the request's Sigilum signer as the vault verified it (src/tenancy/agent-identity.ts).
 * Unsigned requests read `verified: false` and empty strings, so a condition never fails on a
 * missing key.
 */
export interface AgentCondition {
  verified: boolean;
  key: string;
  namespace: string;
  subject: string;
  claim_id: string;
  services: string[];
}

const UNSIGNED: AgentCondition = { verified: false, key: "", namespace: "", subject: "", claim_id: "", services: [] };

export interface ConditionInput {
  tool: string;
  args: Record<string, unknown>;
  context: Record<string, unknown>;
  agent_id: string;
  session_id: string;
  human_principal: string;
  /** Absent (an input built before agent identity) reads as unsigned. */
  agent?: AgentCondition;
}

export type CompiledCondition = (input: CelBindings) => boolean;
type CelBindings = ReturnType<typeof toBindings>;

export class ConditionCompileError extends Error {}
export class ConditionEvalError extends Error {}

type AstNode = { exprKind?: { case?: string; value?: any } };

function checkAst(root: AstNode): void {
  let nodes = 0;
  const visit = (node: AstNode | undefined, bound: ReadonlySet<string>, depth: number): void => {
    if (!node?.exprKind) return;
    if (++nodes > MAX_AST_NODES) throw new ConditionCompileError(`expression is too complex (over ${MAX_AST_NODES} nodes)`);
    const { case: kind, value: v } = node.exprKind;
    switch (kind) {
      case "identExpr":
        if (!bound.has(v.name) && !(conditionVariables as readonly string[]).includes(v.name)) {
          throw new ConditionCompileError(`unknown variable "${v.name}"; use ${conditionVariables.join(", ")}`);
        }
        return;
      case "selectExpr":
        return visit(v.operand, bound, depth);
      case "callExpr":
        visit(v.target, bound, depth);
        for (const a of v.args) visit(a, bound, depth);
        return;
      case "listExpr":
        for (const e of v.elements) visit(e, bound, depth);
        return;
      case "structExpr":
        if (v.messageName) throw new ConditionCompileError("message construction is not supported");
        for (const e of v.entries) {
          if (e.keyKind?.case === "mapKey") visit(e.keyKind.value, bound, depth);
          visit(e.value, bound, depth);
        }
        return;
      case "comprehensionExpr": {
        if (depth + 1 > MAX_COMPREHENSION_DEPTH) throw new ConditionCompileError("nested comprehensions (all/exists/map/filter inside another) are not allowed");
        visit(v.iterRange, bound, depth);
        const inner = new Set([...bound, v.iterVar, v.iterVar2, v.accuVar].filter(Boolean));
        for (const part of [v.accuInit, v.loopCondition, v.loopStep, v.result]) visit(part, inner, depth + 1);
        return;
      }
      default:
        return;
    }
  };
  visit(root, new Set(), 0);
}

const compiled = new Map<string, CompiledCondition>();

/** Parses, checks and plans a condition; throws ConditionCompileError with a readable message. */
export function compileCondition(expression: string): CompiledCondition {
  const cached = compiled.get(expression);
  if (cached) return cached;
  if (expression.length > MAX_EXPRESSION_LENGTH) throw new ConditionCompileError(`expression longer than ${MAX_EXPRESSION_LENGTH} characters`);
  let run: (bindings: never) => unknown;
  try {
    const ast = parse(expression);
    checkAst(ast.expr as AstNode);
    run = plan(env, ast) as (bindings: never) => unknown;
  } catch (err) {
    if (err instanceof ConditionCompileError) throw err;
    throw new ConditionCompileError(err instanceof Error ? err.message : String(err));
  }
  const fn: CompiledCondition = (bindings) => {
    const result = run(bindings as never);
    if (isCelError(result)) throw new ConditionEvalError((result as Error).message);
    if (typeof result !== "boolean") throw new ConditionEvalError(`expression returned ${typeof result}, not a boolean`);
    return result;
  };
  if (compiled.size > 5000) compiled.clear();
  compiled.set(expression, fn);
  return fn;
}

/** JSON objects become CEL maps; JSON numbers are CEL doubles (comparisons with int literals work). */
function toCel(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toCel);
  if (value !== null && typeof value === "object") return new Map(Object.entries(value).map(([k, v]) => [k, toCel(v)]));
  return value;
}

export function toBindings(input: ConditionInput) {
  return {
    tool: input.tool,
    args: toCel(input.args) as Map<string, unknown>,
    context: toCel(input.context) as Map<string, unknown>,
    agent_id: input.agent_id,
    session_id: input.session_id,
    human_principal: input.human_principal,
    agent: toCel(input.agent ?? UNSIGNED) as Map<string, unknown>,
  };
}

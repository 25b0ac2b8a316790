import { parse } from "@bufbuild/cel";

/**
 * A constraint in plain words for the reviewer who grants it and whoever reads the grant later:
 * `args.amount <= 200 && args.currency == "usd"` reads "amount ≤ 200 and currency = usd". Built from
 * the parsed expression (the CEL AST of @bufbuild/cel), never by rewriting the text, so the words say
 * what the vault evaluates. Whatever has no faithful wording (comprehensions, arithmetic, casts, a
 * value that is not an argument) makes the whole description fall back to the expression itself:
 * a half-translated sentence could read as something the expression does not say.
 */

type Node = { exprKind?: { case?: string; value?: any } };

class Unworded extends Error {}

const COMPARISONS: Record<string, string> = { "_==_": "=", "_!=_": "≠", "_<_": "<", "_<=_": "≤", "_>_": ">", "_>=_": "≥" };
const METHODS: Record<string, string> = { startsWith: "starts with", endsWith: "ends with", contains: "contains" };

/** An argument path: args.a.b, args["a"].b. */
function argPath(node: Node): string {
  const { case: kind, value: v } = node.exprKind ?? {};
  if (kind === "selectExpr" && !v.testOnly) {
    const operand = v.operand as Node;
    if (operand.exprKind?.case === "identExpr" && operand.exprKind.value.name === "args") return v.field;
    return `${argPath(operand)}.${v.field}`;
  }
  if (kind === "callExpr" && v.function === "_[_]" && !v.target) {
    const [operand, key] = v.args as Node[];
    const k = key!.exprKind;
    if (k?.case !== "constExpr") throw new Unworded();
    const name = String(literal(key!));
    if (operand!.exprKind?.case === "identExpr" && operand!.exprKind.value.name === "args") return name;
    return `${argPath(operand!)}.${name}`;
  }
  throw new Unworded();
}

function literal(node: Node): string | number | boolean | null {
  const c = node.exprKind?.value?.constantKind;
  switch (c?.case) {
    case "stringValue":
    case "boolValue":
      return c.value;
    case "int64Value":
    case "uint64Value":
      return Number(c.value);
    case "doubleValue":
      return c.value;
    case "nullValue":
      return null;
    default:
      throw new Unworded();
  }
}

/** A value as a reader sees it: a plain word bare, anything else quoted. */
function value(node: Node): string {
  const kind = node.exprKind?.case;
  if (kind === "constExpr") {
    const v = literal(node);
    if (typeof v === "string") return /^[\p{L}\p{N}_.@:/+-]+$/u.test(v) ? v : JSON.stringify(v);
    return String(v);
  }
  // A negative number is parsed as -(n).
  if (kind === "callExpr" && node.exprKind!.value.function === "-_") {
    const inner = node.exprKind!.value.args[0] as Node;
    if (inner.exprKind?.case === "constExpr" && typeof literal(inner) === "number") return `-${literal(inner)}`;
  }
  if (kind === "listExpr") return (node.exprKind!.value.elements as Node[]).map(value).join(", ");
  throw new Unworded();
}

function words(node: Node, parent?: "and" | "or"): string {
  const { case: kind, value: v } = node.exprKind ?? {};
  if (kind === "selectExpr" && v.testOnly) return `${argPath({ exprKind: { case: "selectExpr", value: { ...v, testOnly: false } } })} is present`;
  if (kind === "constExpr" && typeof literal(node) === "boolean") return literal(node) ? "always" : "never";
  if (kind !== "callExpr") throw new Unworded();
  const fn: string = v.function;
  const args = v.args as Node[];
  if (fn === "_&&_" || fn === "_||_") {
    const joiner = fn === "_&&_" ? "and" : "or";
    const text = args.map((a) => words(a, joiner)).join(` ${joiner} `);
    return parent && parent !== joiner ? `(${text})` : text;
  }
  if (fn === "!_") return `not (${words(args[0]!)})`;
  if (COMPARISONS[fn]) return `${side(args[0]!)} ${COMPARISONS[fn]} ${side(args[1]!)}`;
  if (fn === "@in") return `${argPath(args[0]!)} is one of ${value(args[1]!)}`;
  if (METHODS[fn] && v.target) return `${argPath(v.target)} ${METHODS[fn]} ${value(args[0]!)}`;
  if (fn === "matches" && v.target) return `${argPath(v.target)} matches the pattern ${JSON.stringify(literal(args[0]!))}`;
  throw new Unworded();
}

/** Either side of a comparison: an argument, the size of one, or a value. */
function side(node: Node): string {
  const { case: kind, value: v } = node.exprKind ?? {};
  if (kind === "callExpr" && v.function === "size") {
    const of = (v.target ?? v.args[0]) as Node | undefined;
    if (of) return `the size of ${argPath(of)}`;
  }
  try {
    return argPath(node);
  } catch {
    return value(node);
  }
}

/** The constraint in plain words, or the expression as written when it has no faithful wording (or does not parse). */
export function describeConstraint(expression: string): string {
  try {
    return words(parse(expression).expr as Node);
  } catch {
    return expression;
  }
}

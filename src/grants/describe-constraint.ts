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

/**
 * An argument's name as written in the words: bare when it is a plain identifier, else quoted. A
 * name is the agent's to choose: `args["amount ≤ 200 and currency"] == "usd"` must not read
 * "amount ≤ 200 and currency = usd".
 */
const argName = (name: string): string => (/^[\p{L}_][\p{L}\p{N}_]*$/u.test(name) ? name : JSON.stringify(name));

/** An argument path: args.a.b, args["a"].b. */
function argPath(node: Node): string {
  const { case: kind, value: v } = node.exprKind ?? {};
  if (kind === "selectExpr" && !v.testOnly) {
    const operand = v.operand as Node;
    if (operand.exprKind?.case === "identExpr" && operand.exprKind.value.name === "args") return argName(v.field);
    return `${argPath(operand)}.${argName(v.field)}`;
  }
  if (kind === "callExpr" && v.function === "_[_]" && !v.target) {
    const [operand, key] = v.args as Node[];
    const k = key!.exprKind;
    if (k?.case !== "constExpr") throw new Unworded();
    const name = argName(String(literal(key!)));
    if (operand!.exprKind?.case === "identExpr" && operand!.exprKind.value.name === "args") return name;
    return `${argPath(operand!)}.${name}`;
  }
  throw new Unworded();
}

function literal(node: Node): string | number | bigint | boolean | null {
  const c = node.exprKind?.value?.constantKind;
  switch (c?.case) {
    case "stringValue":
    case "boolValue":
      return c.value;
    case "int64Value":
    case "uint64Value":
      // Exactly as written: Number() would show 9007199254740993 as ...992.
      return BigInt(c.value);
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
    // Bare only when it cannot read as anything else: "200" would read as the number (and `<= "200"`
    // compares text: "1000000" passes), "true" as the boolean.
    if (typeof v === "string") return /^[\p{L}_@][\p{L}\p{N}_.@:/+-]*$/u.test(v) && !["true", "false", "null"].includes(v) ? v : JSON.stringify(v);
    return String(v);
  }
  // A negative number is parsed as -(n).
  if (kind === "callExpr" && node.exprKind!.value.function === "-_") {
    const inner = node.exprKind!.value.args[0] as Node;
    if (inner.exprKind?.case === "constExpr" && ["number", "bigint"].includes(typeof literal(inner))) return `-${literal(inner)}`;
  }
  // One level: a list inside the list would read as its items.
  if (kind === "listExpr") return (node.exprKind!.value.elements as Node[]).map((e) => (e.exprKind?.case === "listExpr" ? unworded() : value(e))).join(", ");
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
  // Always "<argument> <op> <value>": with an argument on the right, or a value on the left, the words
  // would read the same as another constraint (`args.currency == args.usd` as `args.currency == "usd"`).
  if (COMPARISONS[fn]) return `${subject(args[0]!)} ${COMPARISONS[fn]} ${value(args[1]!)}`;
  if (fn === "@in") return `${argPath(args[0]!)} is one of ${value(args[1]!)}`;
  if (METHODS[fn] && v.target) return `${argPath(v.target)} ${METHODS[fn]} ${value(args[0]!)}`;
  if (fn === "matches" && v.target) return `${argPath(v.target)} matches the pattern ${JSON.stringify(literal(args[0]!))}`;
  throw new Unworded();
}

/** The left side of a comparison: an argument, or the size of one. */
function subject(node: Node): string {
  const { case: kind, value: v } = node.exprKind ?? {};
  if (kind === "callExpr" && v.function === "size") {
    const of = (v.target ?? v.args[0]) as Node | undefined;
    if (of) return `the size of ${argPath(of)}`;
  }
  return argPath(node);
}

function unworded(): never {
  throw new Unworded();
}

/** The constraint in plain words, or the expression as written when it has no faithful wording (or does not parse). */
export function describeConstraint(expression: string): string {
  try {
    return words(parse(expression).expr as Node);
  } catch {
    return expression;
  }
}

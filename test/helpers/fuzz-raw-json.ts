/**
 * A JSON tree that can say what JSON.stringify cannot: repeated keys, number tokens no double holds
 * (1e309, -0, 2**64), escapes with no UTF-8 form ("\ud800"). The fuzz mutations edit this tree and
 * the suite sends its rendering, so a counterexample shows the exact text the vault received.
 */
import fc from "fast-check";

export type RawNode =
  | { kind: "object"; entries: [key: RawKey, value: RawNode][] }
  | { kind: "array"; items: RawNode[] }
  | { kind: "string"; value: RawKey }
  | { kind: "token"; text: string };

/** A key or string: plain text (escaped by JSON.stringify) or a raw escape body written as is. */
export type RawKey = { text: string } | { escaped: string };

export const str = (text: string): RawKey => ({ text });

/** The tree of an ordinary JSON value. */
export function toRaw(value: unknown): RawNode {
  if (Array.isArray(value)) return { kind: "array", items: value.map(toRaw) };
  if (value !== null && typeof value === "object") {
    return { kind: "object", entries: Object.entries(value).map(([k, v]) => [str(k), toRaw(v)]) };
  }
  if (typeof value === "string") return { kind: "string", value: str(value) };
  return { kind: "token", text: JSON.stringify(value ?? null) };
}

const renderKey = (k: RawKey) => ("escaped" in k ? `"${k.escaped}"` : JSON.stringify(k.text));

/**
 * Iterative (a mutation may nest thousands of levels, and the renderer must not be the thing that
 * overflows). Builds the text in an array of parts.
 */
export function render(root: RawNode): string {
  const parts: string[] = [];
  const stack: (RawNode | string)[] = [root];
  while (stack.length > 0) {
    // A harness guard: the generated bodies are bounded (a few MB at most); more means a mutation bug.
    if (parts.length > 10_000_000) throw new Error("fuzz body rendering exceeded 10M parts");
    const item = stack.pop()!;
    if (typeof item === "string") {
      parts.push(item);
      continue;
    }
    switch (item.kind) {
      case "token":
        parts.push(item.text);
        break;
      case "string":
        parts.push(renderKey(item.value));
        break;
      case "array": {
        stack.push("]");
        for (let i = item.items.length - 1; i >= 0; i--) {
          stack.push(item.items[i]!);
          if (i > 0) stack.push(",");
        }
        parts.push("[");
        break;
      }
      case "object": {
        stack.push("}");
        for (let i = item.entries.length - 1; i >= 0; i--) {
          const [k, v] = item.entries[i]!;
          stack.push(v);
          stack.push(`${renderKey(k)}:`);
          if (i > 0) stack.push(",");
        }
        parts.push("{");
        break;
      }
    }
  }
  return parts.join("");
}

/** Every node of the tree, parents before children, for picking a mutation site by index. */
function nodesOf(root: RawNode): RawNode[] {
  const out: RawNode[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const n = stack.pop()!;
    out.push(n);
    if (n.kind === "array") stack.push(...n.items);
    if (n.kind === "object") stack.push(...n.entries.map(([, v]) => v));
  }
  return out;
}

const clone = (n: RawNode): RawNode => structuredClone(n);

/** A tree edit: `site` picks the node (modulo the node count), so fast-check can shrink it to the root. */
export interface Mutation {
  name: string;
  apply(root: RawNode): RawNode;
}

/** Replaces the node at `site` (the root if site picks it) with `make(old)`. */
function replaceAt(root: RawNode, site: number, make: (old: RawNode) => RawNode): RawNode {
  const copy = clone(root);
  const nodes = nodesOf(copy);
  const target = nodes[site % nodes.length]!;
  const replacement = make(target);
  if (target === copy) return replacement;
  for (const n of nodes) {
    if (n.kind === "array") {
      const i = n.items.indexOf(target);
      if (i >= 0) n.items[i] = replacement;
    } else if (n.kind === "object") {
      for (const e of n.entries) if (e[1] === target) e[1] = replacement;
    }
  }
  return copy;
}

/** Applies `edit` to the `site`-th object node (the root object when there is none to pick). */
function editObject(root: RawNode, site: number, edit: (o: Extract<RawNode, { kind: "object" }>) => void): RawNode {
  const copy = clone(root);
  const objects = nodesOf(copy).filter((n): n is Extract<RawNode, { kind: "object" }> => n.kind === "object");
  if (objects.length === 0) {
    const wrapped: RawNode = { kind: "object", entries: [[str("value"), copy]] };
    edit(wrapped);
    return wrapped;
  }
  edit(objects[site % objects.length]!);
  return copy;
}

/** Numbers a double cannot hold, or holds in a way canonical JSON and hashing must still agree on. */
export const nastyNumberTokens = [
  "1e309", "-1e309", "1e400", "-0", "-0.0", "0e0", "-0e-0", "1e-400", "-1e-400",
  "18446744073709551616", "18446744073709551615", "9007199254740993", "-9223372036854775809",
  "1e21", "1E+21", "123456789012345678901234567890", "0.1e-999999", "1.0", "5e-324", "1.7976931348623157e308",
  // Not JSON at all: the parser must refuse them, not the database.
  "NaN", "Infinity", "-Infinity", "01", "0x10", ".5", "+1", "1.", "1e", "--1",
];

/** Strings that look like others, or hide: fullwidth, Cyrillic, zero-width, bidi overrides, BOM, combining marks. */
export const confusableStrings = [
  "ｃａｒｏｌ@example.com", "саrol@example.com", "car\u200bol@example.com", "carol@example.com\u200d",
  "\u202eevil\u202c", "\ufeffapprove", "appro\u0301ve", "ａｐｐｒｏｖｅ", "ＡＤＭＩＮ", "stripe_refund\u00a0",
  " stripe_refund", "STRIPE_REFUND", "ǅ", "ﬀ", "İ", "ß", "\u2028\u2029", "\uffff\ufffe", "😀".repeat(3),
  "a\u0000b", "\u0000", "\u0001\u001f\u007f", "%00", "\\u0000", "${jndi:ldap://x}", "'; DROP TABLE policies; --",
  "../../etc/passwd", "<script>alert(1)</script>",
];

/** Keys JavaScript objects treat specially. */
export const prototypeKeys = ["__proto__", "constructor", "prototype", "__defineGetter__", "hasOwnProperty", "toString", "valueOf", "then"];

const protoValues: RawNode[] = [
  toRaw({}),
  toRaw({ isAdmin: true, scope: "admin", default_decision: "approve" }),
  toRaw({ prototype: { polluted: 1 } }),
  toRaw("x"),
  toRaw(null),
];

/** Escapes with no UTF-8 form, or broken escapes. */
const surrogateEscapes = ["\\ud800", "\\udc00", "a\\ud800b", "\\udbff\\udbff", "\\udfff\\ud800", "\\u0000", "\\u00", "\\x41", "\\uZZZZ"];

/** A value of some JSON type, small. */
const smallValue: fc.Arbitrary<RawNode> = fc.oneof(
  fc.constantFrom(null, true, false, 0, 1, -1, 1.5, "", "x", [], {}, [1, "a"], { a: 1 }).map(toRaw),
  fc.jsonValue({ maxDepth: 2 }).map(toRaw),
);

const hugeStringChars = fc.constantFrom("a", "é", "😀", "\u0000", " ", "\\");

function nested(depth: number, inObjects: boolean, leaf: RawNode): RawNode {
  let node = leaf;
  for (let i = 0; i < depth; i++) node = inObjects ? { kind: "object", entries: [[str("a"), node]] } : { kind: "array", items: [node] };
  return node;
}

/** The mutations of the list. Each picks its site by a natural number. */
export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fc.nat(), smallValue).map(([site, v]) => ({
    name: `wrong type at #${site}: ${render(v).slice(0, 40)}`,
    apply: (r: RawNode) => replaceAt(r, site, () => clone(v)),
  })),
  fc.tuple(fc.nat(), fc.nat(), smallValue, fc.boolean()).map(([site, which, v, before]) => ({
    name: `duplicate key at object #${site} (${before ? "first" : "last"} wins)`,
    apply: (r: RawNode) =>
      editObject(r, site, (o) => {
        const [key] = o.entries.length > 0 ? o.entries[which % o.entries.length]! : [str("dup")];
        if (before) o.entries.unshift([key, clone(v)]);
        else o.entries.push([key, clone(v)]);
        if (o.entries.length === 1) o.entries.push([key, clone(v)]);
      }),
  })),
  fc.tuple(fc.nat(), fc.integer({ min: 20, max: 400 }), fc.boolean()).map(([site, depth, inObjects]) => ({
    name: `nesting ${depth} ${inObjects ? "objects" : "arrays"} deep at #${site}`,
    apply: (r: RawNode) => replaceAt(r, site, (old) => nested(depth, inObjects, old)),
  })),
  fc.tuple(fc.nat(), fc.constantFrom(63, 64, 65)).map(([site, depth]) => ({
    name: `nesting at the ${depth}-level boundary at #${site}`,
    apply: (r: RawNode) => replaceAt(r, site, () => nested(depth, false, toRaw(1))),
  })),
  fc.tuple(fc.nat(), fc.integer({ min: 1_000, max: 300_000 }), hugeStringChars).map(([site, n, ch]) => ({
    name: `string of ${n} × ${JSON.stringify(ch)} at #${site}`,
    apply: (r: RawNode) => replaceAt(r, site, () => ({ kind: "string", value: str(ch.repeat(n)) })),
  })),
  fc.tuple(fc.nat(), fc.integer({ min: 100, max: 60_000 }), fc.constantFrom<RawNode>(toRaw(1), toRaw("x"), toRaw({}), toRaw([]), toRaw(null))).map(
    ([site, n, item]) => ({
      name: `array of ${n} × ${render(item)} at #${site}`,
      // A fresh node per item: a shared one would be one mutation site standing for n, and a second
      // huge-array mutation there would multiply (n × n nodes) instead of add.
      apply: (r: RawNode) => replaceAt(r, site, () => ({ kind: "array", items: Array.from({ length: n }, () => clone(item)) })),
    }),
  ),
  fc.tuple(fc.nat(), fc.integer({ min: 100, max: 20_000 })).map(([site, n]) => ({
    name: `object of ${n} keys at #${site}`,
    apply: (r: RawNode) =>
      replaceAt(r, site, () => ({ kind: "object", entries: Array.from({ length: n }, (_, i) => [str(`k${i}`), toRaw(i)] as [RawKey, RawNode]) })),
  })),
  fc.tuple(fc.nat(), fc.constantFrom(...confusableStrings), fc.boolean()).map(([site, s, asKey]) => ({
    name: `${asKey ? "key" : "string"} ${JSON.stringify(s)} at #${site}`,
    apply: (r: RawNode) =>
      asKey
        ? editObject(r, site, (o) => {
            if (o.entries.length === 0) o.entries.push([str(s), toRaw(1)]);
            else o.entries[site % o.entries.length]![0] = str(s);
          })
        : replaceAt(r, site, () => ({ kind: "string", value: str(s) })),
  })),
  fc.tuple(fc.nat(), fc.constantFrom(...nastyNumberTokens)).map(([site, text]) => ({
    name: `number token ${text} at #${site}`,
    apply: (r: RawNode) => replaceAt(r, site, () => ({ kind: "token", text })),
  })),
  fc.tuple(fc.nat(), fc.constantFrom(...prototypeKeys), fc.nat({ max: protoValues.length - 1 })).map(([site, key, v]) => ({
    name: `prototype key ${key} at object #${site}`,
    apply: (r: RawNode) => editObject(r, site, (o) => o.entries.push([str(key), clone(protoValues[v]!)])),
  })),
  fc
    .tuple(fc.nat(), fc.oneof(fc.string({ minLength: 1, maxLength: 20 }), fc.constantFrom("condtions", "defualt_decision", "Tool_Name", "tool_name ", "urls", "emial")), smallValue)
    .map(([site, key, v]) => ({
      name: `unknown key ${JSON.stringify(key)} at object #${site}`,
      apply: (r: RawNode) => editObject(r, site, (o) => o.entries.push([str(key), clone(v)])),
    })),
  fc.tuple(fc.nat(), fc.nat()).map(([site, which]) => ({
    name: `missing key in object #${site}`,
    apply: (r: RawNode) =>
      editObject(r, site, (o) => {
        if (o.entries.length > 0) o.entries.splice(which % o.entries.length, 1);
      }),
  })),
  fc.tuple(fc.nat(), fc.constantFrom(...surrogateEscapes), fc.boolean()).map(([site, escaped, asKey]) => ({
    name: `escape "${escaped}" as ${asKey ? "key" : "string"} at #${site}`,
    apply: (r: RawNode) =>
      asKey
        ? editObject(r, site, (o) => o.entries.push([{ escaped }, toRaw(1)]))
        : replaceAt(r, site, () => ({ kind: "string", value: { escaped } })),
  })),
);

/** The body as sent: the rendered text, then (sometimes) bytes that are not UTF-8 or not JSON. */
export interface ByteMutation {
  name: string;
  apply(text: string): Buffer;
}

const invalidUtf8 = [[0xff], [0xfe, 0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80]];

export const byteMutationArb: fc.Arbitrary<ByteMutation> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<ByteMutation>({ name: "as rendered", apply: (t) => Buffer.from(t) }) },
  fc.tuple(fc.nat(), fc.nat({ max: invalidUtf8.length - 1 })).map(([at, which]) => ({
    name: `invalid UTF-8 ${Buffer.from(invalidUtf8[which]!).toString("hex")} at byte ${at}`,
    apply: (t: string) => {
      const b = Buffer.from(t);
      // Inside a string where there is one, so the bytes reach the string decoder, not the tokenizer.
      const quote = b.indexOf(0x22);
      const i = quote >= 0 ? quote + 1 + (at % Math.max(1, b.length - quote - 1)) : at % (b.length + 1);
      return Buffer.concat([b.subarray(0, i), Buffer.from(invalidUtf8[which]!), b.subarray(i)]);
    },
  })),
  fc.nat().map((at) => ({ name: `truncated at ${at}`, apply: (t: string) => Buffer.from(t).subarray(0, at % Math.max(1, Buffer.byteLength(t))) })),
  fc.constantFrom<ByteMutation>(
    { name: "BOM prefix", apply: (t) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(t)]) },
    { name: "two JSON texts", apply: (t) => Buffer.from(`${t}${t}`) },
    { name: "trailing garbage", apply: (t) => Buffer.from(`${t} x`) },
    { name: "raw NUL after", apply: (t) => Buffer.from(`${t}\u0000`) },
    { name: "raw control char in text", apply: (t) => Buffer.from(t.replace(/"([^"]*)"/, '"$1\u0001"')) },
    { name: "empty body", apply: () => Buffer.alloc(0) },
    { name: "whitespace only", apply: () => Buffer.from(" \n\t ") },
    { name: "top-level array", apply: (t) => Buffer.from(`[${t}]`) },
    { name: "top-level string", apply: (t) => Buffer.from(JSON.stringify(t)) },
    { name: "top-level null", apply: () => Buffer.from("null") },
    { name: "top-level number", apply: () => Buffer.from("1e309") },
    { name: "UTF-16LE encoded", apply: (t) => Buffer.from(t, "utf16le") },
  ),
);

/** The decoded text of a key, or undefined when its escape is not valid JSON (the body is then refused anyway). */
function keyText(k: RawKey): string | undefined {
  if ("text" in k) return k.text;
  try {
    return JSON.parse(`"${k.escaped}"`) as string;
  } catch {
    return undefined;
  }
}

/** The first member name an object of the tree repeats (compared after unescaping), or undefined. */
export function repeatedKey(root: RawNode): string | undefined {
  for (const n of nodesOf(root)) {
    if (n.kind !== "object") continue;
    const seen = new Set<string>();
    for (const [k] of n.entries) {
      const text = keyText(k);
      if (text === undefined) continue;
      if (seen.has(text)) return text;
      seen.add(text);
    }
  }
  return undefined;
}

import { CST, isMap, isScalar, Lexer, Parser, visit, type Document } from "yaml";

/**
 * Limits on a replay candidate given as text (POST /policies/{id}/replay, src/requests/replay-schema.ts),
 * checked before the YAML library composes it, because composing runs on the event loop that serves
 * every tenant and is not built for hostile input:
 *  - it recurses once per nesting level, so a few kilobytes of `[[[[…` overflow its stack, and a second
 *    such request overflowed it inside V8's regular-expression compiler, which aborts the whole vault
 *    process (FATAL "RegExpCompiler Allocation failed"), not just the request;
 *  - it costs tens of microseconds per node, so 400 KB of tiny entries blocked every request for seconds.
 * The shape is measured with the library's own lexer and parser, which keep an explicit stack (no
 * recursion) and so agree exactly with what composing would build; the scan stops as soon as a limit
 * is passed. A policy document nests four levels and has a few thousand tokens at most (500 rules,
 * 1000 tools, 200 conditions), so the limits stay far from any real one.
 */
export const MAX_CANDIDATE_DEPTH = 64;
export const MAX_CANDIDATE_TOKENS = 30_000;

const LAYOUT = new Set(["space", "newline", "comment", "byte-order-mark"]);

/** Why the text is refused before composing, or undefined when it is within the limits. */
export function candidateTextProblem(text: string): string | undefined {
  const parser = new Parser();
  let tokens = 0;
  for (const lexeme of new Lexer().lex(text)) {
    for (const _ of parser.next(lexeme)) {
      // Finished documents: only their shape matters here.
    }
    if (parser.stack.length > MAX_CANDIDATE_DEPTH) return `nested more than ${MAX_CANDIDATE_DEPTH} levels deep`;
    if (!LAYOUT.has(CST.tokenType(lexeme) ?? "") && ++tokens > MAX_CANDIDATE_TOKENS) return `more than ${MAX_CANDIDATE_TOKENS} YAML tokens`;
  }
  return undefined;
}

/** The first key that appears twice in one mapping of the document, in one pass per mapping. */
export function duplicateKey(doc: Document): unknown {
  let found: unknown;
  visit(doc, {
    Map(_, map) {
      const seen = new Set<string>();
      for (const item of map.items) {
        const key = isScalar(item.key) ? item.key.value : item.key;
        const text = typeof key === "string" ? `s:${key}` : isMap(key) ? `m:${String(key)}` : `v:${String(key)}`;
        if (seen.has(text)) {
          found = key;
          return visit.BREAK;
        }
        seen.add(text);
      }
      return undefined;
    },
  });
  return found;
}

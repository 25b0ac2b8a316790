import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { MAX_JSON_DEPTH } from "../../http/json-body.js";

/**
 * The deepest nesting of tools/call arguments the gateway takes: the vault refuses bodies deeper than
 * MAX_JSON_DEPTH (the arguments sit one level inside), and deeper values would overflow the stack of
 * every recursive step after this one (JSON.stringify, canonical hashing), surfacing as an internal
 * error that names the engine's failure. Measured without recursion, for the same reason.
 */
export const MAX_ARGS_DEPTH = MAX_JSON_DEPTH - 1;

export function assertArgsDepth(args: unknown): void {
  const stack: { value: unknown; depth: number }[] = [{ value: args, depth: 1 }];
  while (stack.length > 0) {
    const { value, depth } = stack.pop()!;
    if (value === null || typeof value !== "object") continue;
    if (depth > MAX_ARGS_DEPTH) throw new McpError(ErrorCode.InvalidParams, `the arguments nest deeper than ${MAX_ARGS_DEPTH} levels`);
    for (const child of Object.values(value as Record<string, unknown>)) stack.push({ value: child, depth: depth + 1 });
  }
}

import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import type { GateDeps } from "./call-context.js";
import { META } from "./results.js";

/**
 * tools/list: every upstream's tools, each name with its upstream's prefix, the gated ones marked in
 * the description (what a model reads) and in `_meta` (what a program reads). An upstream that cannot
 * be listed is left out and logged, so one broken upstream does not hide the others' tools; its tools
 * could not be called anyway.
 */
export async function listGatedTools(deps: GateDeps): Promise<Tool[]> {
  const lists = await Promise.all(
    deps.upstreams.all.map(async (upstream) => {
      try {
        return { upstream, tools: await upstream.listTools() };
      } catch (err) {
        deps.log.warn({ upstream: upstream.name, err: (err as Error).message }, "tools/list of an MCP upstream failed; its tools are left out");
        return { upstream, tools: [] as Tool[] };
      }
    }),
  );
  const seen = new Set<string>();
  const out: Tool[] = [];
  for (const { upstream, tools } of lists) {
    for (const tool of tools) {
      const name = upstream.config.prefix + tool.name;
      // Two upstreams with the same prefixed name cannot both be called: routing picks the longest
      // prefix, so only the listed one is reachable.
      if (seen.has(name) || deps.upstreams.route(name)?.upstream !== upstream) {
        deps.log.warn({ upstream: upstream.name, tool: name }, "tool name hidden by another upstream's prefix; left out of tools/list");
        continue;
      }
      seen.add(name);
      out.push(marked(deps, tool, name));
    }
  }
  return out;
}

function marked(deps: GateDeps, tool: Tool, name: string): Tool {
  const policy = deps.config.policyOf(name);
  if (!policy.gated) return { ...tool, name, _meta: { ...tool._meta, [META.gated]: false } };
  const note =
    policy.pending === "wait"
      ? "[Countersign: each call needs approval; the call waits while a reviewer decides.]"
      : "[Countersign: each call needs approval; a call that needs a reviewer ends with the request id, call again once approved.]";
  return {
    ...tool,
    name,
    description: tool.description ? `${note} ${tool.description}` : note,
    _meta: { ...tool._meta, [META.gated]: true, [META.pending]: policy.pending },
  };
}

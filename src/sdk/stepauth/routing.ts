import { celEnv, CelScalar, isCelError, isCelList, mapType, parse, plan } from "@bufbuild/cel";
import type { Action, Principal } from "../../protocols/stepauth/authorization-request.js";
import { flattenEntries, flattenPrincipal } from "../../protocols/stepauth/flatten.js";
import { StepAuthError } from "./errors.js";

/**
 * SP-side routing (reference §9): a CEL script over `request` and `config` returns the names of the
 * authorizers to ask. `["$approve"]` / `["$deny"]` decide at once. Any failure (compile or runtime
 * error, not a list of strings, an empty list, an unknown name, a `$` name other than those two)
 * falls back to the default authorizer with `fellBack: true` and a `reason` to log: routing never
 * fails the request. No script sends to every authorizer.
 */
export interface RoutingAuthorizer {
  name: string;
  isDefault?: boolean;
}

/** The request as routing sees it: labeled entries are flattened (`request.action.details.device.serial`). */
export interface RoutingRequest {
  principal: Principal;
  action: Action;
  [member: string]: unknown;
}

export type RoutingResult = { kind: "approve" } | { kind: "deny" } | { kind: "send"; authorizers: string[]; fellBack: boolean; reason?: string };

export const MAX_ROUTING_SCRIPT_LENGTH = 8192;

const env = celEnv({ variables: { request: mapType(CelScalar.STRING, CelScalar.DYN), config: mapType(CelScalar.STRING, CelScalar.DYN) } });
type Program = (bindings: Record<string, unknown>) => unknown;
const programs = new Map<string, Program>();

export function evaluateRouting(input: { script?: string; request: RoutingRequest; config?: Record<string, unknown>; authorizers: readonly RoutingAuthorizer[] }): RoutingResult {
  const names = checkAuthorizers(input.authorizers);
  const fallback = (reason: string): RoutingResult => ({ kind: "send", authorizers: [names.defaultName], fellBack: true, reason });
  if (input.script === undefined || input.script.trim() === "") return { kind: "send", authorizers: [...names.all], fellBack: false };
  let result: unknown;
  try {
    result = compile(input.script)({ request: toCel(flattenRequest(input.request)), config: toCel(input.config ?? {}) });
  } catch (err) {
    return fallback(`routing script failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (isCelError(result)) return fallback(`routing script failed: ${(result as Error).message}`);
  if (!isCelList(result)) return fallback("routing script did not return a list");
  const chosen = [...(result as Iterable<unknown>)];
  if (!chosen.every((n): n is string => typeof n === "string")) return fallback("routing script returned a non-string");
  if (chosen.length === 0) return fallback("routing script returned an empty list");
  if (chosen.length === 1 && chosen[0] === "$approve") return { kind: "approve" };
  if (chosen.length === 1 && chosen[0] === "$deny") return { kind: "deny" };
  const reserved = chosen.find((n) => n.startsWith("$"));
  if (reserved !== undefined) return fallback(`routing script returned the reserved name ${reserved}`);
  const unknown = chosen.find((n) => !names.all.includes(n));
  if (unknown !== undefined) return fallback(`routing script returned the unknown authorizer ${unknown}`);
  return { kind: "send", authorizers: [...new Set(chosen)], fellBack: false };
}

/** A configuration error, not a routing outcome: thrown, because no fallback is well defined. */
function checkAuthorizers(authorizers: readonly RoutingAuthorizer[]): { all: string[]; defaultName: string } {
  if (!Array.isArray(authorizers) || authorizers.length === 0) throw new StepAuthError("invalid_options", "at least one authorizer is required");
  const all = authorizers.map((a) => a?.name);
  if (!all.every((n) => typeof n === "string" && n !== "" && !n.startsWith("$"))) throw new StepAuthError("invalid_options", "authorizer names must be non-empty and must not start with $");
  if (new Set(all).size !== all.length) throw new StepAuthError("invalid_options", "authorizer names must be unique");
  const defaults = authorizers.filter((a) => a.isDefault === true);
  if (defaults.length !== 1) throw new StepAuthError("invalid_options", `exactly one authorizer must be the default, found ${defaults.length}`);
  return { all, defaultName: defaults[0]!.name };
}

function compile(script: string): Program {
  const cached = programs.get(script);
  if (cached) return cached;
  if (script.length > MAX_ROUTING_SCRIPT_LENGTH) throw new Error(`script longer than ${MAX_ROUTING_SCRIPT_LENGTH} characters`);
  const program = plan(env, parse(script)) as unknown as Program;
  if (programs.size >= 256) programs.clear();
  programs.set(script, program);
  return program;
}

function flattenRequest(request: RoutingRequest): Record<string, unknown> {
  const action = request.action ?? ({} as Action);
  return { ...request, principal: flattenPrincipal(request.principal ?? { subject: "" }), action: { ...action, details: flattenEntries(action.details) } };
}

/** JSON objects become CEL maps (members with undefined dropped); arrays stay lists. */
function toCel(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toCel);
  if (value !== null && typeof value === "object") {
    return new Map(Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => [k, toCel(v)]));
  }
  return value;
}

/**
 * The request's other events a bundle may carry (`request_events`: approval, votes, burn, execution
 * report), each verified like the bundle's own event and required to be proven in the same checkpoint
 * as the bundle's inclusion, whose signature the main checks verify. So one bundle can prove
 * "approved, consumed once, executed with status 200". Pure; never throws for hostile values.
 *
 * A `token.executed` event is only worth its body: the report is its evidence chunk. So its body must
 * hash to its event_hash (a redacted one fails), it must carry the chunk, and the events it links must
 * be in the bundle with the types an approval and a burn have. Its type is committed to by the signed
 * event_uuid (event-uuid.ts), so a forger cannot rename it to escape these rules.
 */
import { eventTypeOfUuid } from "../core/event-uuid.js";
import { fail, pass, type BundleCheck } from "./bundle-verifier-checks.js";
import type { ParsedBundle, ParsedEvent } from "./bundle-verifier-schema.js";

/** One event of the bundle as a verifier lists it. */
export interface BundleEventSummary {
  event_type: string | null;
  event_uuid: string;
  leaf_index: number;
  /** Whether the body was recomputed to the event's hash; when not, `summary` says nothing about it. */
  body_verified: boolean;
  /** What the event says in short: the execution report's status and outcome, or the reason. */
  summary: string;
}

/** Whether an event's body hashes to its event_hash (never true for a redacted body). */
export type BodyVerified = (event: ParsedEvent) => boolean;

type RequestEvent = NonNullable<ParsedBundle["request_events"]>[number];

/** The events an execution report may name as its approval (requests/execution-event.ts writes them). */
const APPROVAL_EVENTS: ReadonlySet<string> = new Set(["clearance.approved", "review.approved", "token.minted"]);

/** The type the signed event_uuid commits to, else (another server's uuid) the stated, unsigned one. */
function typeOf(event: ParsedEvent): string | undefined {
  return eventTypeOfUuid(event.event_uuid) ?? event.event_type;
}

/** Either way of saying token.executed counts: the rules below must not be escaped by renaming it. */
export function isExecutionEvent(event: ParsedEvent): boolean {
  return eventTypeOfUuid(event.event_uuid) === "token.executed" || event.event_type === "token.executed";
}

/** The execution report a `token.executed` event carries as its evidence chunk, if any. */
function executionReport(event: ParsedEvent): Record<string, unknown> | undefined {
  return event.evidence_chunks.find((c) => c.type === "execution_report") as Record<string, unknown> | undefined;
}

/** A hostile bundle's text must not reach a terminal as control sequences. */
function printable(text: string): string {
  const clean = text.replace(/\p{Cc}/gu, "?");
  return clean.length > 120 ? `${clean.slice(0, 117)}...` : clean;
}

function summaryOf(event: ParsedEvent, verified: boolean): string {
  // An unverified body's status or reason is whatever the bundle's author wrote: never shown as a fact.
  if (!verified) return "body not verified";
  const report = executionReport(event);
  if (isExecutionEvent(event) && report) {
    const status = report.status === null ? "no status" : `status ${String(report.status)}`;
    const duration = report.duration === null || report.duration === undefined ? "" : `, ${String(report.duration)} ms`;
    return printable(`${status}, outcome ${String(report.outcome)}${duration}`);
  }
  return printable(event.reason);
}

/** Every event of the bundle in tree order: its own event and the request's others. */
export function bundleEvents(bundle: ParsedBundle, verified: BodyVerified): BundleEventSummary[] {
  const all = [{ event: bundle.event, inclusion: bundle.inclusion }, ...(bundle.request_events ?? [])];
  return all
    .map(({ event, inclusion }) => {
      const ok = verified(event);
      return {
        event_type: event.event_type === undefined ? null : printable(event.event_type),
        event_uuid: printable(event.event_uuid),
        leaf_index: inclusion.leaf_index,
        body_verified: ok,
        summary: summaryOf(event, ok),
      };
    })
    .sort((a, b) => a.leaf_index - b.leaf_index);
}

function sameTreeHeadCheck(bundle: ParsedBundle, item: RequestEvent): BundleCheck {
  const name = "same checkpoint";
  const [a, b] = [item.inclusion.checkpoint, bundle.inclusion.checkpoint];
  const differ = (["checkpoint_id", "checkpoint_hash", "tree_size", "root_hash"] as const).filter((f) => a[f] !== b[f]);
  if (item.event.request_id !== bundle.event.request_id) return fail(name, `request_id ${item.event.request_id} is not the bundle's ${bundle.event.request_id}`);
  return differ.length === 0
    ? pass(name, `proven in checkpoint ${b.checkpoint_id}, the bundle's inclusion checkpoint`)
    : fail(name, `its checkpoint is not the bundle's inclusion checkpoint (differs in ${differ.join(", ")})`);
}

/** Each event once: a repeated one would read as a second burn (or approval) that never happened. */
function distinctCheck(bundle: ParsedBundle): BundleCheck {
  const all = [{ event: bundle.event, inclusion: bundle.inclusion }, ...(bundle.request_events ?? [])];
  const [uuids, leaves, repeated] = [new Set<string>(), new Set<number>(), new Set<string>()];
  for (const { event, inclusion } of all) {
    if (uuids.has(event.event_uuid)) repeated.add(`event_uuid ${printable(event.event_uuid)}`);
    if (leaves.has(inclusion.leaf_index)) repeated.add(`leaf_index ${inclusion.leaf_index}`);
    uuids.add(event.event_uuid);
    leaves.add(inclusion.leaf_index);
  }
  return repeated.size === 0 ? pass("distinct events", `${all.length} different events`) : fail("distinct events", `repeated ${[...repeated].join(", ")}`);
}

/** What a report links to: `{uuid, hash}` of an event the bundle must hold, of one of `types`. */
function linkProblem(all: ParsedEvent[], ref: unknown, what: string, types: ReadonlySet<string>): string | undefined {
  const link = ref !== null && typeof ref === "object" ? (ref as Record<string, unknown>) : undefined;
  if (!link || typeof link.uuid !== "string" || typeof link.hash !== "string") return `it names no ${what}`;
  const target = all.find((e) => e.event_uuid === link.uuid && e.event_hash === link.hash);
  if (!target) return `the ${what} it names is not in the bundle`;
  const type = typeOf(target);
  if (type === undefined || !types.has(type)) return `the ${what} it names is ${type ?? "untyped"}, not ${[...types].join(" or ")}`;
  return undefined;
}

/**
 * A `token.executed` event names the approval and the burn it follows by event uuid and hash: both
 * must be events of this bundle of the right types, and the naming must be part of a verified body,
 * so the chain approval → burn → execution is proven, not only stated.
 */
function executionLinkCheck(bundle: ParsedBundle, event: ParsedEvent, verified: BodyVerified): BundleCheck[] {
  if (!isExecutionEvent(event)) return [];
  const name = "execution links";
  const report = executionReport(event);
  if (!report) return [fail(name, "a token.executed event must carry its execution_report evidence chunk")];
  if (!verified(event)) return [fail(name, "the event's body is not verified (redacted or altered), so the report and its links prove nothing")];
  const all = [bundle.event, ...(bundle.request_events ?? []).map((r) => r.event)];
  const approval = linkProblem(all, report.approval, "approval", APPROVAL_EVENTS);
  const burn = linkProblem(all, report.burn, "burn", new Set(["token.consumed"]));
  const problems = [approval, burn].filter((p): p is string => p !== undefined);
  if (problems.length > 0) return [fail(name, problems.join("; "))];
  const approvalType = typeOf(all.find((e) => e.event_uuid === (report.approval as Record<string, unknown>).uuid)!);
  return [pass(name, `follows ${approvalType} and token.consumed of this bundle`)];
}

/**
 * The checks of every request event, named `request event N (type): check`. `single` runs the checks
 * of a bundle's own event (receipt, hashes, type, inclusion) on a bundle made of that event.
 */
export function requestEventChecks(bundle: ParsedBundle, single: (sub: ParsedBundle) => BundleCheck[], verified: BodyVerified): BundleCheck[] {
  const checks: BundleCheck[] = [];
  const items = bundle.request_events ?? [];
  const named = (prefix: string, list: BundleCheck[]) => list.map((c) => ({ ...c, name: `${prefix}: ${c.name}` }));
  checks.push(...named("event", executionLinkCheck(bundle, bundle.event, verified)));
  if (items.length > 0) checks.push(distinctCheck(bundle));
  items.forEach((item, i) => {
    const prefix = `request event ${i + 1} (${item.event.event_type ?? "untyped"})`;
    const sub: ParsedBundle = { ...bundle, event: item.event, inclusion: item.inclusion, request_events: undefined };
    checks.push(...named(prefix, [...single(sub), sameTreeHeadCheck(bundle, item), ...executionLinkCheck(bundle, item.event, verified)]));
  });
  return checks;
}

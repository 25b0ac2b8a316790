import { z } from "zod";
import { canonicalJson } from "../tokens/canonical-json.js";

/** Longest constraint a grant may carry (a policy condition may be 2048; a grant's is a sentence, not a policy). */
export const MAX_CONSTRAINT_LENGTH = 2000;
/** Longest window: 30 days. A longer standing permission belongs in the policy itself. */
export const MAX_WINDOW_MINUTES = 43_200;

export const grantScopes = ["once", "session", "window"] as const;
export type GrantScope = (typeof grantScopes)[number];

/**
 * What an approving vote may widen its approval into (docs/grants.md). Strict, like the vote: a
 * misspelled `window_minute` must not silently become a grant of another length. `window_minutes`
 * is required for a window and refused otherwise, so one spec has one meaning.
 */
export const grantSpecSchema = z
  .strictObject({
    scope: z.enum(grantScopes),
    window_minutes: z.number().int().min(1).max(MAX_WINDOW_MINUTES).optional(),
    constraint: z.string().trim().min(1).max(MAX_CONSTRAINT_LENGTH).optional(),
  })
  .refine((g) => (g.scope === "window") === (g.window_minutes !== undefined), {
    message: "window_minutes is required with scope window, and only then",
    path: ["window_minutes"],
  });
export type GrantSpec = z.infer<typeof grantSpecSchema>;

/**
 * The spec in its one committed form: every member present (null when absent). This is what the
 * passkey challenge commits to and what two votes are compared by.
 */
export interface CommittedGrantSpec {
  scope: GrantScope;
  window_minutes: number | null;
  constraint: string | null;
}

export function committedSpec(spec: GrantSpec | null | undefined): CommittedGrantSpec | null {
  if (!spec) return null;
  return { scope: spec.scope, window_minutes: spec.window_minutes ?? null, constraint: spec.constraint ?? null };
}

/** A spec that widens nothing (absent, or scope once) is the same as no spec. */
export function widens(spec: CommittedGrantSpec | null): spec is CommittedGrantSpec & { scope: "session" | "window" } {
  return spec !== null && spec.scope !== "once";
}

/** Why two votes' specs differ, in words, or undefined when they are the same. */
export function specDifference(first: CommittedGrantSpec | null, next: CommittedGrantSpec | null): string | undefined {
  const a = first ?? committedSpec({ scope: "once" });
  const b = next ?? committedSpec({ scope: "once" });
  if (canonicalJson(a) === canonicalJson(b)) return undefined;
  const show = (s: CommittedGrantSpec | null) =>
    !s || s.scope === "once" ? "no grant (once)" : `${s.scope}${s.window_minutes ? ` ${s.window_minutes} min` : ""}${s.constraint ? ` where ${s.constraint}` : ""}`;
  return `the first approval granted ${show(a)}; this vote grants ${show(b)}`;
}

import YAML from "yaml";
import { z } from "zod";
import { AppError } from "../errors.js";
import { windowStart } from "../judge/replay/replay-report.js";
import { registerPolicySchema, type PolicyDocument } from "../policies/policy-schema.js";
import { candidateTextProblem, duplicateKey } from "./candidate-text.js";

/** POST /policies/{id}/replay (docs/shadow-mode.md#replay). */
export const MAX_REPLAY_LIMIT = 100_000;
export const DEFAULT_REPLAY_LIMIT = 10_000;
const MAX_CANDIDATE_TEXT = 512 * 1024;

const since = z
  .string()
  .min(2)
  .max(40)
  // Only the form is checked here, and it does not depend on the time: the service takes the window's
  // start from the injected clock (replay-service.ts).
  .refine((s) => windowStart(s, new Date(0)) !== undefined, 'a duration back from now ("30d", "12h", "90m") or an ISO 8601 time');

/**
 * `candidate`: the policy document as POST /register-policy takes it, or its text (YAML or JSON, as
 * `countersign policies apply` reads a file; the console pastes it). Strict: a misspelled member of
 * the body is a 400, as everywhere.
 */
export const replayBodySchema = z.strictObject({
  candidate: z.union([z.string().min(1).max(MAX_CANDIDATE_TEXT), z.record(z.string(), z.unknown())]),
  since: since.default("30d"),
  limit: z.number().int().min(1).max(MAX_REPLAY_LIMIT).default(DEFAULT_REPLAY_LIMIT),
  with_llm: z.boolean().default(false),
});
export type ReplayBody = z.infer<typeof replayBodySchema>;

/** The same body as the OpenAPI document shows it: the candidate as a policy document or its text. */
export const replayBodyDocSchema = replayBodySchema.extend({ candidate: z.union([registerPolicySchema, z.string().min(1).max(MAX_CANDIDATE_TEXT)]) });

const candidateOnly = z.strictObject({ candidate: registerPolicySchema });

const invalidText = (message: string) =>
  new AppError("validation_failed", `candidate: not valid YAML or JSON (${message})`, { errors: [{ path: "candidate", message }] });

/** The candidate as a validated policy document: 400 naming the member (candidate.…) when it is not one. */
export function candidateDocument(raw: ReplayBody["candidate"]): PolicyDocument {
  let value: unknown = raw;
  if (typeof raw === "string") {
    const tooCostly = candidateTextProblem(raw);
    if (tooCostly) throw invalidText(tooCostly);
    // uniqueKeys off: the parser's own check compares every key with every other (seconds of blocked
    // event loop for a long map); duplicateKey does the same check in one pass.
    const docs = YAML.parseAllDocuments(raw, { uniqueKeys: false });
    const list = Array.isArray(docs) ? docs : [docs];
    if (list.length !== 1) throw new AppError("validation_failed", `candidate: the text holds ${list.length} YAML documents; give one policy`, { errors: [{ path: "candidate", message: "one policy document expected" }] });
    const [doc] = list;
    if (doc!.errors.length > 0) throw invalidText(doc!.errors[0]!.message.split("\n")[0]!);
    const duplicate = duplicateKey(doc!);
    if (duplicate !== undefined) throw invalidText(`Map keys must be unique: ${JSON.stringify(duplicate).slice(0, 100)} appears twice`);
    try {
      value = doc!.toJS({ maxAliasCount: 100 });
    } catch (err) {
      // An alias bomb (the parser refuses to expand it: a ReferenceError), or another structure it cannot build.
      throw invalidText(err instanceof Error ? err.message.split("\n")[0]! : "unreadable");
    }
  }
  return candidateOnly.parse({ candidate: value }).candidate;
}

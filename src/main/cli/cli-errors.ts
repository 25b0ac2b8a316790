/**
 * The CLI's exit codes (docs/cli.md): 0 ok, 1 the command ran and failed, 2 it was used wrongly.
 * Commands throw these; the entrypoint prints the message (never a stack trace) and exits.
 */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** Wrong arguments or options, or a combination that cannot work: exit 2. */
export class UsageError extends Error {}

/** The command ran and failed (no such key, an invalid policy file, a vault error): exit 1. */
export class CommandError extends Error {}

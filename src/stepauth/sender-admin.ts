import { z } from "zod";
import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import { parsePublicKeyset, type PublicKeyset } from "../protocols/stepauth/keyset.js";
import { isValidId } from "../protocols/stepauth/wire-rules.js";
import { parseCallbackPattern } from "./callback-pattern.js";
import { getSender, insertSender, listSenders, updateSender, type StepAuthSender } from "./sender-store.js";

/** Most keysets one sender may have registered at once (its current one and those it rotates to or from). */
export const MAX_SENDER_KEYSETS = 8;

const keysets = z
  .array(z.unknown())
  .min(1)
  .max(MAX_SENDER_KEYSETS)
  .describe("The sender's public keysets: the SDK's hybrid wire keyset {keysetId, keys: [{idx: 0, alg: ed25519, pub}, {idx: 1, alg: ml-dsa-65, pub}]}, or a seed-era single Ed25519 key {keyId, publicKey} (SPKI DER or raw 32 bytes, base64).");
const callbackPattern = z
  .string()
  .min(1)
  .max(2048)
  .nullable()
  .describe("Where decisions may be delivered: an exact https URL, or a prefix ending in `*` that reaches into the path (https://sp.example.com/callbacks/*); http only to localhost or 127.0.0.1. null: poll only.");

/** POST /stepauth/senders. */
export const senderCreateSchema = z.strictObject({
  entity: z.string().refine(isValidId, "1-256 printable ASCII characters, no '#'").describe("The sender's StepAuth entity: the senderId of its requests."),
  keysets,
  callback_pattern: callbackPattern.default(null),
  description: z.string().max(500).default(""),
});

/** PATCH /stepauth/senders/{id}: what is given changes; `disabled: false` enables a removed sender. */
export const senderUpdateSchema = z.strictObject({
  keysets: keysets.optional(),
  callback_pattern: callbackPattern.optional(),
  description: z.string().max(500).optional(),
  disabled: z.boolean().optional(),
});

export function senderView(s: StepAuthSender) {
  return {
    id: s.id,
    entity: s.entity,
    keysets: s.keysets,
    callback_pattern: s.callback_pattern,
    description: s.description,
    disabled_at: s.disabled_at ? new Date(s.disabled_at).toISOString() : null,
    created_at: new Date(s.created_at).toISOString(),
  };
}

/** The registered SPs, for the admin API and the CLI. */
export class SenderAdmin {
  constructor(private readonly deps: { clock: Clock }) {}

  async create(sql: Sql, body: z.infer<typeof senderCreateSchema>) {
    const created = await insertSender(sql, {
      entity: body.entity,
      keysets: checkedKeysets(body.keysets),
      callbackPattern: checkedPattern(body.callback_pattern),
      description: body.description,
      now: this.deps.clock.now(),
    });
    return senderView(created);
  }

  async list(sql: Sql) {
    return { senders: (await listSenders(sql)).map(senderView) };
  }

  async get(sql: Sql, id: string) {
    return senderView(found(await getSender(sql, id), id));
  }

  async update(sql: Sql, id: string, body: z.infer<typeof senderUpdateSchema>) {
    const updated = await updateSender(sql, id, {
      keysets: body.keysets === undefined ? undefined : checkedKeysets(body.keysets),
      callbackPattern: body.callback_pattern === undefined ? undefined : checkedPattern(body.callback_pattern),
      description: body.description,
      disabled: body.disabled,
      now: this.deps.clock.now(),
    });
    return senderView(found(updated, id));
  }

  /** Removal disables: the sender's requests and replay state stay, and it can be enabled again. */
  async remove(sql: Sql, id: string) {
    return this.update(sql, id, { disabled: true });
  }
}

function found(s: StepAuthSender | undefined, id: string): StepAuthSender {
  if (!s) throw new AppError("stepauth_sender_not_found", `No StepAuth sender ${id.slice(0, 128)}`);
  return s;
}

function checkedKeysets(values: unknown[]): PublicKeyset[] {
  const out: PublicKeyset[] = [];
  values.forEach((value, i) => {
    const parsed = parsePublicKeyset(value);
    if (!parsed.ok) throw invalid(`keysets.${i}`, parsed.reason);
    if (out.some((k) => k.keysetId === parsed.keyset.keysetId)) throw invalid(`keysets.${i}`, `keysetId ${parsed.keyset.keysetId} is given twice`);
    out.push(parsed.keyset);
  });
  return out;
}

function checkedPattern(raw: string | null): string | null {
  if (raw === null) return null;
  const parsed = parseCallbackPattern(raw);
  if (!parsed.ok) throw invalid("callback_pattern", parsed.reason);
  return parsed.text;
}

function invalid(path: string, message: string): AppError {
  return new AppError("validation_failed", `${path}: ${message}`, { errors: [{ path, message }] });
}

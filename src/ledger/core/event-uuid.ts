import { LEDGER_EVENT_TYPES, type LedgerEventType } from "./wire.js";

/**
 * The event type is not among the fields the protocol hashes (§4.2) or signs in the receipt (§4.4),
 * but event_uuid is in both. So event_uuid is an RFC 9562 UUIDv8 (the version for custom layouts)
 * whose 4 bits after the version nibble carry the type's code: `xxxxxxxx-xxxx-8Txx-yxxx-xxxxxxxxxxxx`
 * with T = index in LEDGER_EVENT_TYPES and 118 random bits. Relabelling a stored event's type then
 * breaks its hash and receipt, and any verifier can read the type back from the signed uuid.
 */

export function eventUuidFor(type: LedgerEventType): string {
  const code = LEDGER_EVENT_TYPES.indexOf(type);
  if (code < 0 || code > 15) throw new Error(`no uuid code for event type ${type}`);
  // randomUUID draws from a cached entropy pool (randomBytes per call costs a syscall on the hot
  // path); it already has the RFC 9562 variant, so only the version nibble and the code change.
  // The WebCrypto global (Node's is the same function as node:crypto's): this file is on the SDK's path.
  const v4 = globalThis.crypto.randomUUID();
  return `${v4.slice(0, 14)}8${code.toString(16)}${v4.slice(16)}`;
}

const UUID_V8 = /^[0-9a-f]{8}-[0-9a-f]{4}-8([0-9a-f])[0-9a-f]{2}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The type a uuid commits to, or undefined when it is not one of ours (e.g. a protocol test vector). */
export function eventTypeOfUuid(uuid: string): LedgerEventType | undefined {
  const m = UUID_V8.exec(uuid);
  return m ? LEDGER_EVENT_TYPES[parseInt(m[1]!, 16)] : undefined;
}

/**
 * Offline verification of a proof bundle (`GET /ledger/proof/bundle`, wire protocol §2.11) for
 * auditors and `countersign verify-bundle`. Pure except for Ed25519 verification.
 *
 * Deliberately stricter than the SDK's verifyLedgerProofBundle (§4.8), which throws at the first
 * failure and skips several checks ("Deliberately not checked by the bundle path"): every check here
 * runs and is reported on its own, including the event hash, the leaf hash, the algorithms, the
 * checkpoint hashes, the consistency checkpoints' signatures and the bundle's internal links. A
 * check that cannot run because an input it needs is broken fails with the reason instead of
 * passing silently. Hostile input never throws: a malformed bundle is a failed "shape" check.
 *
 * Signatures and checkpoint hashes are computed over the payload bytes as served (that is what was
 * signed); the separate "payload" checks bind those bytes to the JSON fields by rebuilding them.
 */
import { eventTypeOfUuid } from "../core/event-uuid.js";
import {
  type BundleCheck,
  c2spCheck,
  checkpointChecks,
  consistencyChecks,
  consistencyCoverageNote,
  fail,
  inclusionProofCheck,
  pass,
  unhex,
} from "./bundle-verifier-checks.js";
import { decodeBase64Lenient, keysForKid, type KeySource, type TrustedKeys, verifyEd25519 } from "./bundle-verifier-keys.js";
import { MAX_REQUEST_EVENTS, parseProofBundle, type ParsedBundle, type ParsedEvent } from "./bundle-verifier-schema.js";
import { bundleEvents, isExecutionEvent, requestEventChecks, type BundleEventSummary } from "./bundle-verifier-request-events.js";
import { witnessCheck, type WitnessPolicy, type WitnessReportEntry } from "./bundle-verifier-witnesses.js";
import { passkeyChecks, type PasskeyApprovalReport } from "./bundle-verifier-passkeys.js";
import { eventHash, receiptPayload, type LedgerEvent } from "../core/event-hash.js";
import { leafHash } from "../core/merkle.js";
import { bytesEqual, toHex } from "../core/bytes.js";

export { type BundleCheck } from "./bundle-verifier-checks.js";
export { type PasskeyApprovalReport } from "./bundle-verifier-passkeys.js";
export { MAX_WITNESS_KEYS, type WitnessPolicy, type WitnessReportEntry } from "./bundle-verifier-witnesses.js";
export { isLedgerError, LEDGER_ERROR_CODES, LedgerError, type LedgerErrorCode } from "../core/ledger-error.js";
export {
  trustedKeysFromBundle,
  trustedKeysFromJwks,
  trustedKeysFromKeyString,
  TRUSTED_KEYS_ERROR_CODES,
  type KeySource,
  type TrustedKeys,
} from "./bundle-verifier-keys.js";

export interface BundleReport {
  /** True only when there is at least one check and every check passed. */
  ok: boolean;
  checks: BundleCheck[];
  keySource: KeySource;
  /** What the result does and does not mean (key provenance, parts the bundle did not include). */
  notes: string[];
  /** The bundle's events in tree order (its own and the request's others); absent when it did not parse. */
  events?: BundleEventSummary[];
  /** With a witness policy: each trusted witness and whether it cosigned the bundle's checkpoint. */
  witnesses?: WitnessReportEntry[];
  /** Passkey-signed approvals the bundle's events carry, each with whether it verified offline (check "passkey approvals"). */
  approvals?: PasskeyApprovalReport[];
  /**
   * True when the request's events commit to a passkey rule (it was reviewed under `require_passkey`):
   * the "passkey approvals" check then also requires every approval in the bundle to carry its signatures.
   */
  passkey_required?: boolean;
}

export interface VerifyBundleOptions {
  /** Fail the "event hash" check for a redacted row (intent_hash "" and nothing committed). */
  requireBody?: boolean;
  /** Check the C2SP checkpoint's witness cosignatures ("witness cosignatures"): these keys, at least `require` (default 1) of them, on the log `origin`. */
  witnesses?: WitnessPolicy;
}

export const BUNDLE_KEYS_NOTE =
  "keys come from the bundle itself: the signatures prove the bundle is internally consistent (integrity), not who signed it; verify with keys obtained independently (JWKS or a pinned key) to authenticate the log";

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return bytesEqual(a, b);
}

/** §4.4: rebuild the receipt payload from the event and compare it with the served bytes. */
function receiptPayloadCheck(event: ParsedEvent, served: Uint8Array | null): BundleCheck {
  const name = "receipt payload";
  if (event.receipt_payload === "") return fail(name, "receipt_payload is missing");
  if (!served) return fail(name, "receipt_payload is not base64url");
  let rebuilt: Uint8Array;
  try {
    rebuilt = receiptPayload(event);
  } catch (err) {
    return fail(name, `cannot rebuild: ${err instanceof Error ? err.message : String(err)}`);
  }
  return sameBytes(rebuilt, served) ? pass(name, "matches the event fields") : fail(name, "differs from the payload rebuilt from the event fields");
}

/** §4.4: Ed25519 by `receipt_key_id` over the served receipt payload bytes. */
function receiptSignatureCheck(event: ParsedEvent, served: Uint8Array | null, keys: TrustedKeys): BundleCheck {
  const name = "receipt signature";
  const kid = event.receipt_key_id;
  if (event.receipt_algorithm !== "Ed25519") return fail(name, `receipt_algorithm ${JSON.stringify(event.receipt_algorithm)} is not "Ed25519"`);
  if (!served) return fail(name, "skipped: receipt_payload is missing or not base64url");
  const signature = decodeBase64Lenient(event.receipt_signature);
  if (!signature || signature.length !== 64) return fail(name, "receipt_signature is not a base64url 64-byte signature");
  const candidates = keysForKid(keys, kid);
  if (candidates.length === 0) return fail(name, `no trusted key for kid ${JSON.stringify(kid)}`);
  return candidates.some((k) => verifyEd25519(k, served, signature))
    ? pass(name, `kid ${kid}`)
    : fail(name, `does not verify with the trusted key for kid ${JSON.stringify(kid)}`);
}

/** The hashed fields of the event as served: snake_case keys, never the SDK's camelCased view (§4.12). */
function hashedEvent(event: ParsedEvent, intentHash: string): LedgerEvent {
  return { ...event, intent_hash: intentHash, canonical_version: event.canonical_version as LedgerEvent["canonical_version"] };
}

/**
 * §4.2. A row served with intent_hash "" is redacted (§4.7 step 3a); our vault puts the hashed value in
 * `intent_hash_committed` when it only blanks intent_hash to stop the SDK mis-hashing the row (§4.12).
 */
function eventHashCheck(event: ParsedEvent, options: VerifyBundleOptions): BundleCheck {
  const name = "event hash";
  // An execution report is its body: accepted redacted, an edited report would pass (request-events).
  if (isExecutionEvent(event) && !options.requireBody) return eventHashCheck(event, { ...options, requireBody: true });
  let intentHash = event.intent_hash;
  let how = "recomputed from the event body";
  if (event.intent_hash === "") {
    if (event.intent_hash_committed === undefined) {
      const detail = "redacted: intent_hash is empty and nothing is committed, so the body is not verifiable (receipt and proofs still are)";
      return options.requireBody ? fail(name, detail) : pass(name, detail);
    }
    intentHash = event.intent_hash_committed;
    how = "recomputed with intent_hash_committed (row served with intent_hash \"\")";
  } else if (event.intent_hash_committed !== undefined && event.intent_hash_committed !== event.intent_hash) {
    return fail(name, "intent_hash and intent_hash_committed differ");
  }
  let recomputed: string;
  try {
    recomputed = eventHash(hashedEvent(event, intentHash));
  } catch (err) {
    return fail(name, `cannot recompute: ${err instanceof Error ? err.message : String(err)}`);
  }
  return recomputed === event.event_hash ? pass(name, how) : fail(name, `event_hash ${event.event_hash} but the body hashes to ${recomputed}`);
}

/** The body recomputes to event_hash: a redacted body (nothing committed) is not verified. */
function bodyVerified(event: ParsedEvent): boolean {
  return eventHashCheck(event, { requireBody: true }).ok;
}

/** §4.3: leaf_hash = SHA-256(0x00 || raw32(event_hash)). */
function leafHashCheck(event: ParsedEvent): BundleCheck {
  const expected = toHex(leafHash(unhex(event.event_hash)));
  return expected === event.leaf_hash
    ? pass("leaf hash", "RFC 6962 leaf hash of event_hash")
    : fail("leaf hash", `leaf_hash ${event.leaf_hash} but the leaf hash of event_hash is ${expected}`);
}

/** The inclusion proof must be about this event (§4.8 leaves these unchecked). */
function inclusionBindingCheck(bundle: ParsedBundle): BundleCheck {
  const { event, inclusion } = bundle;
  const differ: string[] = (["leaf_hash", "event_hash", "event_uuid", "request_id"] as const).filter((f) => inclusion[f] !== event[f]);
  // The row's own leaf_index is nullable (unsequenced rows); once set it must be the proven index.
  if (event.leaf_index !== null && event.leaf_index !== undefined && event.leaf_index !== inclusion.leaf_index) differ.push("leaf_index");
  return differ.length === 0
    ? pass("inclusion binding", "inclusion names this event")
    : fail("inclusion binding", `inclusion and event differ in ${differ.join(", ")}`);
}

function keyNotes(keys: TrustedKeys): string[] {
  const notes = keys.source === "bundle" ? [BUNDLE_KEYS_NOTE] : [];
  return notes.concat((keys.warnings ?? []).map((w) => `key warning: ${w}`));
}

/** Our event_uuid is a UUIDv8 that commits to the event type (event-uuid.ts); other servers' uuids do not. */
function eventTypeChecks(event: ParsedBundle["event"], notes: string[]): BundleCheck[] {
  if (event.event_type === undefined) return [];
  const committed = eventTypeOfUuid(event.event_uuid);
  if (committed === undefined) {
    notes.push(`event_type ${event.event_type} is not committed to by this event_uuid; it is unsigned metadata here`);
    return [];
  }
  return [
    committed === event.event_type
      ? pass("event type", `${committed}, committed to by the signed event_uuid`)
      : fail("event type", `the bundle says ${event.event_type} but the signed event_uuid commits to ${committed}`),
  ];
}

/** The checks of the bundle's event itself: receipt, hashes, type and its inclusion proof. */
function eventChecks(bundle: ParsedBundle, keys: TrustedKeys, options: VerifyBundleOptions, notes: string[]): BundleCheck[] {
  const { event } = bundle;
  const receiptBytes = event.receipt_payload === "" ? null : decodeBase64Lenient(event.receipt_payload);
  return [
    receiptPayloadCheck(event, receiptBytes),
    receiptSignatureCheck(event, receiptBytes, keys),
    eventHashCheck(event, options),
    leafHashCheck(event),
    ...eventTypeChecks(event, notes),
    inclusionBindingCheck(bundle),
    inclusionProofCheck(bundle),
  ];
}

function runChecks(bundle: ParsedBundle, keys: TrustedKeys, options: VerifyBundleOptions, notes: string[]): BundleCheck[] {
  const { inclusion, consistency } = bundle;
  const own = eventChecks(bundle, keys, options, notes);
  const checks: BundleCheck[] = [
    pass("shape", "bundle matches the wire schema"),
    // The inclusion proof (last of `own`) after the checkpoint it leads to, as verifiers report it.
    ...own.slice(0, -1),
    ...checkpointChecks("inclusion checkpoint", inclusion.checkpoint, keys),
    own[own.length - 1]!,
    ...requestEventChecks(bundle, (sub) => eventChecks(sub, keys, options, notes), bodyVerified),
  ];
  if (consistency) {
    checks.push(
      ...checkpointChecks("from checkpoint", consistency.from_checkpoint, keys),
      ...checkpointChecks("to checkpoint", consistency.to_checkpoint, keys),
      ...consistencyChecks(bundle, consistency),
    );
    const coverage = consistencyCoverageNote(bundle, consistency);
    if (coverage) notes.push(coverage);
  } else {
    notes.push("no consistency proof in the bundle: the inclusion checkpoint is the only tree head checked");
  }
  if ((bundle.request_events?.length ?? 0) >= MAX_REQUEST_EVENTS) {
    notes.push(
      `request_events holds ${MAX_REQUEST_EVENTS} events, the most a bundle carries: the request may have more (the vault leaves out later review votes first; the approval, burn and execution report are always included)`,
    );
  }
  if (bundle.c2sp_checkpoint !== undefined) checks.push(c2spCheck(bundle, bundle.c2sp_checkpoint, keys));
  else notes.push("no C2SP checkpoint in the bundle");
  return checks;
}

/** Verifies every part of a proof bundle against `keys`. Never throws. */
export function verifyProofBundle(bundle: unknown, keys: TrustedKeys, options: VerifyBundleOptions = {}): BundleReport {
  const notes = keyNotes(keys);
  let checks: BundleCheck[];
  let events: BundleEventSummary[] | undefined;
  let witnesses: WitnessReportEntry[] | undefined;
  let approvals: PasskeyApprovalReport[] | undefined;
  let passkeyRequired = false;
  try {
    const parsed = parseProofBundle(bundle);
    checks = parsed.ok ? runChecks(parsed.bundle, keys, options, notes) : [fail("shape", parsed.detail)];
    if (parsed.ok) events = bundleEvents(parsed.bundle, bodyVerified);
    if (parsed.ok) {
      const pk = passkeyChecks(parsed.bundle, (sub) => eventChecks(sub, keys, options, notes), bodyVerified);
      checks.push(...pk.checks);
      if (pk.approvals.length > 0) approvals = pk.approvals;
      passkeyRequired = pk.required !== undefined;
    }
    if (parsed.ok && options.witnesses !== undefined) {
      const w = witnessCheck(parsed.bundle, options.witnesses, (keys.noteVerifiers ?? []).map((v) => v.name));
      checks.push(w.check);
      witnesses = w.witnesses;
      if (w.note) notes.push(w.note);
    }
  } catch (err) {
    // Only a bug (or an exotic caller-built object) gets here; report it as a failure, never pass.
    checks = [fail("internal", `verification stopped: ${err instanceof Error ? err.message : String(err)}`)];
  }
  const report: BundleReport = { ok: checks.length > 0 && checks.every((c) => c.ok), checks, keySource: keys.source, notes };
  if (events) report.events = events;
  if (witnesses) report.witnesses = witnesses;
  if (approvals) report.approvals = approvals;
  if (passkeyRequired) report.passkey_required = true;
  return report;
}

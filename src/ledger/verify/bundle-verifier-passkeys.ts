/**
 * Offline checks of passkey-signed approvals in a proof bundle (docs/passkeys.md). For every passkey
 * chunk of the bundle's events (a vote's WebAuthn assertion, ledger/core/passkey-chunk.ts):
 *
 * - the event's body verifies (a chunk in an unverified body is whatever the bundle's author wrote);
 * - the challenge is the commitment recomputed from the event's request_id and tool_name and the
 *   chunk's committed argument hash, policy version and grant; and what was signed is what THIS event
 *   approves: the argument hash is the event's edit chunk's (edited arguments) when it has one, else
 *   its intent hash, and the grant is the event's grant chunk (scope and constraint), or none;
 * - the credential's public key is the one a `passkey.enrolled` event in `passkey_enrolments`
 *   committed, that event is proven in the bundle's tree head (receipt, hashes, type, inclusion),
 *   precedes the vote in the log, and enrolled this credential to this reviewer;
 * - the assertion itself (webauthn-assertion.ts): RP ID hash, UP and UV flags, type, origin on the RP
 *   ID, and the signature over authenticatorData ‖ SHA-256(clientDataJSON).
 *
 * And the rule itself: a request reviewed under `require_passkey` says so in its review events (a
 * `review_rules` chunk, ledger/core/ledger-event.ts passkeyRuleChunk). Then every approving vote's
 * event (review.vote) must carry a verified signature, and the approval's (review.approved) verified
 * signatures of as many distinct reviewers as the rule's approvals: a bundle of such an approval
 * without them fails, rather than passing a check that found nothing to check.
 *
 * Pure and total: hostile input gives failed checks, never a throw.
 */
import { fromBase64 } from "../core/bytes.js";
import { eventTypeOfUuid } from "../core/event-uuid.js";
import { assertionDigest, commitmentInputOf, passkeyChunksOf, type PasskeyChunk } from "../core/passkey-chunk.js";
import { passkeyCommitment, passkeyCommitmentHex } from "../core/passkey-commitment.js";
import { passkeyEnrolmentOf, type PasskeyEnrolmentDetails } from "../core/passkey-enrolment.js";
import { checkAssertion } from "../core/webauthn-assertion.js";
import { fail, pass, type BundleCheck } from "./bundle-verifier-checks.js";
import type { BodyVerified } from "./bundle-verifier-request-events.js";
import type { ParsedBundle, ParsedEvent } from "./bundle-verifier-schema.js";

/** One passkey-signed approval as the report lists it (the token's `approvals` name the same digests). */
export interface PasskeyApprovalReport {
  credential_id: string;
  /** The reviewer the credential was enrolled to, as its verified enrolment event says; null when that event does not verify. */
  reviewer_id: string | null;
  /** True only when every check of every event carrying this assertion passed. */
  verified: boolean;
  /** hex SHA-256 of the assertion (the token's approvals[].assertion_digest). */
  assertion_digest: string;
  /** The events that carry it (a vote's own event, and the final approval's). */
  event_uuids: string[];
  /** The browser origin that signed, when clientDataJSON could be read. */
  origin?: string;
  /** Why it does not verify; absent when it does. */
  problems?: string[];
}

interface Enrolment {
  leaf: number;
  details?: PasskeyEnrolmentDetails;
  problem?: string;
}

type Single = (sub: ParsedBundle) => BundleCheck[];
type Item = { event: ParsedEvent; inclusion: ParsedBundle["inclusion"] };

const short = (text: string) => (text.length > 24 ? `${text.slice(0, 21)}...` : text).replace(/\p{Cc}/gu, "?");

/** Each enrolment's own checks (named `passkey enrolment N: …`), and what it enrols when all pass. */
function enrolmentChecks(bundle: ParsedBundle, single: Single, verified: BodyVerified): { checks: BundleCheck[]; byUuid: Map<string, Enrolment> } {
  const checks: BundleCheck[] = [];
  const byUuid = new Map<string, Enrolment>();
  (bundle.passkey_enrolments ?? []).forEach((item, i) => {
    const prefix = `passkey enrolment ${i + 1}`;
    const sub: ParsedBundle = { ...bundle, event: item.event, inclusion: item.inclusion, request_events: undefined, passkey_enrolments: undefined };
    const own = [...single(sub), sameTreeHead(bundle, item)];
    const record = recordOf(item.event, verified);
    own.push(record.ok ? pass("enrolment record", `credential ${short(record.enrolment.credential_id)} of reviewer ${short(record.enrolment.reviewer_id)}`) : fail("enrolment record", record.problem));
    checks.push(...own.map((c) => ({ ...c, name: `${prefix}: ${c.name}` })));
    const failed = own.find((c) => !c.ok);
    byUuid.set(item.event.event_uuid, { leaf: item.inclusion.leaf_index, ...(failed ? { problem: `its enrolment event does not verify (${failed.name}: ${failed.detail})` } : { details: (record as { enrolment: PasskeyEnrolmentDetails }).enrolment }) });
  });
  return { checks, byUuid };
}

function recordOf(event: ParsedEvent, verified: BodyVerified): { ok: true; enrolment: PasskeyEnrolmentDetails } | { ok: false; problem: string } {
  if (eventTypeOfUuid(event.event_uuid) !== "vault.audit") return { ok: false, problem: "its signed event_uuid does not commit to a vault.audit event" };
  if (!verified(event)) return { ok: false, problem: "its body is not verified (redacted or altered)" };
  const parsed = passkeyEnrolmentOf(event);
  return parsed.ok ? { ok: true, enrolment: parsed.enrolment } : { ok: false, problem: `it is not a passkey enrolment: ${parsed.problem}` };
}

function sameTreeHead(bundle: ParsedBundle, item: Item): BundleCheck {
  const [a, b] = [item.inclusion.checkpoint, bundle.inclusion.checkpoint];
  const differ = (["checkpoint_id", "checkpoint_hash", "tree_size", "root_hash"] as const).filter((f) => a[f] !== b[f]);
  return differ.length === 0 ? pass("same checkpoint", `proven in checkpoint ${b.checkpoint_id}`) : fail("same checkpoint", `not the bundle's inclusion checkpoint (differs in ${differ.join(", ")})`);
}

/** The argument hash an event binds: its intent hash (or the committed one of a row served blanked). */
function intentOf(event: ParsedEvent): string {
  return event.intent_hash === "" ? (event.intent_hash_committed ?? "") : event.intent_hash;
}

/** Why a chunk's signed terms are not what its event approves: the edited arguments' hash (else the request's) and the grant (else none). */
function termsProblems(chunk: PasskeyChunk, event: ParsedEvent): string[] {
  const problems: string[] = [];
  const edits = event.evidence_chunks.filter((c) => c.type === "edit");
  const edit = edits.length === 1 && typeof edits[0]!.hash === "string" ? edits[0]!.hash : undefined;
  if (edits.length > 1 || (edits.length === 1 && edit === undefined)) problems.push("the event's edit chunks are malformed");
  else if (edit !== undefined && chunk.argshash !== edit) problems.push("the signature is not over the edited arguments this approval binds");
  else if (edit === undefined && chunk.argshash !== intentOf(event)) problems.push("the signed argument hash is not the request's");
  const grants = event.evidence_chunks.filter((c) => c.type === "grant");
  const grant = grants[0];
  if (grants.length > 1) problems.push("the event records more than one grant");
  else if (grant && !chunk.grant) problems.push("the approval created a grant its signature does not cover");
  else if (!grant && chunk.grant) problems.push("the signature covers a grant this approval does not record");
  else if (grant && chunk.grant && (grant.scope !== chunk.grant.scope || grant.constraint !== (chunk.grant.constraint ?? ""))) {
    problems.push("the signed grant's scope or constraint is not the grant this approval records");
  }
  return problems;
}

/** Every problem of one chunk in one event; empty when it verifies. */
function chunkProblems(chunk: PasskeyChunk, item: Item, enrolments: Map<string, Enrolment>, verified: BodyVerified): { problems: string[]; origin?: string; reviewer: string | null } {
  const { event, inclusion } = item;
  if (!verified(event)) return { problems: ["the event's body is not verified (redacted or altered), so its assertion proves nothing"], reviewer: null };
  const problems: string[] = [];
  const input = commitmentInputOf(chunk, event);
  let challenge: Uint8Array;
  try {
    challenge = passkeyCommitment(input);
    if (passkeyCommitmentHex(input) !== chunk.commitment) problems.push("the recorded commitment is not the one recomputed from the event");
  } catch {
    return { problems: ["the committed fields cannot be hashed"], reviewer: null };
  }
  problems.push(...termsProblems(chunk, event));
  const enrolment = enrolments.get(chunk.enrolment);
  if (!enrolment) return { problems: [...problems, "its passkey.enrolled event is not in the bundle's passkey_enrolments"], reviewer: null };
  if (!enrolment.details) return { problems: [...problems, enrolment.problem!], reviewer: null };
  const d = enrolment.details;
  if (d.credential_id !== chunk.credential) problems.push("the enrolment event is for another credential");
  if (d.reviewer_id !== chunk.reviewer) problems.push("the credential is enrolled to another reviewer than the one recorded");
  if (enrolment.leaf >= inclusion.leaf_index) problems.push("the credential was enrolled after the vote");
  const bytes = [fromBase64(d.public_key_cose), fromBase64(chunk.authenticator), fromBase64(chunk.client), fromBase64(chunk.signature)];
  if (bytes.some((b) => b === null)) return { problems: [...problems, "a recorded key or assertion member is not base64url"], reviewer: d.reviewer_id };
  const [key, authenticator, client, signature] = bytes as Uint8Array[];
  const result = checkAssertion({ publicKeyCose: key!, authenticatorData: authenticator!, clientDataJSON: client!, signature: signature!, challenge, rpId: d.rp_id });
  return { problems: [...problems, ...result.problems], ...(result.origin !== undefined ? { origin: result.origin } : {}), reviewer: d.reviewer_id };
}

/** The strictest passkey rule the bundle's verified events commit to: the approvals it needs, or undefined when none requires a passkey. */
function requiredApprovals(items: Item[], verified: BodyVerified): number | undefined {
  let required: number | undefined;
  for (const { event } of items) {
    if (!verified(event)) continue;
    for (const c of event.evidence_chunks) {
      if (c.type !== "review_rules" || c.passkey !== true) continue;
      const n = typeof c.approvals === "number" && Number.isSafeInteger(c.approvals) && c.approvals > 1 ? c.approvals : 1;
      required = Math.max(required ?? 1, n);
    }
  }
  return required;
}

/** Under a passkey rule: each approving event's shortfall of verified signatures from distinct reviewers. */
function ruleProblems(items: Item[], verified: BodyVerified, required: number, good: Map<string, Set<string>>): { problems: string[]; approvals: number } {
  const problems: string[] = [];
  let approvals = 0;
  for (const { event } of items) {
    const type = eventTypeOfUuid(event.event_uuid);
    if (type !== "review.vote" && type !== "review.approved") continue;
    approvals++;
    const need = type === "review.approved" ? required : 1;
    if (!verified(event)) {
      problems.push(`${type} ${short(event.event_uuid)}: its body is not verified, so its signatures are unknown`);
      continue;
    }
    const signed = good.get(event.event_uuid)?.size ?? 0;
    if (signed < need) problems.push(`${type} ${short(event.event_uuid)} carries ${signed} of ${need} verified passkey signature${need === 1 ? "" : "s"} required by the request's passkey rule`);
  }
  return { problems, approvals };
}

/**
 * The "passkey approvals" checks and the report's approvals: nothing when the bundle has no passkey
 * chunk, enrolment or passkey rule. `required` is the rule's approvals when an event commits to one.
 */
export function passkeyChecks(bundle: ParsedBundle, single: Single, verified: BodyVerified): { checks: BundleCheck[]; approvals: PasskeyApprovalReport[]; required?: number } {
  const items: Item[] = [{ event: bundle.event, inclusion: bundle.inclusion }, ...(bundle.request_events ?? [])];
  const signed = items.flatMap((item) => passkeyChunksOf(item.event.evidence_chunks).map((chunk) => ({ chunk, item })));
  const { checks, byUuid } = enrolmentChecks(bundle, single, verified);
  const required = requiredApprovals(items, verified);
  if (signed.length === 0 && required === undefined) return { checks, approvals: [] };
  const byDigest = new Map<string, PasskeyApprovalReport>();
  // Per event, the reviewers whose signature in it verified (a rule counts distinct people, not chunks).
  const good = new Map<string, Set<string>>();
  for (const { chunk, item } of signed) {
    const digest = assertionDigest(chunk);
    const { problems, origin, reviewer } = chunkProblems(chunk, item, byUuid, verified);
    const entry = byDigest.get(digest) ?? { credential_id: chunk.credential, reviewer_id: reviewer, verified: true, assertion_digest: digest, event_uuids: [] };
    entry.event_uuids.push(item.event.event_uuid);
    if (origin !== undefined) entry.origin = origin;
    if (problems.length > 0) {
      entry.verified = false;
      entry.problems = [...(entry.problems ?? []), ...problems];
    } else if (reviewer !== null) {
      good.set(item.event.event_uuid, (good.get(item.event.event_uuid) ?? new Set()).add(reviewer));
    }
    byDigest.set(digest, entry);
  }
  const approvals = [...byDigest.values()];
  const bad = approvals.filter((a) => !a.verified).map((a) => `credential ${short(a.credential_id)}: ${a.problems!.join("; ")}`);
  const rule = required === undefined ? undefined : ruleProblems(items, verified, required, good);
  const problems = [...bad, ...(rule?.problems ?? [])];
  const verifiedText = `${approvals.length} passkey signature${approvals.length === 1 ? "" : "s"} verified against keys enrolled in this log`;
  const ruleText =
    required === undefined
      ? ""
      : rule!.approvals === 0
        ? `; a passkey is required (${required} approval${required === 1 ? "" : "s"}), and the bundle holds no approval yet`
        : `; a passkey is required (${required} approval${required === 1 ? "" : "s"}), and every approval in the bundle carries it`;
  checks.push(problems.length === 0 ? pass("passkey approvals", `${verifiedText}${ruleText}`) : fail("passkey approvals", problems.join(" | ")));
  return { checks, approvals, ...(required !== undefined ? { required } : {}) };
}

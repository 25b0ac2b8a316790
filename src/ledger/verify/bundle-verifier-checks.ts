/**
 * The tree-head checks of bundle-verifier.ts: Ledgix checkpoints (§4.5), the inclusion proof (§4.9),
 * the consistency proof and its checkpoints (§4.10) and the C2SP checkpoint note. Each returns checks
 * and never throws for hostile values: the bundle has already passed the schema (hashes are
 * lowercase 64-hex, counts are safe integers), and merkle.ts errors are turned into failures.
 */
import { allTrustedKeys, decodeBase64Lenient, keysForKid, type TrustedKeys, verifyEd25519 } from "./bundle-verifier-keys.js";
import type { ParsedBundle, ParsedCheckpoint } from "./bundle-verifier-schema.js";
import { bytesEqual, fromHex } from "../core/bytes.js";
import { checkpointHash, checkpointPayload } from "../core/event-hash.js";
import { LedgerError } from "../core/ledger-error.js";
import { verifyConsistency, verifyInclusion } from "../core/merkle.js";
import { parseVerifierKey, type NoteVerifier } from "../core/signed-note.js";
import { openCheckpoint } from "../core/tlog-checkpoint.js";

export interface BundleCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export const pass = (name: string, detail: string): BundleCheck => ({ name, ok: true, detail });
export const fail = (name: string, detail: string): BundleCheck => ({ name, ok: false, detail });

/** Hex the schema already validated (lowercase, 64 digits) to its 32 bytes. */
export function unhex(hex: string): Uint8Array {
  return fromHex(hex);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return bytesEqual(a, b);
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * §4.5 for one checkpoint, as three checks named `${role} payload|hash|signature`: the served payload
 * rebuilt from the JSON fields, checkpoint_hash over the served bytes, and the signer's signature.
 */
export function checkpointChecks(role: string, cp: ParsedCheckpoint, keys: TrustedKeys): BundleCheck[] {
  const id = `checkpoint ${cp.checkpoint_id}`;
  const served = cp.checkpoint_payload === "" ? null : decodeBase64Lenient(cp.checkpoint_payload);
  const missing = cp.checkpoint_payload === "" ? "checkpoint_payload is missing" : "checkpoint_payload is not base64url";

  let payload: BundleCheck;
  if (!served) {
    payload = fail(`${role} payload`, `${id}: ${missing}`);
  } else {
    try {
      payload = sameBytes(checkpointPayload(cp), served)
        ? pass(`${role} payload`, `${id} matches its fields`)
        : fail(`${role} payload`, `${id}: differs from the payload rebuilt from its fields`);
    } catch (err) {
      payload = fail(`${role} payload`, `${id}: cannot rebuild: ${message(err)}`);
    }
  }

  let hash: BundleCheck;
  if (!served) {
    hash = fail(`${role} hash`, `${id}: skipped: ${missing}`);
  } else {
    const recomputed = checkpointHash(served);
    hash = recomputed === cp.checkpoint_hash
      ? pass(`${role} hash`, `${id}`)
      : fail(`${role} hash`, `${id}: checkpoint_hash ${cp.checkpoint_hash} but the payload hashes to ${recomputed}`);
  }

  return [payload, hash, checkpointSignatureCheck(`${role} signature`, id, cp, served, missing, keys)];
}

function checkpointSignatureCheck(
  name: string,
  id: string,
  cp: ParsedCheckpoint,
  served: Uint8Array | null,
  missing: string,
  keys: TrustedKeys,
): BundleCheck {
  const kid = cp.signer_key_id;
  if (cp.signature_algorithm !== "Ed25519") return fail(name, `${id}: signature_algorithm ${JSON.stringify(cp.signature_algorithm)} is not "Ed25519"`);
  if (!served) return fail(name, `${id}: skipped: ${missing}`);
  const signature = decodeBase64Lenient(cp.checkpoint_signature);
  if (!signature || signature.length !== 64) return fail(name, `${id}: checkpoint_signature is not a base64url 64-byte signature`);
  const candidates = keysForKid(keys, kid);
  if (candidates.length === 0) return fail(name, `${id}: no trusted key for kid ${JSON.stringify(kid)}`);
  return candidates.some((k) => verifyEd25519(k, served, signature))
    ? pass(name, `${id}, kid ${kid}`)
    : fail(name, `${id}: does not verify with the trusted key for kid ${JSON.stringify(kid)}`);
}

/** §4.9 with the event's leaf_hash, and the sizes the bundle states must agree (§4.8 does not check that). */
export function inclusionProofCheck(bundle: ParsedBundle): BundleCheck {
  const name = "inclusion proof";
  const { event, inclusion } = bundle;
  const cp = inclusion.checkpoint;
  if (inclusion.tree_size !== cp.tree_size) return fail(name, `inclusion.tree_size ${inclusion.tree_size} is not the checkpoint's tree_size ${cp.tree_size}`);
  if (inclusion.leaf_index >= inclusion.tree_size) return fail(name, `leaf_index ${inclusion.leaf_index} is not below tree_size ${inclusion.tree_size}`);
  if (cp.root_hash === "") return fail(name, `checkpoint ${cp.checkpoint_id} has an empty root_hash`);
  try {
    const included = verifyInclusion(unhex(event.leaf_hash), inclusion.leaf_index, inclusion.tree_size, inclusion.path.map(unhex), unhex(cp.root_hash));
    return included
      ? pass(name, `leaf ${inclusion.leaf_index} in tree size ${inclusion.tree_size} of checkpoint ${cp.checkpoint_id}`)
      : fail(name, `path does not lead from leaf_hash to the root of checkpoint ${cp.checkpoint_id}`);
  } catch (err) {
    return fail(name, err instanceof LedgerError ? err.message : `unexpected: ${message(err)}`);
  }
}

type Consistency = NonNullable<ParsedBundle["consistency"]>;

/** The links between the bundle's checkpoints that the SDK leaves unchecked (§4.8). */
function consistencyChainCheck(bundle: ParsedBundle, c: Consistency): BundleCheck {
  const { from_checkpoint: from, to_checkpoint: to } = c;
  const inc = bundle.inclusion.checkpoint;
  const problems: string[] = [];
  const differ = (["checkpoint_id", "checkpoint_hash", "tree_size", "root_hash"] as const).filter((f) => to[f] !== inc[f]);
  if (differ.length > 0) problems.push(`to_checkpoint is not the inclusion checkpoint (differs in ${differ.join(", ")})`);
  if (from.checkpoint_id > to.checkpoint_id) problems.push(`from checkpoint_id ${from.checkpoint_id} is after to ${to.checkpoint_id}`);
  if (from.tree_size > to.tree_size) problems.push(`from tree_size ${from.tree_size} is larger than to ${to.tree_size}`);
  if (from.checkpoint_id === to.checkpoint_id && from.checkpoint_hash !== to.checkpoint_hash) problems.push("same checkpoint_id with different checkpoint_hash");
  // §4.5: adjacent checkpoints are hash-chained; further apart, only the proof links them.
  if (to.checkpoint_id === from.checkpoint_id + 1 && to.prev_checkpoint_hash !== from.checkpoint_hash) {
    problems.push("to_checkpoint.prev_checkpoint_hash is not from_checkpoint.checkpoint_hash");
  }
  return problems.length === 0
    ? pass("consistency chain", `checkpoint ${from.checkpoint_id} -> ${to.checkpoint_id}, to = inclusion checkpoint`)
    : fail("consistency chain", problems.join("; "));
}

/** §4.10 (RFC 9162 §2.1.4.2) from from_checkpoint to to_checkpoint. */
function consistencyProofCheck(c: Consistency): BundleCheck {
  const name = "consistency proof";
  const { from_checkpoint: from, to_checkpoint: to } = c;
  // RFC 6962 §2.1.2 defines PROOF(m, D[n]) for 0 < m only; the SDK loops forever on m = 0 (§4.10).
  if (from.tree_size === 0 || from.root_hash === "") return fail(name, "from checkpoint is the empty tree: no consistency proof exists for it");
  if (to.root_hash === "") return fail(name, `to checkpoint ${to.checkpoint_id} has an empty root_hash`);
  try {
    const consistent = verifyConsistency(from.tree_size, to.tree_size, c.path.map(unhex), unhex(from.root_hash), unhex(to.root_hash));
    return consistent
      ? pass(name, `tree size ${from.tree_size} -> ${to.tree_size}`)
      : fail(name, `path does not show tree size ${to.tree_size} extends tree size ${from.tree_size}`);
  } catch (err) {
    return fail(name, err instanceof LedgerError ? err.message : `unexpected: ${message(err)}`);
  }
}

/**
 * Our server starts consistency at the first checkpoint that covered the event (§4.8's recommended
 * layout), but §4.8 also allows the client's last-known checkpoint, which may predate the event. Both
 * are valid proofs, so a later start is a note, not a failure.
 */
export function consistencyCoverageNote(bundle: ParsedBundle, c: Consistency): string | undefined {
  const index = bundle.inclusion.leaf_index;
  const from = c.from_checkpoint;
  if (index < from.tree_size) return undefined;
  return `consistency starts at checkpoint ${from.checkpoint_id} (tree_size ${from.tree_size}), before leaf ${index} was logged: it shows the log grew consistently, not the first checkpoint that held the event`;
}

export function consistencyChecks(bundle: ParsedBundle, c: Consistency): BundleCheck[] {
  return [consistencyChainCheck(bundle, c), consistencyProofCheck(c)];
}

/**
 * The C2SP signed-note form of the tree head. `c2sp_verifier_key` comes from the bundle, so it is used
 * only when the caller already trusts the same raw public key; otherwise a bundle could vouch for itself.
 */
export function c2spCheck(bundle: ParsedBundle, note: string, keys: TrustedKeys): BundleCheck {
  const name = "c2sp checkpoint";
  const verifiers: NoteVerifier[] = [...(keys.noteVerifiers ?? [])];
  let refused = "";
  if (bundle.c2sp_verifier_key !== undefined) {
    try {
      const offered = parseVerifierKey(bundle.c2sp_verifier_key);
      if (allTrustedKeys(keys).some((k) => sameBytes(k, offered.publicKey))) verifiers.push(offered);
      else refused = "c2sp_verifier_key is not one of the trusted keys";
    } catch (err) {
      refused = `c2sp_verifier_key is unusable: ${message(err)}`;
    }
  }
  if (verifiers.length === 0) return fail(name, refused || "no trusted C2SP verifier key");
  const cp = bundle.inclusion.checkpoint;
  try {
    const opened = openCheckpoint(note, verifiers);
    const { size, rootHash, origin } = opened.checkpoint;
    if (size !== cp.tree_size) return fail(name, `tree size ${size} is not the inclusion checkpoint's ${cp.tree_size}`);
    if (cp.root_hash === "" || !sameBytes(rootHash, unhex(cp.root_hash))) return fail(name, "root hash is not the inclusion checkpoint's root_hash");
    const by = opened.verifiedBy.map((k) => `${k.name}+${k.keyId}`).join(", ");
    return pass(name, `origin ${origin}, tree size ${size}, signed by ${by}`);
  } catch (err) {
    return fail(name, message(err));
  }
}

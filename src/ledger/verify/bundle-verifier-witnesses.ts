/**
 * The witness policy of bundle-verifier.ts: which of the witnesses the caller trusts cosigned the
 * bundle's C2SP checkpoint (C2SP tlog-cosignature), and whether that is at least the number the caller
 * requires. A cosignature is a witness's signed statement that this tree head is consistent with every
 * other head of the log it has seen: with N independent witnesses, a vault that showed this auditor one
 * history and someone else another would need N of them to collude.
 *
 * Pure and never throws: the keys and the note are hostile input, and every problem is a failed check.
 */
import { bytesEqual, fromHex, toHex } from "../core/bytes.js";
import { parseCosignatureVerifierKey, verifyCosignatures, type CosignatureVerifier } from "../core/tlog-cosignature.js";
import { fail, pass, type BundleCheck } from "./bundle-verifier-checks.js";
import type { ParsedBundle } from "./bundle-verifier-schema.js";

/** Which witnesses to trust, and how many of them must have cosigned. */
export interface WitnessPolicy {
  /** Cosignature verifier keys, `<name>+<hex key id>+<base64(0x04 || Ed25519 key)>`, obtained independently of the bundle. */
  keys: readonly string[];
  /** Cosignatures required (default 1). More than the keys given can never be met and fails. */
  require?: number;
  /**
   * The origin of the log you audit (its checkpoints' first line, the name of its C2SP key). A
   * cosignature is a statement about one log, named by its origin: without this pin, the cosigned
   * checkpoint of another log with the same tree head (a second log the vault runs for the purpose, a
   * fork shown to the witnesses under another name) would pass. Defaults to the names of the C2SP keys
   * you trust (`--key <vkey>`), when you gave one.
   */
  origin?: string;
}

/** One trusted witness in the report. */
export interface WitnessReportEntry {
  name: string;
  key_id: string;
  cosigned: boolean;
  /** When the witness cosigned (Unix seconds), as its signature states. */
  timestamp?: number;
}

/** More keys than any sane policy; a bound on the work hostile options can cause. */
export const MAX_WITNESS_KEYS = 256;
const MAX_ORIGIN = 1024;
const NAME = "witness cosignatures";

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * `trustedOrigins`: the names of the C2SP note keys the caller trusts (the default origin pin). `note`, when
 * set, tells the caller the origin was not pinned, and which log the witnesses spoke about.
 */
export function witnessCheck(
  bundle: ParsedBundle,
  policy: WitnessPolicy,
  trustedOrigins: readonly string[] = [],
): { check: BundleCheck; witnesses?: WitnessReportEntry[]; note?: string } {
  const keys = Array.isArray(policy?.keys) ? policy.keys : [];
  const needed = policy?.require ?? 1;
  const pinned = policy?.origin;
  if (pinned !== undefined && (typeof pinned !== "string" || pinned.length === 0 || pinned.length > MAX_ORIGIN || pinned.includes("\n"))) {
    return { check: fail(NAME, "the expected origin must be one non-empty line") };
  }
  const expected = pinned !== undefined ? [pinned] : [...new Set(trustedOrigins)];
  if (!Number.isSafeInteger(needed) || needed < 0) return { check: fail(NAME, "the number of required cosignatures must be a non-negative integer") };
  if (keys.length === 0) return { check: fail(NAME, "no witness key given: a cosignature can only be checked against keys you trust") };
  if (keys.length > MAX_WITNESS_KEYS) return { check: fail(NAME, `${keys.length} witness keys, at most ${MAX_WITNESS_KEYS}`) };
  const verifiers: CosignatureVerifier[] = [];
  for (const [i, key] of keys.entries()) {
    try {
      const v = parseCosignatureVerifierKey(key);
      if (!verifiers.some((o) => o.name === v.name && o.keyId === v.keyId && bytesEqual(o.publicKey, v.publicKey))) verifiers.push(v);
    } catch (err) {
      return { check: fail(NAME, `witness key ${i + 1} is unusable: ${message(err)}`) };
    }
  }
  // An Ed25519 cosignature does not commit to the cosigner's name (tlog-cosignature: "the same public key
  // can't be used across multiple cosigners"): one key given under two names is one witness, counted once.
  // Otherwise its one signature, relabelled with the other name and key ID, would count twice.
  const distinct = new Set(verifiers.map((v) => toHex(v.publicKey)));
  if (needed > distinct.size) return { check: fail(NAME, `${needed} cosignatures required but only ${distinct.size} distinct witness key(s) given: it can never be met`) };
  const note = bundle.c2sp_checkpoint;
  if (note === undefined) return { check: fail(NAME, "the bundle has no C2SP checkpoint, so there is nothing a witness could have cosigned") };
  let cosigned: { name: string; keyId: string; timestamp: number }[];
  let origin: string;
  try {
    const verified = verifyCosignatures(note, verifiers);
    // The cosigned head must be the one the inclusion proof leads to, whatever else the note says.
    const cp = bundle.inclusion.checkpoint;
    if (verified.checkpoint.size !== cp.tree_size) return { check: fail(NAME, `the cosigned tree size ${verified.checkpoint.size} is not the inclusion checkpoint's ${cp.tree_size}`) };
    if (cp.root_hash === "" || !bytesEqual(verified.checkpoint.rootHash, fromHex(cp.root_hash))) {
      return { check: fail(NAME, "the cosigned root hash is not the inclusion checkpoint's root_hash") };
    }
    origin = verified.checkpoint.origin;
    if (expected.length > 0 && !expected.includes(origin)) {
      const want = expected.map((o) => JSON.stringify(o)).join(" or ");
      return { check: fail(NAME, `the cosigned checkpoint is of the log ${JSON.stringify(origin.slice(0, 200))}, not ${want}: witnesses of another log say nothing about this one`) };
    }
    cosigned = verified.cosigned;
  } catch (err) {
    return { check: fail(NAME, message(err)) };
  }
  const witnesses = verifiers.map((v): WitnessReportEntry => {
    const c = cosigned.find((x) => x.name === v.name && x.keyId === v.keyId);
    return c ? { name: v.name, key_id: v.keyId, cosigned: true, timestamp: c.timestamp } : { name: v.name, key_id: v.keyId, cosigned: false };
  });
  const by = witnesses.filter((w) => w.cosigned).map((w) => w.name);
  const cosignedKeys = new Set(verifiers.filter((_, i) => witnesses[i]!.cosigned).map((v) => toHex(v.publicKey)));
  const shared = verifiers.length > distinct.size ? ` (${verifiers.length - distinct.size} key(s) given under more than one name, each counted once)` : "";
  const summary = `${cosignedKeys.size} of ${distinct.size} trusted witness(es) cosigned${by.length ? `: ${by.join(", ")}` : ""}${shared}; ${needed} required`;
  const unpinned =
    expected.length === 0
      ? `the witnesses' cosignatures are statements about the log with origin ${JSON.stringify(origin.slice(0, 200))}; pin the origin you audit (--origin, or a C2SP --key) so that a checkpoint of another log cannot stand in for it`
      : undefined;
  return { check: cosignedKeys.size >= needed ? pass(NAME, summary) : fail(NAME, summary), witnesses, ...(unpinned ? { note: unpinned } : {}) };
}

/**
 * The witness policy of bundle-verifier.ts: which of the witnesses the caller trusts cosigned the
 * bundle's C2SP checkpoint (C2SP tlog-cosignature), and whether that is at least the number the caller
 * requires. A cosignature is a witness's signed statement that this tree head is consistent with every
 * other head of the log it has seen: with N independent witnesses, a vault that showed this auditor one
 * history and someone else another would need N of them to collude.
 *
 * Pure and never throws: the keys and the note are hostile input, and every problem is a failed check.
 */
import { bytesEqual, fromHex } from "../core/bytes.js";
import { parseCosignatureVerifierKey, verifyCosignatures, type CosignatureVerifier } from "../core/tlog-cosignature.js";
import { fail, pass, type BundleCheck } from "./bundle-verifier-checks.js";
import type { ParsedBundle } from "./bundle-verifier-schema.js";

/** Which witnesses to trust, and how many of them must have cosigned. */
export interface WitnessPolicy {
  /** Cosignature verifier keys, `<name>+<hex key id>+<base64(0x04 || Ed25519 key)>`, obtained independently of the bundle. */
  keys: readonly string[];
  /** Cosignatures required (default 1). More than the keys given can never be met and fails. */
  require?: number;
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
const NAME = "witness cosignatures";

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function witnessCheck(bundle: ParsedBundle, policy: WitnessPolicy): { check: BundleCheck; witnesses?: WitnessReportEntry[] } {
  const keys = Array.isArray(policy?.keys) ? policy.keys : [];
  const needed = policy?.require ?? 1;
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
  if (needed > verifiers.length) return { check: fail(NAME, `${needed} cosignatures required but only ${verifiers.length} distinct witness key(s) given: it can never be met`) };
  const note = bundle.c2sp_checkpoint;
  if (note === undefined) return { check: fail(NAME, "the bundle has no C2SP checkpoint, so there is nothing a witness could have cosigned") };
  let cosigned: { name: string; keyId: string; timestamp: number }[];
  try {
    const verified = verifyCosignatures(note, verifiers);
    // The cosigned head must be the one the inclusion proof leads to, whatever else the note says.
    const cp = bundle.inclusion.checkpoint;
    if (verified.checkpoint.size !== cp.tree_size) return { check: fail(NAME, `the cosigned tree size ${verified.checkpoint.size} is not the inclusion checkpoint's ${cp.tree_size}`) };
    if (cp.root_hash === "" || !bytesEqual(verified.checkpoint.rootHash, fromHex(cp.root_hash))) {
      return { check: fail(NAME, "the cosigned root hash is not the inclusion checkpoint's root_hash") };
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
  const summary = `${by.length} of ${verifiers.length} trusted witness(es) cosigned${by.length ? `: ${by.join(", ")}` : ""}; ${needed} required`;
  return { check: by.length >= needed ? pass(NAME, summary) : fail(NAME, summary), witnesses };
}

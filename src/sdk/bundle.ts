import {
  isLedgerError,
  TRUSTED_KEYS_ERROR_CODES,
  trustedKeysFromBundle,
  trustedKeysFromJwks,
  trustedKeysFromKeyString,
  verifyProofBundle,
  type BundleCheck,
  type BundleReport,
  type TrustedKeys,
  type WitnessReportEntry,
  type PasskeyApprovalReport,
} from "../ledger/verify/bundle-verifier.js";
import { CountersignError } from "./errors.js";

export type { BundleCheck, BundleReport, PasskeyApprovalReport, WitnessReportEntry };

/** Which keys to trust for a proof bundle's signatures. Exactly one; see verifyBundle. */
export interface BundleKeys {
  /** A JWK set (the vault's /.well-known/jwks.json, obtained independently). */
  jwks?: unknown;
  /** A single key: the C2SP verifier key (GET /ledger/checkpoint-key), a base64url Ed25519 key, or a JWK as JSON text. */
  key?: string;
  /** Trust the keys the bundle carries: proves integrity only, not who signed (the report says so). */
  bundleKeys?: boolean;
}

export interface VerifyBundleOptions {
  /** Fail the "event hash" check for a redacted event (intent_hash "" and nothing committed). */
  requireBody?: boolean;
  /**
   * A witness policy: the cosignature verifier keys of the C2SP witnesses you trust (GET /ledger/witnesses
   * lists the vault's; obtain them from the witnesses' operators), and how many must have cosigned the
   * bundle's checkpoint (default 1). Adds the "witness cosignatures" check and `report.witnesses`.
   * `origin`: the log you audit (GET /ledger/checkpoint-key's name); the cosigned checkpoint must be of
   * that log (defaults to the name of a C2SP `key`; unpinned, `report.notes` names the log cosigned).
   */
  witnesses?: { keys: string[]; require?: number; origin?: string };
}

/**
 * Offline verification of a proof bundle (GET /ledger/proof/bundle) with the ledger's own pure
 * verifier, the one `countersign verify-bundle` runs: the receipt, event and leaf hashes, the
 * inclusion proof, each checkpoint's signature and hash chain, the consistency proof and the C2SP
 * checkpoint note, and any passkey-signed approvals (`report.approvals`: each WebAuthn assertion checked
 * against its enrolled key and the recomputed commitment, docs/passkeys.md). Never throws for a bad bundle: the report lists every check (`ok` is the verdict).
 * An unusable key source throws CountersignError `bad_keys`.
 */
export function verifyBundleWith(bundle: unknown, keys: BundleKeys, options: VerifyBundleOptions = {}): BundleReport {
  // The verifier reads the bundle's JSON form, as `countersign verify-bundle` reads the file: an
  // object whose JSON differs from its fields (a toJSON, a Date, a getter) cannot pass here while
  // the CLI refuses what it serialises to. No JSON form at all (a BigInt, a cycle) fails the shape.
  let data: unknown;
  try {
    data = bundle === undefined ? undefined : JSON.parse(JSON.stringify(bundle));
  } catch (err) {
    return { ok: false, checks: [{ name: "shape", ok: false, detail: `bundle has no JSON form: ${err instanceof Error ? err.message : String(err)}` }], keySource: keys.bundleKeys === true ? "bundle" : keys.jwks !== undefined ? "jwks" : "key", notes: [] };
  }
  const trusted = trustedKeys(data, { ...keys, ...(keys.jwks !== undefined ? { jwks: jsonForm(keys.jwks) } : {}) });
  return verifyProofBundle(data, trusted, options);
}

function jsonForm(value: unknown): unknown {
  try {
    return JSON.parse(JSON.stringify(value));
  } catch (err) {
    throw new CountersignError("bad_keys", `jwks has no JSON form: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

function trustedKeys(bundle: unknown, keys: BundleKeys): TrustedKeys {
  const given = [keys.jwks !== undefined, keys.key !== undefined, keys.bundleKeys === true].filter(Boolean).length;
  if (given !== 1) throw new CountersignError("bad_keys", "verifyBundle needs exactly one of jwks, key or bundleKeys: true");
  try {
    if (keys.jwks !== undefined) return trustedKeysFromJwks(keys.jwks);
    if (keys.key !== undefined) return trustedKeysFromKeyString(keys.key);
    return trustedKeysFromBundle(bundle);
  } catch (err) {
    if (isLedgerError(err, ...TRUSTED_KEYS_ERROR_CODES)) throw new CountersignError("bad_keys", err.message, { cause: err });
    throw err;
  }
}

/**
 * `countersign verify-bundle FILE [--jwks FILE | --key STRING] [--witness KEY ...] [--require-witnesses N] [--json]`: offline verification of a
 * proof bundle (GET /ledger/proof/bundle) with src/ledger/verify/bundle-verifier.ts.
 *
 * Exit codes: 0 every check passed, 1 a check failed, 2 usage or input error (unreadable file, not
 * JSON, unusable keys). The verdict goes to stdout (text or --json); errors go to stderr.
 */
import { readFile } from "node:fs/promises";
import {
  BUNDLE_KEYS_NOTE,
  type BundleReport,
  isLedgerError,
  MAX_WITNESS_KEYS,
  TRUSTED_KEYS_ERROR_CODES,
  trustedKeysFromBundle,
  trustedKeysFromJwks,
  trustedKeysFromKeyString,
  type TrustedKeys,
  verifyProofBundle,
  type WitnessPolicy,
} from "../ledger/verify/bundle-verifier.js";
import { parseCosignatureVerifierKey } from "../ledger/core/tlog-cosignature.js";

export interface VerifyBundleCliOptions {
  /** Path of a JWKS file obtained independently of the bundle. */
  jwks?: string;
  /** One trusted key: C2SP verifier key, base64(url) raw Ed25519 public key, or JWK JSON text. */
  key?: string;
  /** Cosignature verifier keys of witnesses trusted independently of the bundle (--witness, repeatable). */
  witnesses?: string[];
  /** Cosignatures the checkpoint must carry from those witnesses (--require-witnesses; default 1 with --witness). */
  requireWitnesses?: number;
  /** The origin of the log audited (--origin): the witnesses' cosignatures count only on a checkpoint of this log. */
  origin?: string;
  json: boolean;
}

/** A bundle is a few kilobytes; a larger input is a mistake (or hostile), not something to parse. */
const MAX_INPUT_BYTES = 16 * 1024 * 1024;

class UsageError extends Error {}

async function readInput(file: string, what: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = file === "-" ? await readStdin() : await readFile(file);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read ${what} ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (bytes.length > MAX_INPUT_BYTES) throw new UsageError(`${what} ${file} is over ${MAX_INPUT_BYTES} bytes`);
  return bytes.toString("utf8");
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of process.stdin) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    total += buf.length;
    if (total > MAX_INPUT_BYTES) throw new UsageError(`stdin is over ${MAX_INPUT_BYTES} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${what} is not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}

async function pickKeys(bundle: unknown, opts: VerifyBundleCliOptions): Promise<TrustedKeys> {
  if (opts.jwks !== undefined && opts.key !== undefined) throw new UsageError("use either --jwks or --key, not both");
  if (opts.jwks !== undefined) return trustedKeysFromJwks(parseJson(await readInput(opts.jwks, "JWKS file"), `JWKS file ${opts.jwks}`));
  if (opts.key !== undefined) return trustedKeysFromKeyString(opts.key);
  const keys = trustedKeysFromBundle(bundle);
  // Without any key every signature check would fail for a reason the user can fix: say so instead.
  if (keys.byKid.size === 0) {
    const why = keys.warnings?.length ? ` (${keys.warnings.join("; ")})` : "";
    throw new UsageError(`the bundle carries no usable public key${why}; pass --jwks FILE or --key STRING`);
  }
  return keys;
}

/** The witness policy of the options; a key that does not parse is the caller's input error (exit 2). */
function witnessPolicy(opts: VerifyBundleCliOptions): WitnessPolicy | undefined {
  const keys = opts.witnesses ?? [];
  if (keys.length === 0) {
    if (opts.requireWitnesses !== undefined && opts.requireWitnesses > 0) throw new UsageError("--require-witnesses needs the witnesses' keys: pass --witness KEY for each witness you trust");
    if (opts.origin !== undefined) throw new UsageError("--origin pins the log the witnesses' cosignatures are about: pass --witness KEY too");
    return undefined;
  }
  if (keys.length > MAX_WITNESS_KEYS) throw new UsageError(`at most ${MAX_WITNESS_KEYS} --witness keys`);
  // Distinct public keys: one Ed25519 key under two names is one witness (its cosignature does not commit to the name).
  const distinct = new Set<string>();
  for (const key of keys) {
    try {
      distinct.add(Buffer.from(parseCosignatureVerifierKey(key).publicKey).toString("hex"));
    } catch (err) {
      throw new UsageError(`--witness ${JSON.stringify(key.slice(0, 120))} is not a witness cosignature key: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const require = opts.requireWitnesses ?? 1;
  if (require > distinct.size) throw new UsageError(`--require-witnesses ${require} is more than the ${distinct.size} witness key(s) given (distinct public keys)`);
  if (opts.origin !== undefined && (opts.origin === "" || opts.origin.includes("\n"))) throw new UsageError("--origin is one non-empty line: the first line of the log's checkpoints");
  return { keys, require, ...(opts.origin !== undefined ? { origin: opts.origin } : {}) };
}

export function formatReport(report: BundleReport): string {
  const lines = [`keys: ${report.keySource}`];
  // The events the bundle proves, in tree order (its own and the request's others: approval, burn,
  // execution). Only when every check passed: a failed bundle proves none of what its events say.
  if (report.ok) for (const e of report.events ?? []) lines.push(`event leaf ${e.leaf_index}: ${e.event_type ?? "untyped"} ${e.event_uuid} (${e.summary})`);
  else if (report.events?.length) lines.push(`events: ${report.events.length} not listed: verification failed, so what they say is not proven`);
  for (const w of report.witnesses ?? []) {
    lines.push(`witness ${w.name}+${w.key_id}: ${w.cosigned ? `cosigned at ${new Date(w.timestamp! * 1000).toISOString()}` : "no cosignature"}`);
  }
  // Passkey-signed approvals: the reviewer a verified enrolment names, and whether the signature verified offline.
  for (const a of report.approvals ?? []) {
    const who = `credential ${printable(a.credential_id)} of reviewer ${a.reviewer_id === null ? "(enrolment not verified)" : printable(a.reviewer_id)}`;
    lines.push(`passkey approval: ${who}: ${a.verified ? `verified (origin ${printable(a.origin ?? "?")}, assertion digest ${a.assertion_digest})` : "NOT verified"}`);
  }
  // The request was reviewed under require_passkey: its approvals count only with their signatures (check "passkey approvals").
  if (report.passkey_required) lines.push("passkey: required by the request's review rules");
  for (const note of report.notes) lines.push(note === BUNDLE_KEYS_NOTE ? `WARNING: ${note}` : `note: ${note}`);
  for (const c of report.checks) lines.push(c.ok ? `ok   ${c.name}${c.detail ? ` (${c.detail})` : ""}` : `FAIL ${c.name}: ${c.detail}`);
  const failed = report.checks.filter((c) => !c.ok).length;
  lines.push(
    report.ok
      ? `verdict: VERIFIED (${report.checks.length} checks passed${report.keySource === "bundle" ? "; integrity only, keys from the bundle" : ""})`
      : `verdict: FAILED (${failed} of ${report.checks.length} checks failed)`,
  );
  return `${lines.join("\n")}\n`;
}

export async function runVerifyBundle(file: string, opts: VerifyBundleCliOptions): Promise<number> {
  let report: BundleReport;
  try {
    if (typeof file !== "string" || file === "") throw new UsageError("usage: countersign verify-bundle FILE [--jwks FILE | --key STRING] [--witness KEY ... [--require-witnesses N]] [--json]");
    const witnesses = witnessPolicy(opts);
    const bundle = parseJson(await readInput(file, "bundle"), `bundle ${file}`);
    report = verifyProofBundle(bundle, await pickKeys(bundle, opts), witnesses ? { witnesses } : {});
  } catch (err) {
    // An unusable key source is the caller's input error, like an unreadable file: exit 2.
    if (!(err instanceof UsageError) && !isLedgerError(err, ...TRUSTED_KEYS_ERROR_CODES)) throw err;
    process.stderr.write(`verify-bundle: ${err.message}\n`);
    return 2;
  }
  process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  return report.ok ? 0 : 1;
}

/** A hostile bundle's text must not reach a terminal as control sequences. */
function printable(text: string): string {
  const clean = text.replace(/\p{Cc}/gu, "?");
  return clean.length > 100 ? `${clean.slice(0, 97)}...` : clean;
}

import { createHash } from "node:crypto";
import { ConfigError } from "./config-error.js";

/**
 * VAULT_LEDGER_WITNESSES, VAULT_LEDGER_WITNESS_QUORUM and VAULT_LEDGER_WITNESS_TIMEOUT_MS: the C2SP
 * tlog-witness services every checkpoint is submitted to (src/ledger/witnessing/). Checked here, once, at
 * start-up, so a typo in a key stops the vault with a message naming the variable instead of leaving
 * every checkpoint unwitnessed for a reason found only in the logs.
 *
 * The list is JSON, `[{"url": "https://witness.example/", "key": "<vkey>"}]`: a verifier key holds `+`,
 * `/` and `=`, and a URL may hold `=` and `,`, so no delimiter-separated form would be unambiguous.
 */

export interface WitnessEndpoint {
  /** The witness's C2SP submission prefix; the vault POSTs to `<url>/add-checkpoint`. No trailing slash. */
  url: string;
  /** Its cosignature verifier key: `<name>+<hex key id>+<base64(0x04 || Ed25519 public key)>`. */
  key: string;
  /** The key's name: the witness's name in cosignature lines, metrics and status. */
  name: string;
}

export interface WitnessConfig {
  witnesses: WitnessEndpoint[];
  /** Cosignatures a checkpoint needs to count as witnessed (1..witnesses.length; 0 when none are listed). */
  quorum: number;
  /** Deadline of one add-checkpoint exchange with one witness. */
  timeoutMs: number;
}

/** More would be a misconfiguration: each checkpoint costs one request per witness. */
export const MAX_WITNESSES = 32;
const MAX_KEY_LENGTH = 1024;
/** C2SP tlog-cosignature: signature type 0x04 (timestamped Ed25519 cosignature). */
const COSIGNATURE_TYPE = 0x04;
const KEY_NAME = /^[^\s+\u0000-\u001f]{1,256}$/u;
const HEX8 = /^[0-9a-f]{8}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function invalid(variable: string, detail: string): ConfigError {
  return new ConfigError(`Invalid configuration:\n  ${variable}: ${detail}`);
}

/**
 * `<name>+<hex key id>+<base64(0x04 || 32-byte key)>`, split at the first two "+" only (base64 holds "+"),
 * with the key ID checked against SHA-256(name || 0x0A || 0x04 || key)[:4]. Returns the name, or a reason.
 */
export function checkCosignatureKey(vkey: string): { name: string } | { problem: string } {
  if (vkey.length > MAX_KEY_LENGTH) return { problem: "is too long to be a verifier key" };
  const first = vkey.indexOf("+");
  const second = first < 0 ? -1 : vkey.indexOf("+", first + 1);
  if (second < 0) return { problem: 'is not a verifier key "<name>+<hex key id>+<base64 key>"' };
  const [name, id, b64] = [vkey.slice(0, first), vkey.slice(first + 1, second), vkey.slice(second + 1)];
  if (!KEY_NAME.test(name)) return { problem: "has an empty key name, or one with spaces or control characters" };
  if (!HEX8.test(id)) return { problem: "key ID must be 8 lowercase hex digits" };
  const typed = BASE64.test(b64) ? Buffer.from(b64, "base64") : undefined;
  if (!typed || typed.toString("base64") !== b64) return { problem: "key is not standard padded base64" };
  if (typed.length !== 33 || typed[0] !== COSIGNATURE_TYPE) {
    return { problem: "is not a cosignature key: expected base64 of 0x04 and a 32-byte Ed25519 key (a log key has type 0x01; give the witness's cosigning key)" };
  }
  const expected = createHash("sha256").update(name, "utf8").update(Buffer.of(0x0a)).update(typed).digest().subarray(0, 4).toString("hex");
  if (expected !== id) return { problem: `key ID ${id} does not match the name and key (expected ${expected})` };
  return { name };
}

function witnessUrl(raw: unknown, at: string): string {
  if (typeof raw !== "string" || raw.length === 0 || raw.length > 2048) throw invalid("VAULT_LEDGER_WITNESSES", `${at}.url must be a non-empty string`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid("VAULT_LEDGER_WITNESSES", `${at}.url is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw invalid("VAULT_LEDGER_WITNESSES", `${at}.url must be http(s)`);
  // Credentials in the URL would reach logs and status pages; a query or fragment has no place in a C2SP prefix.
  if (url.username || url.password) throw invalid("VAULT_LEDGER_WITNESSES", `${at}.url must not carry credentials`);
  if (url.search || url.hash) throw invalid("VAULT_LEDGER_WITNESSES", `${at}.url must be a submission prefix without query or fragment`);
  return url.href.replace(/\/+$/, "");
}

/** The JSON list of witnesses; [] when unset. */
export function parseWitnessList(text: string | undefined): WitnessEndpoint[] {
  if (text === undefined || text.trim() === "") return [];
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch {
    throw invalid("VAULT_LEDGER_WITNESSES", 'must be a JSON array such as [{"url": "https://witness.example", "key": "<name>+<key id>+<base64 key>"}]');
  }
  if (!Array.isArray(list)) throw invalid("VAULT_LEDGER_WITNESSES", "must be a JSON array of {url, key} objects");
  if (list.length > MAX_WITNESSES) throw invalid("VAULT_LEDGER_WITNESSES", `lists ${list.length} witnesses; at most ${MAX_WITNESSES}`);
  const witnesses = list.map((item: unknown, i): WitnessEndpoint => {
    const at = `[${i}]`;
    if (typeof item !== "object" || item === null || Array.isArray(item)) throw invalid("VAULT_LEDGER_WITNESSES", `${at} must be an object {url, key}`);
    const extra = Object.keys(item).filter((k) => k !== "url" && k !== "key");
    if (extra.length > 0) throw invalid("VAULT_LEDGER_WITNESSES", `${at} has unknown field(s) ${extra.join(", ")}; only url and key`);
    const { url, key } = item as { url?: unknown; key?: unknown };
    if (typeof key !== "string") throw invalid("VAULT_LEDGER_WITNESSES", `${at}.key must be the witness's cosignature verifier key`);
    const checked = checkCosignatureKey(key);
    if ("problem" in checked) throw invalid("VAULT_LEDGER_WITNESSES", `${at}.key ${checked.problem}`);
    return { url: witnessUrl(url, at), key, name: checked.name };
  });
  for (const field of ["key", "name", "url"] as const) {
    const seen = new Set<string>();
    for (const w of witnesses) {
      if (seen.has(w[field])) throw invalid("VAULT_LEDGER_WITNESSES", `two witnesses share the ${field} ${w[field]}; each witness once`);
      seen.add(w[field]);
    }
  }
  // One Ed25519 key under two names would be one witness counted twice toward the quorum: its cosignature
  // does not commit to the name, so one signature verifies under both (tlog-cosignature: a key per cosigner).
  const byKey = new Map<string, string>();
  for (const w of witnesses) {
    const publicKey = w.key.slice(w.key.indexOf("+", w.key.indexOf("+") + 1) + 1);
    const other = byKey.get(publicKey);
    if (other !== undefined) throw invalid("VAULT_LEDGER_WITNESSES", `${other} and ${w.name} are the same public key under two names; each witness once`);
    byKey.set(publicKey, w.name);
  }
  return witnesses;
}

/**
 * The whole witness policy. Quorum defaults to 1 when witnesses are listed: the vault then marks a
 * checkpoint witnessed once any independent party has checked it, and verifiers still choose their
 * own number (`verify-bundle --require-witnesses N`). A quorum no set of witnesses can meet is an error.
 */
export function witnessConfig(e: { VAULT_LEDGER_WITNESSES?: string; VAULT_LEDGER_WITNESS_QUORUM?: number; VAULT_LEDGER_WITNESS_TIMEOUT_MS: number }): WitnessConfig {
  const witnesses = parseWitnessList(e.VAULT_LEDGER_WITNESSES);
  const quorum = e.VAULT_LEDGER_WITNESS_QUORUM;
  if (quorum !== undefined && witnesses.length === 0) {
    throw invalid("VAULT_LEDGER_WITNESS_QUORUM", "is set but VAULT_LEDGER_WITNESSES lists no witness");
  }
  if (quorum !== undefined && quorum > witnesses.length) {
    throw invalid("VAULT_LEDGER_WITNESS_QUORUM", `is ${quorum}, more than the ${witnesses.length} witness(es) in VAULT_LEDGER_WITNESSES: no checkpoint could ever be witnessed`);
  }
  return { witnesses, quorum: witnesses.length === 0 ? 0 : (quorum ?? 1), timeoutMs: e.VAULT_LEDGER_WITNESS_TIMEOUT_MS };
}

import { boundedFetch, OutboundHttpError } from "../../http-client/bounded-fetch.js";
import type { CosignatureVerifier } from "../core/tlog-cosignature.js";
import { verifyCosignatures } from "../core/tlog-cosignature.js";
import {
  ADD_CHECKPOINT_PATH,
  formatAddCheckpoint,
  MAX_COSIGNATURE_RESPONSE_BYTES,
  parseCosignatureResponse,
  parseSizeResponse,
  TLOG_SIZE_CONTENT_TYPE,
  withCosignatures,
} from "../core/tlog-witness.js";

/**
 * One C2SP tlog-witness add-checkpoint exchange (https://c2sp.org/tlog-witness) through the bounded
 * fetch: no redirects, a size cap and one deadline. Each answer is sorted into what the caller can act
 * on; a 200 counts only for the cosignature lines that verify under the witness's configured key.
 */

/** Why a witness refused a checkpoint: each is an alert (ledger.witness_refused), never a retryable hiccup. */
export type RefusalReason =
  /** 409 without a size: it holds another tree head of this size (a fork), or sizes that cannot be reconciled. */
  | "fork"
  /** 422: the consistency proof from the tree it holds to ours does not verify (its tree is not a prefix of ours). */
  | "inconsistent"
  /** 403: none of the log signatures verify with the keys it trusts for our origin. */
  | "untrusted"
  /** 404: it does not witness our origin (or the URL is not a witness). */
  | "unknown_log"
  /** 400: it found our request malformed. */
  | "bad_request"
  /** 200 whose lines do not hold a valid cosignature by the configured key. */
  | "bad_cosignature"
  /** It says it holds a larger tree of our log than any checkpoint we signed. */
  | "ahead";

export const REFUSAL_REASONS: readonly RefusalReason[] = ["fork", "inconsistent", "untrusted", "unknown_log", "bad_request", "bad_cosignature", "ahead"];

export type WitnessAnswer =
  | { kind: "cosigned"; lines: string[] }
  /** 409 text/x.tlog.size: its size for our log is `size`, not the old size we sent. */
  | { kind: "size"; size: number }
  | { kind: "refused"; reason: RefusalReason; status: number; detail: string }
  /** Unreachable, too slow, 5xx, a redirect or an answer we cannot read: retried later, not an alert. */
  | { kind: "unavailable"; detail: string };

export interface Submission {
  url: string;
  verifier: CosignatureVerifier;
  oldSize: number;
  proof: readonly Uint8Array[];
  note: string;
  timeoutMs: number;
  /** Aborts the exchange (the vault is shutting down). */
  signal?: AbortSignal;
}

const MAX_DETAIL = 300;

/** The witness's own words, shortened and on one line: they reach logs, status pages and webhooks. */
async function bodyText(res: Response): Promise<string> {
  try {
    const text = await res.text();
    return text.replace(/[\u0000-\u001f\u007f]+/g, " ").trim().slice(0, MAX_DETAIL);
  } catch {
    return "";
  }
}

function describeError(err: unknown): string {
  if (err instanceof OutboundHttpError) return err.message;
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return `${err instanceof Error ? err.message : String(err)}${cause?.code ? ` (${cause.code})` : ""}`.slice(0, MAX_DETAIL);
}

export async function addCheckpoint(s: Submission): Promise<WitnessAnswer> {
  let res: Response;
  try {
    res = await boundedFetch(
      `${s.url}${ADD_CHECKPOINT_PATH}`,
      {
        method: "POST",
        headers: { "content-type": "text/plain; charset=utf-8" },
        body: formatAddCheckpoint({ oldSize: s.oldSize, proof: s.proof, note: s.note }),
        signal: s.signal,
      },
      { maxResponseBytes: MAX_COSIGNATURE_RESPONSE_BYTES, timeoutMs: s.timeoutMs },
    );
  } catch (err) {
    return { kind: "unavailable", detail: describeError(err) };
  }
  try {
    return await readAnswer(res, s);
  } catch (err) {
    // A body that broke off, overran the cap or the deadline: nothing was learned.
    return { kind: "unavailable", detail: describeError(err) };
  }
}

async function readAnswer(res: Response, s: Submission): Promise<WitnessAnswer> {
  const refused = async (reason: RefusalReason) => ({ kind: "refused" as const, reason, status: res.status, detail: await bodyText(res) });
  switch (res.status) {
    case 200:
      return cosigned(await res.text(), s, res.status);
    case 409: {
      const type = (res.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
      if (type !== TLOG_SIZE_CONTENT_TYPE) return refused("fork");
      try {
        return { kind: "size", size: parseSizeResponse(await res.text()) };
      } catch (err) {
        return { kind: "unavailable", detail: `409 with an unreadable size: ${describeError(err)}` };
      }
    }
    case 422:
      return refused("inconsistent");
    case 403:
      return refused("untrusted");
    case 404:
      return refused("unknown_log");
    case 400:
      return refused("bad_request");
    default:
      return { kind: "unavailable", detail: `HTTP ${res.status} ${await bodyText(res)}`.trim() };
  }
}

/**
 * The lines of a 200 that are valid cosignatures by this witness over this checkpoint. Each line is
 * checked on its own against the note, so an unknown line is ignored (as the spec says) and a bad
 * line from the witness's own key makes the answer a refusal, never a partial acceptance.
 */
function cosigned(body: string, s: Submission, status: number): WitnessAnswer {
  let lines: string[];
  try {
    lines = parseCosignatureResponse(body);
  } catch (err) {
    return { kind: "refused", reason: "bad_cosignature", status, detail: describeError(err) };
  }
  const valid: string[] = [];
  for (const line of lines) {
    try {
      const verified = verifyCosignatures(withCosignatures(s.note, [line]), [s.verifier]);
      if (verified.cosigned.length > 0) valid.push(line);
    } catch (err) {
      return { kind: "refused", reason: "bad_cosignature", status, detail: describeError(err) };
    }
  }
  if (valid.length === 0) return { kind: "refused", reason: "bad_cosignature", status, detail: `no cosignature by ${s.verifier.name}+${s.verifier.keyId} in the answer` };
  return { kind: "cosigned", lines: valid };
}

/**
 * The one error type of the pure ledger code: core/ (RFC 6962 proofs, CBOR, signed notes, checkpoints,
 * tlog-proof, tiles) and verify/ (the offline bundle verifier the SDK imports). Callers (CLI, HTTP
 * layer, SDK, auditors' scripts) branch on `code`, a closed list, never on the class of the thrower or
 * on the message text. The shape follows sigstore-js `packages/verify`: one class, a code, a message
 * for people and an optional `cause`.
 *
 * Thrown for malformed or untrusted input and for refusals. A well-formed proof that simply does not
 * match (a root mismatch in merkle.ts) is `false`, not an error; the bundle verifier never throws and
 * reports failures as checks. Server-only failures stay outside this list: LedgerBodyError
 * (body-cipher.ts, a missing or wrong sealing key) and the store's own errors.
 */

/** Every code with what it means. Closed: adding one is a change callers must be able to see. */
export const LEDGER_ERROR_CODES = {
  // RFC 6962 proofs and tree arithmetic (merkle.ts, merkle-proofs.ts)
  invalid_number: "a size or index that is not a safe non-negative integer",
  out_of_range: "index >= size, old size > new size, old size 0, or a leaf range outside the tree",
  hash_length: "a hash that is not exactly 32 bytes, or not a Uint8Array at all",
  proof_length: "a proof with more or fewer hashes than RFC 6962 prescribes for these sizes",

  // Deterministic CBOR and the event hash (cbor.ts, event-hash.ts, wire protocol §4.1)
  non_finite_number: "NaN or an infinity, which neither JSON nor the CBOR profile can carry",
  too_deep: "containers nested deeper than the encoder's bound (also what a cycle hits)",
  unsupported_type: "a value outside the profile: a function, a class instance, symbol keys, bytes inside JSON",
  lone_surrogate: "a string holding a lone UTF-16 surrogate, which has no UTF-8 form",
  invalid_field: "an event or checkpoint field of the wrong type or outside its allowed values",

  // C2SP signed notes and keys (signed-note.ts): parsing
  too_large: "a note, tlog-proof or its extra data over the size bound",
  invalid_utf8: "text that is not valid UTF-8 (lone surrogates included)",
  control_character: "note text with a character below U+0020 other than newline (CR, tab, NUL)",
  malformed_note: "no blank line before a newline-terminated signature block, or not a string or bytes",
  malformed_signature_line: 'a signature line without the "— " prefix, with a bad key name or base64, or under 5 bytes',
  too_many_signatures: "more signature lines than the verifier accepts",
  // signed notes: verification
  no_verified_signature: "no signature by a known key (signatures by unknown keys are ignored)",
  bad_signature: "a known key's signature does not verify",
  ambiguous_verifier: "two different known keys share a key name and key ID",
  // signed notes: keys
  invalid_key_name: 'a key name that is empty or holds a space or "+"',
  invalid_key: "a verifier key string or public key that cannot be used",
  key_id_mismatch: "a verifier key whose ID is not the hash of its name and key",
  unsupported_algorithm: "a verifier key of a signature type the caller does not take (notes: Ed25519 0x01; cosignatures: 0x04)",
  // signed notes: signing
  invalid_text: "note text to sign that breaks the text rules or lacks its final newline",
  signer_mismatch: "the signer's signature is not 64 bytes or does not verify with its stated public key",
  // C2SP checkpoints (tlog-checkpoint.ts)
  malformed_checkpoint: "a checkpoint body that is not origin, size and root hash lines as tlog-checkpoint says",
  origin_mismatch: "a checkpoint from another log than the origin asked for",

  // C2SP tlog-cosignature and tlog-witness (tlog-cosignature.ts, tlog-witness.ts)
  bad_timestamp: "a cosignature timestamp that is not an integer in 0..2^53 - 1 (the spec allows up to 2^63 - 1; later than any clock)",
  malformed_add_checkpoint: "an add-checkpoint body that is not an old size line, at most 63 proof lines, an empty line and a checkpoint note",
  malformed_witness_response: "a witness answer that is not a size line (409) or newline-terminated signature lines (200)",

  // COSE keys of passkey enrolments (cbor-decode.ts, webauthn-assertion.ts)
  invalid_cbor: "CBOR the COSE key reader refuses: truncated, a tag, float, indefinite length, duplicate map key, trailing bytes or too deep",

  // C2SP tlog-proof@v1 (tlog-proof.ts)
  invalid_input: "a proof that is not a string, or bytes that are not UTF-8",
  bad_header: "the first line is not exactly c2sp.org/tlog-proof@v1",
  bad_extra: "an extra line without canonical, non-empty standard base64",
  bad_index: "a missing or non-canonical index line, or an index above 2^53 - 1",
  bad_hash: "a proof line that is not canonical standard base64 of 32 bytes",
  too_many_hashes: "more proof hashes than any tree below 2^64 leaves needs",
  missing_checkpoint: "no empty line before the checkpoint, or nothing after it",
  bad_checkpoint: "the text after the empty line is not a checkpoint note",
  checkpoint_rejected: "the checkpoint note did not verify with the trusted keys (see cause)",
  index_out_of_range: "an index not below the checkpoint's tree size",
  bad_proof: "a hash count that does not match RFC 6962 PATH for this index and size",
  root_mismatch: "a well-formed proof that does not lead to the checkpoint's root",
  bad_leaf_hash: "the caller's leaf hash is not 32 bytes",

  // C2SP tlog-tiles (tiles.ts, tile-codec.ts)
  bad_path: "not a canonical tile or entry-bundle path, or a level above 63",
  bad_tile: "a tile body or hash list that is not 1..256 hashes, or not the expected width",
  bad_bundle: "an entry bundle that is empty, truncated, too wide, or holds an oversized entry",
  missing_tile: "a tile the tree needs is missing or shorter than the tree says",
  bad_state: "right-edge tiles or new leaves that do not fit the stated tree size",
  too_many_tiles: "a tree size whose tile listing is over the listing bound",

  // Trusted keys for offline bundle verification (verify/bundle-verifier-keys.ts, wire protocol §4.6)
  private_key: 'a JWK carrying "d": a private key given where a public key belongs',
  bad_jwk: "a JWK that is not an Ed25519 public key in canonical form, or a bundle key entry that cannot be read",
  bad_jwks: 'a JWKS that is not an object with a "keys" array, or has too many keys',
  duplicate_kid: "two different keys under one kid",
  no_keys: "a JWKS without any Ed25519 public key that has a kid",
  bad_key_string: "a --key value that is neither a C2SP verifier key, a raw 32-byte key nor a JWK",
} as const;

export type LedgerErrorCode = keyof typeof LEDGER_ERROR_CODES;

export class LedgerError extends Error {
  override readonly name = "LedgerError";
  constructor(
    readonly code: LedgerErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** True for a LedgerError whose code is one of `codes`: how a caller tells apart the families it handles. */
export function isLedgerError<C extends LedgerErrorCode>(err: unknown, ...codes: C[]): err is LedgerError & { code: C } {
  return err instanceof LedgerError && (codes.length === 0 || (codes as LedgerErrorCode[]).includes(err.code));
}

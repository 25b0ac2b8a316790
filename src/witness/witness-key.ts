/**
 * The witness's Ed25519 cosigning key on disk, and its signer.
 *
 * The file is one line in the shape of Go's sumdb/note private keys, with the cosignature type byte:
 *
 *   PRIVATE+KEY+<name>+<hex key ID>+<base64(0x04 || 32-byte Ed25519 seed)>
 *
 * so it names the witness, and the key ID (tlog-cosignature: over name, 0x04 and the PUBLIC key)
 * lets a reader check that name, seed and ID belong together. The file is written 0600 in a
 * directory nobody else can write, never overwritten, and never logged.
 */
import { createPrivateKey, createPublicKey, randomBytes, sign as edSign, type KeyObject } from "node:crypto";
import { constants } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { toBase64 } from "../ledger/core/bytes.js";
import { cosignatureKeyId, cosignatureVerifierKey, SIG_TYPE_COSIGNATURE_V1 } from "../ledger/core/tlog-cosignature.js";
import { decodeBase64Strict, isValidKeyName } from "../ledger/core/signed-note.js";
import { PRIVATE_FILE_MODE } from "../private-files.js";

/** A key file that cannot be used: missing, unreadable, readable by others, or not in the format above. */
export class WitnessKeyError extends Error {}

export interface WitnessKey {
  readonly name: string;
  readonly keyId: string;
  readonly publicKey: Uint8Array;
  /** `<name>+<key id>+<base64(0x04 || public key)>`: what logs and verifiers are given. */
  readonly vkey: string;
  /** Ed25519 over the exact message (tlog-cosignature's signed message). */
  sign(message: Uint8Array): Uint8Array;
}

const PREFIX = "PRIVATE+KEY+";
// RFC 8410 PKCS#8 wrapping of a raw Ed25519 seed: node:crypto takes the seed in this form.
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

function keyFromSeed(name: string, seed: Uint8Array): WitnessKey {
  const privateKey: KeyObject = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: "der", type: "pkcs8" });
  const jwk = createPublicKey(privateKey).export({ format: "jwk" });
  const publicKey = new Uint8Array(Buffer.from(String(jwk.x), "base64url"));
  return {
    name,
    keyId: cosignatureKeyId(name, publicKey),
    publicKey,
    vkey: cosignatureVerifierKey(name, publicKey),
    sign: (message) => new Uint8Array(edSign(null, message, privateKey)),
  };
}

/** The key file's text for `name` and `seed` (with its newline). */
function keyFileText(name: string, seed: Uint8Array): string {
  const key = keyFromSeed(name, seed);
  return `${PREFIX}${name}+${key.keyId}+${toBase64(Uint8Array.of(SIG_TYPE_COSIGNATURE_V1, ...seed))}\n`;
}

/** Reads a key file's text; every way it can be wrong is a WitnessKeyError naming the problem, never the key. */
export function parseWitnessKey(text: string, source = "key file"): WitnessKey {
  const line = text.endsWith("\n") ? text.slice(0, -1) : text;
  if (!line.startsWith(PREFIX) || line.includes("\n")) throw new WitnessKeyError(`${source}: not a witness key file (expected one line "PRIVATE+KEY+<name>+<key id>+<key>")`);
  const rest = line.slice(PREFIX.length);
  const first = rest.indexOf("+");
  const second = first < 0 ? -1 : rest.indexOf("+", first + 1);
  if (second < 0) throw new WitnessKeyError(`${source}: expected "PRIVATE+KEY+<name>+<key id>+<key>"`);
  const name = rest.slice(0, first);
  const keyId = rest.slice(first + 1, second);
  const raw = decodeBase64Strict(rest.slice(second + 1));
  if (!isValidKeyName(name)) throw new WitnessKeyError(`${source}: the witness name must be non-empty without spaces or "+"`);
  if (!raw || raw.length !== 33 || raw[0] !== SIG_TYPE_COSIGNATURE_V1) throw new WitnessKeyError(`${source}: the key is not base64 of 0x04 and a 32-byte Ed25519 seed`);
  const key = keyFromSeed(name, raw.subarray(1));
  if (key.keyId !== keyId.toLowerCase()) throw new WitnessKeyError(`${source}: the key ID ${keyId} does not match the name and key`);
  return key;
}

/** Reads the key file, refusing one that group or others may read (a cosigning key is a secret). */
export async function readWitnessKey(file: string): Promise<WitnessKey> {
  let text: string;
  try {
    const stat = await fs.stat(file);
    if (!stat.isFile()) throw new WitnessKeyError(`${file} is not a file`);
    if (stat.mode & 0o077) {
      throw new WitnessKeyError(`${file} can be read by group or others (mode ${(stat.mode & 0o777).toString(8).padStart(4, "0")}); fix it with: chmod 600 ${file}`);
    }
    text = await fs.readFile(file, "utf8");
  } catch (err) {
    if (err instanceof WitnessKeyError) throw err;
    throw new WitnessKeyError(`cannot read the witness key file ${file} (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
  return parseWitnessKey(text, file);
}

/**
 * Generates a key for `name` and writes it to `file` (0600, created, never replacing an existing file:
 * a witness key that changes silently would orphan every cosignature the old one made).
 */
export async function generateWitnessKey(name: string, file: string): Promise<WitnessKey> {
  if (!isValidKeyName(name)) throw new WitnessKeyError(`the witness name must be non-empty without spaces or "+"`);
  const seed = new Uint8Array(randomBytes(32));
  const text = keyFileText(name, seed);
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, PRIVATE_FILE_MODE);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw new WitnessKeyError(`${file} already exists; a witness key is never overwritten`);
    throw new WitnessKeyError(`cannot create ${file} in ${path.dirname(path.resolve(file))} (${code ?? "error"})`);
  }
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return parseWitnessKey(text, file);
}

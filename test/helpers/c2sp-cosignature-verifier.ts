/**
 * An independent C2SP tlog-cosignature (Ed25519, type 0x04) verifier and signer for tests, written
 * from the specification text only (c2sp.org/tlog-cosignature, c2sp.org/signed-note) with node:crypto.
 * It imports nothing from src/: when our code and this file agree, it is because both follow the spec,
 * not because they share a bug.
 *
 * From the spec:
 * - a cosignature is a note signature line "— <key name> base64(32-bit key ID || signature)";
 * - key ID = SHA-256(<name> || "\n" || 0x04 || 32-byte Ed25519 public key)[:4];
 * - vkey = <name>+<hex key ID>+<base64(0x04 || public key)> (signed-note "verifier keys");
 * - signature = timestamped_signature { u64 timestamp (big-endian); opaque ed25519_signature[64] };
 * - signed message = "cosignature/v1\n" + "time <timestamp, ASCII decimal, no leading zeroes>\n" + the whole
 *   note body (including the final newline, excluding signature lines);
 * - timestamp MUST NOT exceed 2^63 - 1;
 * - signed-note: the body is separated from the signatures by the last empty line; clients ignore
 *   signature lines whose (name, key ID) they do not know.
 */
import { createHash, createPublicKey, sign as edSign, verify as edVerify, type KeyObject } from "node:crypto";

export interface C2spWitnessKey {
  name: string;
  /** The key ID as the spec's uint32 (big-endian first four bytes). */
  keyId: number;
  publicKey: Buffer;
}

export interface C2spCosignature {
  name: string;
  timestamp: bigint;
  /** true: the Ed25519 signature verifies over the spec's message. */
  valid: boolean;
}

function keyIdOf(name: string, publicKey: Buffer): number {
  return createHash("sha256").update(Buffer.from(name, "utf8")).update(Buffer.from([0x0a, 0x04])).update(publicKey).digest().readUInt32BE(0);
}

/** Parses "<name>+<hex id>+<base64(0x04 || key)>": split at the first two "+" (base64 may contain "+"). */
export function parseC2spWitnessVkey(vkey: string): C2spWitnessKey {
  const a = vkey.indexOf("+");
  const b = vkey.indexOf("+", a + 1);
  if (a <= 0 || b < 0) throw new Error(`not a vkey: ${vkey}`);
  const name = vkey.slice(0, a);
  const id = Number.parseInt(vkey.slice(a + 1, b), 16);
  const typed = Buffer.from(vkey.slice(b + 1), "base64");
  if (typed.length !== 33 || typed[0] !== 0x04) throw new Error("not an Ed25519 cosignature key (type 0x04, 32 bytes)");
  const publicKey = typed.subarray(1);
  if (keyIdOf(name, publicKey) !== id) throw new Error("vkey key ID does not match its name and key");
  return { name, keyId: id, publicKey };
}

function ed25519PublicKey(raw: Buffer): KeyObject {
  return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: raw.toString("base64url") }, format: "jwk" });
}

/** The spec's signed message. */
export function c2spCosignedMessage(body: string, timestamp: bigint): Buffer {
  return Buffer.from(`cosignature/v1\ntime ${timestamp.toString(10)}\n${body}`, "utf8");
}

/** Splits a note at its last empty line: [body with its final newline, signature lines]. */
export function c2spSplitNote(note: string): { body: string; lines: string[] } {
  const at = note.lastIndexOf("\n\n");
  if (at < 0 || !note.endsWith("\n")) throw new Error("not a signed note");
  return { body: note.slice(0, at + 1), lines: note.slice(at + 2, -1).split("\n") };
}

/** Every signature line in `note` by this witness (name and key ID match), each checked. */
export function c2spCosignaturesBy(note: string, vkey: string): C2spCosignature[] {
  const key = parseC2spWitnessVkey(vkey);
  const publicKey = ed25519PublicKey(key.publicKey);
  const { body, lines } = c2spSplitNote(note);
  const out: C2spCosignature[] = [];
  for (const line of lines) {
    const prefix = `\u2014 ${key.name} `;
    if (!line.startsWith(prefix)) continue;
    const sig = Buffer.from(line.slice(prefix.length), "base64");
    if (sig.length < 4 || sig.readUInt32BE(0) !== key.keyId) continue;
    if (sig.length !== 4 + 8 + 64) {
      out.push({ name: key.name, timestamp: -1n, valid: false });
      continue;
    }
    const timestamp = sig.readBigUInt64BE(4);
    const inRange = timestamp <= 2n ** 63n - 1n;
    const valid = inRange && edVerify(null, c2spCosignedMessage(body, timestamp), publicKey, sig.subarray(12));
    out.push({ name: key.name, timestamp, valid });
  }
  return out;
}

/** The names of the witnesses (by vkey) with at least one valid cosignature on `note`. */
export function c2spCosigners(note: string, vkeys: readonly string[]): string[] {
  return vkeys.filter((v) => c2spCosignaturesBy(note, v).some((c) => c.valid)).map((v) => parseC2spWitnessVkey(v).name);
}

/** A cosignature line by the spec, made with node:crypto: for testing our verifier against it. */
export function c2spCosign(body: string, name: string, privateKey: KeyObject, timestamp: bigint): string {
  const raw = Buffer.from(createPublicKey(privateKey).export({ format: "jwk" }).x as string, "base64url");
  const ts = Buffer.alloc(8);
  ts.writeBigUInt64BE(timestamp);
  const id = Buffer.alloc(4);
  id.writeUInt32BE(keyIdOf(name, raw));
  const signature = edSign(null, c2spCosignedMessage(body, timestamp), privateKey);
  return `\u2014 ${name} ${Buffer.concat([id, ts, signature]).toString("base64")}\n`;
}

/** The vkey of an Ed25519 private key as a cosigner `name`, by the spec. */
export function c2spWitnessVkey(name: string, privateKey: KeyObject): string {
  const raw = Buffer.from(createPublicKey(privateKey).export({ format: "jwk" }).x as string, "base64url");
  const id = keyIdOf(name, raw).toString(16).padStart(8, "0");
  return `${name}+${id}+${Buffer.concat([Buffer.from([0x04]), raw]).toString("base64")}`;
}

/** The keyset types and shape rules, apart from keyset.ts so that private-keyset.ts can share them without an import cycle. */
export type KeyAlg = "ed25519" | "ml-dsa-65";

/** Wire form (metadata, registration): `pub` is standard base64 of the raw public key. */
export interface PublicKeyset {
  keysetId: string;
  keys: { idx: number; alg: KeyAlg; pub: string }[];
}

/** In memory: Ed25519 `secretKey` is the 32-byte seed (noble's form); ML-DSA-65's is the 4032-byte key. */
export interface PrivateKeyset {
  keysetId: string;
  keys: { alg: KeyAlg; secretKey: Uint8Array; publicKey: Uint8Array }[];
}

export const KEY_LENGTHS = {
  ed25519: { publicKey: 32, seed: 32, signature: 64 },
  "ml-dsa-65": { publicKey: 1952, secretKey: 4032, signature: 3309 },
} as const;

/** The algorithm orders a keyset may have: the v1 hybrid pair, or a seed-era single Ed25519 key. */
const SHAPES: readonly (readonly KeyAlg[])[] = [["ed25519", "ml-dsa-65"], ["ed25519"]];

/** keysetIds are opaque: 1-256 printable ASCII characters. */
export function isValidKeysetId(id: unknown): id is string {
  return typeof id === "string" && id.length > 0 && id.length <= 256 && /^[\x20-\x7e]+$/.test(id);
}

/** True when the algorithms are one of the allowed orders, indexed 0..n-1. */
export function hasKeysetShape(keys: readonly { idx?: unknown; alg?: unknown }[]): boolean {
  return SHAPES.some((shape) => shape.length === keys.length && shape.every((alg, i) => keys[i]!.alg === alg && (keys[i]!.idx === undefined || keys[i]!.idx === i)));
}

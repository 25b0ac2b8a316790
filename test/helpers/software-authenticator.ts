import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from "node:crypto";

/**
 * A WebAuthn authenticator in software, for tests: node:crypto keys (ES256 on P-256, or Ed25519), real
 * attestation "none" registration responses and assertions (W3C WebAuthn L3 §6.1 authenticatorData,
 * §6.5.4 attestation object, §5.8.1 clientDataJSON), with a signature counter. What a browser's
 * navigator.credentials returns, as @simplewebauthn/browser encodes it (base64url JSON). Knobs let a
 * test produce what an attacker or a broken client would: another origin, no UV, a stale counter, a
 * tampered signature.
 */

const b64url = (bytes: Uint8Array | Buffer) => Buffer.from(bytes).toString("base64url");
const sha256 = (bytes: Uint8Array | Buffer | string) => createHash("sha256").update(bytes).digest();

export interface SoftCredential {
  id: string;
  alg: -7 | -8;
  privateKey: KeyObject;
  publicKeyCose: Buffer;
  counter: number;
  userHandle: string;
  rpId: string;
}

export interface CeremonyOverrides {
  origin?: string;
  rpId?: string;
  type?: string;
  userVerified?: boolean;
  userPresent?: boolean;
  /** Sets the counter sent (and kept) instead of counting up. */
  counter?: number;
  /** Assertions: sign with this credential (an id from `credentials`) whatever the options allow. Registration: use this id. */
  credentialId?: string;
  /** Sign a different challenge than the options' (base64url). */
  challenge?: string;
}

export class SoftwareAuthenticator {
  readonly credentials = new Map<string, SoftCredential>();

  constructor(
    readonly origin: string,
    private readonly opts: { alg?: -7 | -8; countSignatures?: boolean } = {},
  ) {}

  /** A RegistrationResponseJSON for `options` (PublicKeyCredentialCreationOptionsJSON). */
  register(options: { challenge: string; rp: { id?: string }; user: { id: string } }, o: CeremonyOverrides & { alg?: -7 | -8 } = {}) {
    const alg = o.alg ?? this.opts.alg ?? -7;
    const rpId = o.rpId ?? options.rp.id!;
    const id = o.credentialId ? Buffer.from(o.credentialId, "base64url") : randomBytes(16);
    const { privateKey, publicKeyCose } = newKey(alg);
    const counter = o.counter ?? 0;
    const attested = Buffer.concat([Buffer.alloc(16), u16(id.length), id, publicKeyCose]);
    const authData = Buffer.concat([sha256(rpId), Buffer.from([flags(o) | 0x40]), u32(counter), attested]);
    const clientData = clientDataJSON(o.type ?? "webauthn.create", o.challenge ?? options.challenge, o.origin ?? this.origin);
    const credential: SoftCredential = { id: b64url(id), alg, privateKey, publicKeyCose, counter, userHandle: options.user.id, rpId };
    this.credentials.set(credential.id, credential);
    return {
      id: credential.id,
      rawId: credential.id,
      type: "public-key" as const,
      response: {
        clientDataJSON: b64url(clientData),
        attestationObject: b64url(cbor(new Map<string | number, unknown>([["fmt", "none"], ["attStmt", new Map()], ["authData", authData]]))),
        transports: ["internal"],
      },
      clientExtensionResults: {},
    };
  }

  /** An AuthenticationResponseJSON for `options` (PublicKeyCredentialRequestOptionsJSON). */
  assert(options: { challenge: string; rpId?: string; allowCredentials?: { id: string }[] }, o: CeremonyOverrides = {}) {
    const credential = this.pick(options, o.credentialId);
    if (o.counter !== undefined) credential.counter = o.counter;
    else if (this.opts.countSignatures !== false) credential.counter += 1;
    const rpId = o.rpId ?? options.rpId ?? credential.rpId;
    const authData = Buffer.concat([sha256(rpId), Buffer.from([flags(o)]), u32(credential.counter)]);
    const clientData = clientDataJSON(o.type ?? "webauthn.get", o.challenge ?? options.challenge, o.origin ?? this.origin);
    const signed = Buffer.concat([authData, sha256(clientData)]);
    const signature = credential.alg === -7 ? sign("sha256", signed, credential.privateKey) : sign(null, signed, credential.privateKey);
    return {
      id: credential.id,
      rawId: credential.id,
      type: "public-key" as const,
      response: { authenticatorData: b64url(authData), clientDataJSON: b64url(clientData), signature: b64url(signature), userHandle: credential.userHandle },
      clientExtensionResults: {},
    };
  }

  private pick(options: { allowCredentials?: { id: string }[] }, wanted?: string): SoftCredential {
    const id = wanted ?? options.allowCredentials?.find((c) => this.credentials.has(c.id))?.id ?? [...this.credentials.keys()][0];
    const credential = id === undefined ? undefined : this.credentials.get(id);
    if (!credential) throw new Error("this authenticator holds none of the allowed credentials");
    return credential;
  }
}

function flags(o: CeremonyOverrides): number {
  return (o.userPresent === false ? 0 : 0x01) | (o.userVerified === false ? 0 : 0x04);
}

function clientDataJSON(type: string, challenge: string, origin: string): Buffer {
  return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }), "utf8");
}

function newKey(alg: -7 | -8): { privateKey: KeyObject; publicKeyCose: Buffer } {
  if (alg === -7) {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const jwk = publicKey.export({ format: "jwk" });
    const cose = new Map<number, unknown>([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x!, "base64url")], [-3, Buffer.from(jwk.y!, "base64url")]]);
    return { privateKey, publicKeyCose: cbor(cose) };
  }
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const jwk = publicKey.export({ format: "jwk" });
  return { privateKey, publicKeyCose: cbor(new Map<number, unknown>([[1, 1], [3, -8], [-1, 6], [-2, Buffer.from(jwk.x!, "base64url")]])) };
}

const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

/** Just enough CBOR (RFC 8949) for COSE keys and attestation objects: ints, bytes, text, maps. */
export function cbor(value: unknown): Buffer {
  const head = (major: number, n: number) => {
    if (n < 24) return Buffer.from([(major << 5) | n]);
    if (n < 0x100) return Buffer.from([(major << 5) | 24, n]);
    if (n < 0x10000) return Buffer.from([(major << 5) | 25, n >> 8, n & 0xff]);
    const b = Buffer.alloc(5);
    b[0] = (major << 5) | 26;
    b.writeUInt32BE(n, 1);
    return b;
  };
  if (typeof value === "number") return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return Buffer.concat([head(2, value.length), Buffer.from(value)]);
  if (typeof value === "string") {
    const text = Buffer.from(value, "utf8");
    return Buffer.concat([head(3, text.length), text]);
  }
  if (value instanceof Map) return Buffer.concat([head(5, value.size), ...[...value].flatMap(([k, v]) => [cbor(k), cbor(v)])]);
  throw new Error(`cbor: ${typeof value} not supported`);
}

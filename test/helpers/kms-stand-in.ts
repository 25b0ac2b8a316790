import { generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { AwsJsonError, startAwsJsonServer, type AwsJsonServer } from "./aws-json-protocol.js";

/**
 * A protocol-level AWS KMS stand-in: `TrentService.GetPublicKey` and `TrentService.Sign` for
 * Ed25519 keys (ECC_NIST_EDWARDS25519), backed by node:crypto.
 *
 * Why it exists: there is no KMS emulator on npm. The vault's real `@aws-sdk/client-kms` talks to
 * this server over HTTP (AWS JSON 1.1, reached through AWS_ENDPOINT_URL_KMS), so the tests exercise
 * the vault's actual requests and the SDK's parsing, not a mock of our own code. Blobs (Message,
 * Signature, PublicKey) travel base64-encoded in the JSON bodies, as the protocol has them.
 */
export interface KmsStandIn {
  server: AwsJsonServer;
  url: string;
  /** Creates an Ed25519 key under this id; `report` overrides what GetPublicKey says about it. */
  createKey(keyId: string, report?: { keySpec?: string; keyUsage?: string; signingAlgorithms?: string[] }): { keyId: string; arn: string; publicKey: KeyObject };
  /** "flip" answers signatures with one bit flipped; "truncate" answers 63 bytes. */
  tamper: "none" | "flip" | "truncate";
  /** Keys (by id) whose Sign answers DisabledException, as a disabled KMS key does; the other keys still sign. */
  readonly disabledKeys: Set<string>;
  /** Added inside the Sign handler, where the concurrency below is measured. */
  signLatencyMs: number;
  /** Sign calls being answered right now, and the most there ever were at once. */
  readonly signsInFlight: number;
  readonly peakSignsInFlight: number;
  /** Every Sign request body as received. */
  readonly signRequests: Record<string, unknown>[];
  close(): Promise<void>;
}

interface StandInKey {
  keyId: string;
  arn: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  keySpec: string;
  keyUsage: string;
  signingAlgorithms: string[];
}

const ACCOUNT = "111122223333";

export async function startKmsStandIn(opts: { region?: string; port?: number } = {}): Promise<KmsStandIn> {
  const region = opts.region ?? "us-east-1";
  const keys = new Map<string, StandInKey>();
  // The knobs and counters are plain fields of the returned object (`standIn`), read by each request.
  const state = { tamper: "none" as KmsStandIn["tamper"], signLatencyMs: 0, signsInFlight: 0, peakSignsInFlight: 0 };
  const signRequests: Record<string, unknown>[] = [];
  const disabledKeys = new Set<string>();

  const find = (input: Record<string, unknown>): StandInKey => {
    const id = String(input.KeyId ?? "");
    const key = keys.get(id) ?? [...keys.values()].find((k) => k.arn === id);
    if (!key) throw new AwsJsonError("NotFoundException", `Key '${id}' does not exist`);
    return key;
  };

  const server = await startAwsJsonServer(
    {
      "TrentService.GetPublicKey": (input) => {
        const key = find(input);
        return {
          KeyId: key.arn,
          PublicKey: key.publicKey.export({ format: "der", type: "spki" }).toString("base64"),
          KeySpec: key.keySpec,
          CustomerMasterKeySpec: key.keySpec,
          KeyUsage: key.keyUsage,
          SigningAlgorithms: key.signingAlgorithms,
        };
      },
      "TrentService.Sign": async (input) => {
        signRequests.push(input);
        state.signsInFlight++;
        state.peakSignsInFlight = Math.max(state.peakSignsInFlight, state.signsInFlight);
        try {
          if (state.signLatencyMs > 0) await new Promise((resolve) => setTimeout(resolve, state.signLatencyMs));
          const key = find(input);
          if (disabledKeys.has(key.keyId)) throw new AwsJsonError("DisabledException", `${key.arn} is disabled.`);
          if (input.MessageType !== "RAW") throw new AwsJsonError("ValidationException", `MessageType ${String(input.MessageType)} is not supported by this stand-in`);
          if (input.SigningAlgorithm !== "ED25519_SHA_512") {
            throw new AwsJsonError("ValidationException", `SigningAlgorithm ${String(input.SigningAlgorithm)} is not supported by this stand-in`);
          }
          if (typeof input.Message !== "string") throw new AwsJsonError("ValidationException", "Message is required");
          const message = Buffer.from(input.Message, "base64");
          if (message.length === 0 || message.length > 4096) throw new AwsJsonError("ValidationException", "Message must be 1 to 4096 bytes");
          let signature = sign(null, message, key.privateKey);
          if (state.tamper === "flip") signature[0] = signature[0]! ^ 0x01;
          if (state.tamper === "truncate") signature = signature.subarray(0, 63);
          return { KeyId: key.arn, Signature: signature.toString("base64"), SigningAlgorithm: "ED25519_SHA_512" };
        } finally {
          state.signsInFlight--;
        }
      },
    },
    { port: opts.port },
  );

  return Object.assign(state, {
    server,
    url: server.url,
    createKey(keyId: string, report: Parameters<KmsStandIn["createKey"]>[1] = {}) {
      const { privateKey, publicKey } = generateKeyPairSync("ed25519");
      const arn = `arn:aws:kms:${region}:${ACCOUNT}:key/${keyId}`;
      keys.set(keyId, {
        keyId,
        arn,
        privateKey,
        publicKey,
        keySpec: report.keySpec ?? "ECC_NIST_EDWARDS25519",
        keyUsage: report.keyUsage ?? "SIGN_VERIFY",
        signingAlgorithms: report.signingAlgorithms ?? ["ED25519_SHA_512", "ED25519_PH_SHA_512"],
      });
      return { keyId, arn, publicKey };
    },
    signRequests,
    disabledKeys,
    close: () => server.close(),
  });
}

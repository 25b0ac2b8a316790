import { createPublicKey, verify, type KeyObject } from "node:crypto";
import { GetPublicKeyCommand, KMSClient, SignCommand } from "@aws-sdk/client-kms";
import { Counter } from "prom-client";
import type { AwsClientConfig } from "../config/aws.js";
import { ConfigError } from "../config/config-error.js";
import { SignerUnavailableError, type PublicJwk, type Signer } from "./signer.js";
import { metricsRegistry } from "../metrics.js";

export interface KmsSignerOptions {
  /** The kid published in JWKS (VAULT_KEY_ID, or the ledger key's kid). */
  kid: string;
  /** The KMS key: id, ARN or alias. */
  kmsKeyId: string;
  /** The variable that named the key, for start-up errors: VAULT_KMS_KEY_ID or VAULT_LEDGER_KMS_KEY_ID. */
  variable?: "VAULT_KMS_KEY_ID" | "VAULT_LEDGER_KMS_KEY_ID";
  aws: AwsClientConfig;
  /** Where the client connects, as start-up errors name it (AwsSettings.describeEndpoint("kms")). */
  endpoint?: string;
  /** Sign calls in flight at once; more wait their turn, first come first served. */
  maxInFlight: number;
  /** How long one signature may take, waiting for a slot included, before it fails closed. */
  timeoutMs: number;
}

export interface KmsSignerCounters {
  calls: number;
  failures: number;
  inFlight: number;
  waiting: number;
}

// Pure Ed25519 (RFC 8032) over the raw message, which is what an EdDSA JWS is. ED25519_PH_SHA_512
// would sign a SHA-512 prehash (Ed25519ph), a signature no JWS verifier accepts.
const ALGORITHM = "ED25519_SHA_512";
// Start-up is not the hot path: a slow first connection (TLS, credentials) gets more time.
const STARTUP_TIMEOUT_FLOOR_MS = 5000;

/**
 * Reads the key's public half (GetPublicKey) and refuses a key that cannot sign EdDSA tokens, so a
 * wrong or unreachable key stops start-up with a message naming the variable and the endpoint.
 */
export async function openKmsSigner(opts: KmsSignerOptions): Promise<KmsSigner> {
  const variable = opts.variable ?? "VAULT_KMS_KEY_ID";
  const endpoint = opts.endpoint ?? opts.aws.endpoint ?? `the AWS KMS endpoint of ${opts.aws.region}`;
  const refuse = (why: string) => new ConfigError(`Invalid configuration:\n  ${variable}: KMS key "${opts.kmsKeyId}" at ${endpoint} ${why}`);
  const client = new KMSClient({
    ...opts.aws,
    // One retry: a second failure is better answered at once (fail closed) than after more backoff.
    maxAttempts: 2,
    // Without throwOnRequestTimeout the SDK only logs a warning when requestTimeout passes and keeps waiting.
    requestHandler: {
      connectionTimeout: opts.timeoutMs,
      requestTimeout: opts.timeoutMs,
      throwOnRequestTimeout: true,
      // One kept-alive socket per call slot: the SDK's default pool (50 sockets) would cap the concurrency
      // VAULT_KMS_MAX_IN_FLIGHT allows, and halved the signatures per second in the bench.
      httpAgent: { keepAlive: true, maxSockets: opts.maxInFlight },
      httpsAgent: { keepAlive: true, maxSockets: opts.maxInFlight },
    },
  });
  const answer = await client
    .send(new GetPublicKeyCommand({ KeyId: opts.kmsKeyId }), { abortSignal: AbortSignal.timeout(Math.max(opts.timeoutMs, STARTUP_TIMEOUT_FLOOR_MS)) })
    .catch((err: unknown) => {
      client.destroy();
      throw refuse(`cannot be read: ${describeError(err)}`);
    });
  const problems = [
    answer.KeySpec !== "ECC_NIST_EDWARDS25519" && `has key spec ${answer.KeySpec ?? "(none)"}, ECC_NIST_EDWARDS25519 is required`,
    answer.KeyUsage !== "SIGN_VERIFY" && `has key usage ${answer.KeyUsage ?? "(none)"}, SIGN_VERIFY is required`,
    !answer.SigningAlgorithms?.includes(ALGORITHM) && `does not offer ${ALGORITHM}`,
  ].filter((p): p is string => typeof p === "string");
  let publicKey: KeyObject | undefined;
  try {
    if (answer.PublicKey) publicKey = createPublicKey({ key: Buffer.from(answer.PublicKey), format: "der", type: "spki" });
  } catch {
    /* reported below */
  }
  if (publicKey?.asymmetricKeyType !== "ed25519") problems.push("answered no readable Ed25519 public key");
  if (problems.length > 0 || !publicKey) {
    client.destroy();
    throw refuse(problems.join("; "));
  }
  return new KmsSigner(opts, client, publicKey);
}

/**
 * Tokens or ledger entries signed by a key that never leaves AWS KMS. Every signature is checked
 * against the published public key before it is used: a service answering a wrong signature fails
 * the call like an outage does. Every failure is a SignerUnavailableError naming the kid and the
 * cause; there is never a fallback to a local key or an unsigned answer.
 */
export class KmsSigner implements Signer {
  readonly kid: string;
  readonly publicJwk: PublicJwk;
  private readonly slots: Slots;
  private readonly counts = { calls: 0, failures: 0 };
  /** The last failure, until a signature succeeds again: what /readyz names as degraded. */
  private lastFailure?: string;

  constructor(
    private readonly opts: KmsSignerOptions,
    private readonly client: KMSClient,
    private readonly publicKey: KeyObject,
  ) {
    this.kid = opts.kid;
    const jwk = publicKey.export({ format: "jwk" });
    this.publicJwk = { kty: "OKP", crv: "Ed25519", x: String(jwk.x), kid: opts.kid, use: "sig", alg: "EdDSA" };
    this.slots = new Slots(opts.maxInFlight);
  }

  async sign(data: Uint8Array): Promise<Uint8Array> {
    this.counts.calls++;
    // One deadline for the whole signature: waiting for a slot and the call (with its retry) alike.
    const controller = new AbortController();
    // A timer cleared when done, so a busy vault does not keep thousands of them pending.
    const timer = setTimeout(() => controller.abort(), this.opts.timeoutMs);
    const deadline = controller.signal;
    let stage = "waiting for a free KMS call slot";
    try {
      await this.slots.acquire(deadline);
      try {
        stage = "calling KMS Sign";
        const answer = await this.client.send(
          new SignCommand({ KeyId: this.opts.kmsKeyId, Message: data, MessageType: "RAW", SigningAlgorithm: ALGORITHM }),
          { abortSignal: deadline },
        );
        stage = "checking the signature KMS answered";
        const signature = answer.Signature;
        if (!signature || signature.length !== 64) throw new Error(`signature of ${signature?.length ?? 0} bytes, 64 expected`);
        if (!(await verifies(data, this.publicKey, signature))) throw new Error("signature does not verify with the published public key");
        this.lastFailure = undefined;
        kmsSignatures.inc({ kid: this.kid, outcome: "signed" });
        return signature;
      } finally {
        this.slots.release();
      }
    } catch (err) {
      this.counts.failures++;
      const cause = deadline.aborted ? `timed out after ${this.opts.timeoutMs} ms` : describeError(err);
      kmsSignatures.inc({ kid: this.kid, outcome: "failed" });
      const message = `KMS signing with key "${this.kid}" failed while ${stage}: ${cause}`;
      // What /readyz (public) shows: the stage and the error's kind, never AWS's message (ARNs, roles).
      this.lastFailure = `KMS signing with key "${this.kid}" failed while ${stage} (${deadline.aborted ? "timeout" : errorKind(err)})`;
      throw new SignerUnavailableError(message, this.kid);
    } finally {
      clearTimeout(timer);
    }
  }

  /** For metrics: signatures asked for and failed since start, and calls in flight or waiting now. */
  counters(): KmsSignerCounters {
    return { ...this.counts, inFlight: this.slots.busy, waiting: this.slots.waiting };
  }

  /** Why signing fails right now (the last call failed; cleared by the next success), or undefined when it works. */
  degraded(): string | undefined {
    return this.lastFailure;
  }

  /** Closes the client's connections. */
  close(): void {
    this.client.destroy();
  }
}

const kmsSignatures = new Counter({
  name: "countersign_kms_signatures_total",
  help: "KMS Sign calls by key id and outcome (signed, or failed: error, timeout, or a signature that did not verify)",
  labelNames: ["kid", "outcome"],
  registers: [metricsRegistry],
});

function verifies(data: Uint8Array, key: KeyObject, signature: Uint8Array): Promise<boolean> {
  // The callback form runs on libuv's thread pool, off the event loop, like LocalSigner's signing.
  return new Promise((resolve) => verify(null, data, key, signature, (err, ok) => resolve(!err && ok)));
}

/** An error's kind: the SDK's exception name or the network code, for public status. */
function errorKind(err: unknown): string {
  if (!(err instanceof Error)) return "error";
  const code = (err as { code?: unknown }).code;
  return err.name === "Error" && typeof code === "string" ? code : err.name;
}

/** An SDK or network error as "Name: message" (KMS messages name keys, never key material). */
function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  const name = err.name === "Error" && typeof code === "string" ? code : err.name;
  return err.message ? `${name}: ${err.message}` : name;
}

/**
 * A counting semaphore whose waiters are served in arrival order and leave the queue when their
 * deadline passes. Exported for its unit test only.
 */
export class Slots {
  busy = 0;
  private readonly queue: Array<() => void> = [];

  constructor(private readonly size: number) {}

  get waiting(): number {
    return this.queue.length;
  }

  acquire(deadline: AbortSignal): Promise<void> {
    if (deadline.aborted) return Promise.reject(new Error("deadline passed"));
    if (this.busy < this.size && this.queue.length === 0) {
      this.busy++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        deadline.removeEventListener("abort", giveUp);
        resolve();
      };
      const giveUp = () => {
        const at = this.queue.indexOf(grant);
        if (at >= 0) this.queue.splice(at, 1);
        reject(new Error("deadline passed"));
      };
      deadline.addEventListener("abort", giveUp, { once: true });
      this.queue.push(grant);
    });
  }

  /** Hands the slot straight to the first waiter, if any, so a later arrival cannot overtake it. */
  release(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.busy--;
  }
}

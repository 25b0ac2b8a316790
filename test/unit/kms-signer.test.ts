import { createPublicKey, verify } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/config-error.js";
import { openKmsSigner, Slots, type KmsSigner, type KmsSignerOptions } from "../../src/tokens/kms-signer.js";
import { SignerUnavailableError } from "../../src/tokens/signer.js";
import { startKmsStandIn, type KmsStandIn } from "../helpers/kms-stand-in.js";

const credentials = { accessKeyId: "AKIDSTANDIN", secretAccessKey: "stand-in-secret" };

describe("KmsSigner against the KMS stand-in", () => {
  let kms: KmsStandIn;
  let signer: KmsSigner;
  const options = (over: Partial<KmsSignerOptions> = {}): KmsSignerOptions => ({
    kid: "kms-key-1",
    kmsKeyId: "token-key",
    aws: { region: "us-east-1", endpoint: kms.url, credentials },
    maxInFlight: 4,
    timeoutMs: 1000,
    ...over,
  });

  beforeAll(async () => {
    kms = await startKmsStandIn();
    kms.createKey("token-key");
    signer = await openKmsSigner(options());
  });
  afterAll(async () => {
    signer?.close();
    await kms?.close();
  });
  afterEach(() => {
    kms.server.failWith = undefined;
    kms.server.dropConnections = false;
    kms.signLatencyMs = 0;
    kms.tamper = "none";
  });

  it("signs pure Ed25519 over the raw message, verifiable with the published JWK", async () => {
    const data = Buffer.from("header.payload");
    const signature = await signer.sign(data);
    expect(signature).toHaveLength(64);
    const jwk = signer.publicJwk;
    expect(jwk).toMatchObject({ kty: "OKP", crv: "Ed25519", kid: "kms-key-1", alg: "EdDSA", use: "sig" });
    const publicKey = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: jwk.x }, format: "jwk" });
    expect(verify(null, data, publicKey, signature)).toBe(true);
    expect(verify(null, Buffer.from("header.payloaD"), publicKey, signature)).toBe(false);
    const sent = kms.signRequests.at(-1)!;
    expect(sent).toMatchObject({ KeyId: "token-key", MessageType: "RAW", SigningAlgorithm: "ED25519_SHA_512" });
    expect(Buffer.from(String(sent.Message), "base64").toString()).toBe("header.payload");
  });

  it("signs concurrently but never has more than maxInFlight calls at the service", async () => {
    kms.signLatencyMs = 50;
    const before = signer.counters().calls;
    const started = Date.now();
    const signatures = await Promise.all(Array.from({ length: 16 }, (_, i) => signer.sign(Buffer.from(`message ${i}`))));
    const elapsed = Date.now() - started;
    expect(signatures.every((s) => s.length === 64)).toBe(true);
    expect(kms.peakSignsInFlight).toBe(4);
    // 16 calls of 50 ms, 4 at a time: about 4 rounds; one at a time would take 800 ms.
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(700);
    expect(signer.counters()).toMatchObject({ calls: before + 16, inFlight: 0, waiting: 0 });
  });

  it("fails closed when KMS is slower than the timeout, the call queued behind a slow one included", async () => {
    kms.signLatencyMs = 400;
    const slow = await openKmsSigner(options({ timeoutMs: 150, maxInFlight: 1 }));
    try {
      const results = await Promise.allSettled([slow.sign(Buffer.from("a")), slow.sign(Buffer.from("b"))]);
      const reasons = results.map((r) => (r.status === "rejected" ? r.reason : r));
      for (const reason of reasons) {
        expect(reason).toBeInstanceOf(SignerUnavailableError);
        expect((reason as SignerUnavailableError).kid).toBe("kms-key-1");
        expect((reason as Error).message).toMatch(/kms-key-1.*timed out after 150 ms/);
      }
      expect(slow.counters()).toMatchObject({ failures: 2, inFlight: 0, waiting: 0 });
    } finally {
      slow.close();
    }
  });

  it("refuses a signature that does not verify, or has the wrong length, naming the kid", async () => {
    kms.tamper = "flip";
    await expect(signer.sign(Buffer.from("x"))).rejects.toThrow(SignerUnavailableError);
    await expect(signer.sign(Buffer.from("x"))).rejects.toThrow(/"kms-key-1".*does not verify with the published public key/);
    kms.tamper = "truncate";
    await expect(signer.sign(Buffer.from("x"))).rejects.toThrow(/signature of 63 bytes, 64 expected/);
  });

  it("fails closed on an outage, a throttle, a disabled key and a dropped connection, and recovers after", async () => {
    kms.server.failWith = { status: 500, type: "KMSInternalException", message: "down" };
    await expect(signer.sign(Buffer.from("x"))).rejects.toThrow(/"kms-key-1".*KMSInternalException/);
    kms.server.failWith = { status: 400, type: "ThrottlingException", message: "Rate exceeded" };
    await expect(signer.sign(Buffer.from("x"))).rejects.toThrow(SignerUnavailableError);
    // A key disabled or scheduled for deletion after start-up fails each signature, not the process.
    kms.server.failWith = { status: 400, type: "KMSInvalidStateException", message: "key is pending deletion" };
    await expect(signer.sign(Buffer.from("x"))).rejects.toThrow(/KMSInvalidStateException: key is pending deletion/);
    kms.server.failWith = undefined;
    kms.server.dropConnections = true;
    await expect(signer.sign(Buffer.from("x"))).rejects.toThrow(SignerUnavailableError);
    kms.server.dropConnections = false;
    expect(await signer.sign(Buffer.from("x"))).toHaveLength(64);
    expect(signer.counters().inFlight).toBe(0);
  });

  it("refuses at start-up an unknown key, a wrong key spec or usage, and an unreachable endpoint, naming the variable and endpoint", async () => {
    const refused = async (over: Partial<KmsSignerOptions>) => {
      const err = await openKmsSigner(options(over)).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    };
    expect(await refused({ kmsKeyId: "missing", variable: "VAULT_LEDGER_KMS_KEY_ID" })).toMatch(
      new RegExp(`VAULT_LEDGER_KMS_KEY_ID: KMS key "missing" at ${kms.url} cannot be read: NotFoundException`),
    );
    kms.createKey("p256", { keySpec: "ECC_NIST_P256", signingAlgorithms: ["ECDSA_SHA_256"] });
    expect(await refused({ kmsKeyId: "p256" })).toMatch(/VAULT_KMS_KEY_ID: .*key spec ECC_NIST_P256, ECC_NIST_EDWARDS25519 is required.*does not offer ED25519_SHA_512/);
    kms.createKey("encrypt", { keyUsage: "ENCRYPT_DECRYPT" });
    expect(await refused({ kmsKeyId: "encrypt" })).toMatch(/key usage ENCRYPT_DECRYPT, SIGN_VERIFY is required/);
    const closed = await startKmsStandIn();
    const closedUrl = closed.url;
    await closed.close();
    expect(await refused({ aws: { region: "us-east-1", endpoint: closedUrl, credentials } })).toMatch(
      new RegExp(`VAULT_KMS_KEY_ID: KMS key "token-key" at ${closedUrl} cannot be read: .*ECONNREFUSED`),
    );
  });
});

describe("the KMS call slots", () => {
  it("serve waiters first come first served, and a waiter whose deadline passes leaves the queue with an error", async () => {
    const slots = new Slots(1);
    const never = new AbortController().signal;
    await slots.acquire(never);
    const order: string[] = [];
    const impatient = new AbortController();
    const first = slots.acquire(never).then(() => order.push("first"));
    const gaveUp = slots.acquire(impatient.signal).then(() => order.push("impatient"), (e: Error) => order.push(`impatient: ${e.message}`));
    const second = slots.acquire(never).then(() => order.push("second"));
    expect(slots.waiting).toBe(3);
    impatient.abort();
    await gaveUp;
    expect(slots.waiting).toBe(2);
    slots.release();
    await first;
    slots.release();
    await second;
    expect(order).toEqual(["impatient: deadline passed", "first", "second"]);
    slots.release();
    expect(slots.busy).toBe(0);
    await expect(slots.acquire(AbortSignal.abort())).rejects.toThrow("deadline passed");
  });
});

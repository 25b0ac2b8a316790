/**
 * The AWS side of the production-shape bench, in a process of its own (so the bench's load
 * generator never shares its event loop): fauxqs for SQS with one FIFO queue, and the KMS stand-in
 * (test/helpers/kms-stand-in.ts) with two Ed25519 keys answering each Sign after a fixed latency.
 * Prints one JSON line with the endpoints, then serves until killed.
 */
import { startFauxqs } from "fauxqs";
import { startKmsStandIn } from "../test/helpers/kms-stand-in.js";

const signLatencyMs = Number(process.env.BENCH_KMS_LATENCY_MS ?? "5");
const sqs = await startFauxqs({ port: 0, logger: false });
// One queue per phase: what a stopped vault left in flight must not reach the next phase's vault.
const queueUrls = ["a", "b", "c"].map((name) => sqs.createQueue(`bench-clearance-${name}.fifo`, { attributes: { FifoQueue: "true" } }).queueUrl);
const kms = await startKmsStandIn();
kms.createKey("bench-token");
kms.createKey("bench-ledger");
kms.signLatencyMs = signLatencyMs;
process.stdout.write(
  `${JSON.stringify({ sqsEndpoint: `http://127.0.0.1:${sqs.port}`, queueUrls, kmsEndpoint: kms.url, signLatencyMs })}\n`,
);
const stop = async () => {
  await Promise.allSettled([sqs.stop(), kms.close()]);
  process.exit(0);
};
process.once("SIGTERM", () => void stop());
process.once("SIGINT", () => void stop());

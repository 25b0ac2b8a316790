import { randomBytes } from "node:crypto";
import { SQSClient } from "@aws-sdk/client-sqs";
import { startFauxqs, type FauxqsServer } from "fauxqs";

/** The SDK settings every test gives the vault for fauxqs (it checks no signature, but the SDK needs credentials). */
export function sqsEnv(endpoint: string, queueUrl: string): Record<string, string> {
  return {
    VAULT_CLEARANCE_SQS_QUEUE_URL: queueUrl,
    AWS_ENDPOINT_URL_SQS: endpoint,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
  };
}

export interface SqsTestServer {
  server: FauxqsServer;
  endpoint: string;
  /** A new FIFO queue (a DLQ redrive when `maxReceiveCount` is given); returns its URL. */
  fifoQueue(opts?: { maxReceiveCount?: number }): string;
  client(): SQSClient;
  stop(): Promise<void>;
}

/** fauxqs, the SQS emulator, in this process on a free loopback port: real SQS FIFO protocol for the real SDK. */
export async function startSqs(): Promise<SqsTestServer> {
  const server = await startFauxqs({ port: 0, logger: false });
  const endpoint = `http://127.0.0.1:${server.port}`;
  const clients: SQSClient[] = [];
  return {
    server,
    endpoint,
    fifoQueue(opts = {}) {
      const name = `clearance-${randomBytes(4).toString("hex")}`;
      const attributes: Record<string, string> = { FifoQueue: "true" };
      if (opts.maxReceiveCount) {
        const dlq = server.createQueue(`${name}-dlq.fifo`, { attributes: { FifoQueue: "true" } });
        attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: dlq.queueArn, maxReceiveCount: opts.maxReceiveCount });
      }
      return server.createQueue(`${name}.fifo`, { attributes }).queueUrl;
    },
    client() {
      const client = new SQSClient({ region: "us-east-1", endpoint, credentials: { accessKeyId: "test", secretAccessKey: "test" } });
      clients.push(client);
      return client;
    },
    async stop() {
      for (const c of clients) c.destroy();
      await server.stop();
    },
  };
}

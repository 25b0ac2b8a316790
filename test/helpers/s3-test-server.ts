import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import { createServer as createNetServer, type AddressInfo, type Socket } from "node:net";
import os from "node:os";
import path from "node:path";
import S3rver from "s3rver";

/** s3rver's hard-coded account: it rejects every other access key. */
export const S3RVER_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;

export interface S3TestServer {
  /** http://127.0.0.1:<port>; clients need forcePathStyle (s3rver's virtual hosts are *.amazonaws.com). */
  endpoint: string;
  close(): Promise<void>;
}

/**
 * A real S3 protocol server on 127.0.0.1, on a free port, storing objects in a fresh temporary directory.
 * s3rver supports Put/Get/Head/List but answers versioning and object-lock requests with NotImplemented.
 * It starts with no buckets: tests create theirs with the SDK.
 */
export async function startS3TestServer(): Promise<S3TestServer> {
  const directory = await mkdtemp(path.join(os.tmpdir(), "countersign-s3rver-"));
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    directory,
    silent: true,
  });
  const { port } = await server.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    async close() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** What the bucket-configuration stub answers; tests change it between calls. */
export interface BucketConfigAnswers {
  /** GetBucketVersioning Status; undefined = a VersioningConfiguration without Status (never versioned). */
  versioning?: "Enabled" | "Suspended";
  /** GetObjectLockConfiguration ObjectLockEnabled; undefined = 404 ObjectLockConfigurationNotFoundError. */
  objectLock?: "Enabled";
}

export interface BucketConfigStub {
  endpoint: string;
  answers: BucketConfigAnswers;
  /** "HEAD /bucket", "GET /bucket?versioning", ... in arrival order. */
  requests: string[];
  close(): Promise<void>;
}

const XMLNS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"';

/**
 * The bucket-configuration side of S3 that no local emulator implements (s3rver and fauxqs cannot enable
 * versioning or object lock): HeadBucket, GetBucketVersioning and GetObjectLockConfiguration over real
 * HTTP, in the XML AWS documents, so a test can see checkReady accept a correctly configured bucket.
 */
export async function startBucketConfigStub(bucket: string, answers: BucketConfigAnswers = {}): Promise<BucketConfigStub> {
  const requests: string[] = [];
  const stub = { answers };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://stub");
    const name = url.pathname.replace(/^\/+|\/+$/g, "");
    const query = [...url.searchParams.keys()].filter((k) => !k.startsWith("x-id")).join("&");
    requests.push(`${req.method} /${name}${query ? `?${query}` : ""}`);
    const reply = (status: number, body = "") => {
      res.writeHead(status, { "content-type": "application/xml" }).end(body);
    };
    if (name !== bucket) return reply(404, `<Error><Code>NoSuchBucket</Code><Message>no bucket ${name}</Message></Error>`);
    if (req.method === "HEAD" && query === "") return reply(200);
    if (req.method === "GET" && query === "versioning") {
      const status = stub.answers.versioning ? `<Status>${stub.answers.versioning}</Status>` : "";
      return reply(200, `<VersioningConfiguration ${XMLNS}>${status}</VersioningConfiguration>`);
    }
    if (req.method === "GET" && query === "object-lock") {
      if (!stub.answers.objectLock) {
        return reply(404, "<Error><Code>ObjectLockConfigurationNotFoundError</Code><Message>Object Lock configuration does not exist for this bucket</Message></Error>");
      }
      return reply(200, `<ObjectLockConfiguration ${XMLNS}><ObjectLockEnabled>${stub.answers.objectLock}</ObjectLockEnabled></ObjectLockConfiguration>`);
    }
    reply(501, "<Error><Code>NotImplemented</Code><Message>not in the stub</Message></Error>");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    get answers() {
      return stub.answers;
    },
    set answers(value) {
      stub.answers = value;
    },
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A TCP server that accepts connections and never answers: the hung endpoint a timeout must escape. */
export async function startSilentServer(): Promise<{ endpoint: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

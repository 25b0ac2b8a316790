/**
 * The "minimal durable signing service": the floor a one-commit-per-request design reaches on this
 * machine, which the vault's decision path is judged against (issue 12). Per POST /sign it signs
 * one Ed25519 compact JWS over claims shaped like the vault's A-JWT (src/tokens/a-jwt.ts does the
 * same with node:crypto), INSERTs one row holding it, waits for that commit, and answers JSON.
 * Nothing else: no authentication, no policy, no ledger.
 *
 * A process of its own, like the vault, so it never shares the load generator's event loop. Run by
 * minimal-phase.ts as `node --import tsx bench/minimal-service.ts` with
 *   MINIMAL_PORT      the port on 127.0.0.1;
 *   MINIMAL_DATABASE  a postgres:// URL (a pg pool of MINIMAL_POOL connections, autocommit INSERTs)
 *                     or a directory for an in-process PGlite database (one connection, as the
 *                     vault's embedded engine has).
 */
import { createHash, generateKeyPairSync, randomUUID, sign } from "node:crypto";
import { PGlite } from "@electric-sql/pglite";
import Fastify from "fastify";
import pg from "pg";

interface Store {
  query(text: string, params?: unknown[]): Promise<unknown>;
  close(): Promise<void>;
}

const port = Number(process.env.MINIMAL_PORT);
const target = process.env.MINIMAL_DATABASE ?? "";
const poolSize = Number(process.env.MINIMAL_POOL ?? 50);

async function openStore(): Promise<Store> {
  if (/^postgres(ql)?:\/\//i.test(target)) {
    const pool = new pg.Pool({ connectionString: target, max: poolSize });
    pool.on("error", (err) => process.stderr.write(`pool error: ${err.message}\n`));
    return { query: (text, params) => pool.query(text, params), close: () => pool.end() };
  }
  if (!target) throw new Error("MINIMAL_DATABASE is not set");
  const db = await PGlite.create(target);
  return { query: (text, params) => db.query(text, params), close: () => db.close() };
}

const store = await openStore();
await store.query(
  `CREATE TABLE IF NOT EXISTS minimal_decisions (
     jti uuid PRIMARY KEY,
     tool text NOT NULL,
     tool_args jsonb NOT NULL,
     agent_id text NOT NULL,
     token text NOT NULL,
     created_at timestamptz NOT NULL DEFAULT now()
   )`,
);

const { privateKey } = generateKeyPairSync("ed25519");
const header = Buffer.from(JSON.stringify({ alg: "EdDSA", kid: "minimal", typ: "JWT" })).toString("base64url");

function signToken(claims: object): string {
  const signingInput = `${header}.${Buffer.from(JSON.stringify(claims), "utf8").toString("base64url")}`;
  return `${signingInput}.${sign(null, Buffer.from(signingInput, "ascii"), privateKey).toString("base64url")}`;
}

const app = Fastify({ logger: false });

app.get("/healthz", async () => ({ status: "ok" }));

app.post<{ Body: { tool_name?: unknown; tool_args?: unknown; agent_id?: unknown } }>("/sign", async (req, reply) => {
  const { tool_name: tool, tool_args: args, agent_id: agentId } = req.body ?? {};
  if (typeof tool !== "string" || typeof agentId !== "string" || typeof args !== "object" || args === null) {
    return reply.code(400).send({ error: "tool_name, tool_args and agent_id are required" });
  }
  const argsJson = JSON.stringify(args);
  const iat = Math.floor(Date.now() / 1000);
  const jti = randomUUID();
  const claims = {
    iss: "minimal",
    aud: "bench",
    sub: "clearance",
    iat,
    exp: iat + 300,
    jti,
    tool,
    tool_args_hash: createHash("sha256").update(argsJson).digest("base64url"),
    agent_id: agentId,
    decision: "yes",
  };
  const token = signToken(claims);
  await store.query("INSERT INTO minimal_decisions (jti, tool, tool_args, agent_id, token) VALUES ($1, $2, $3, $4, $5)", [jti, tool, argsJson, agentId, token]);
  return { status: "approved", jti, token };
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    void app
      .close()
      .then(() => store.close())
      .then(
        () => process.exit(0),
        (err) => {
          process.stderr.write(`shutdown failed: ${String(err)}\n`);
          process.exit(1);
        },
      );
  });
}

await app.listen({ host: "127.0.0.1", port });

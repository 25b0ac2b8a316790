import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, spawnServer, type ServerProcess } from "./server-process.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));

/**
 * Starts minimal-service.ts in its own process. `database` is a postgres:// URL (a pool of `pool`
 * connections, the size the bench gives the vault's tenant pool) or a directory for PGlite.
 */
export async function startMinimalService(database: string, pool: number): Promise<ServerProcess> {
  const port = await freePort();
  return spawnServer({
    label: "minimal",
    // tsx only transpiles at load time; the request path runs as plain JavaScript, as the vault's dist/ does.
    args: ["--import", "tsx", path.join(repoRoot, "bench/minimal-service.ts")],
    cwd: repoRoot,
    port,
    readyPath: "/healthz",
    env: { ...process.env, MINIMAL_PORT: String(port), MINIMAL_DATABASE: database, MINIMAL_POOL: String(pool) },
  });
}

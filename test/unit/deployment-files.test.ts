/**
 * The deployment files against the code: docker-compose.yml as Debian's docker-compose 1.29.2 reads
 * it (`docker-compose config`; there is no Docker engine here, config needs none), the Caddyfile as
 * Caddy validates it, and every variable of src/config/env-schema.ts in deployments/.env.example and in
 * the environment compose gives the vault or the judge. The schema's keys are read at run time, so a
 * variable added to the schema fails this test until the deployment files carry it (or the table
 * below says why they do not). Missing docker-compose or caddy binaries fail, never skip.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { envSchema } from "../../src/config/env-schema.js";

const run = promisify(execFile);
const DOCKER_COMPOSE = process.env.DOCKER_COMPOSE_BIN ?? "/usr/bin/docker-compose";
const CADDY = process.env.CADDY_BIN ?? "/usr/bin/caddy";
const COMPOSE_FILE = path.resolve("docker-compose.yml");
const ENV_EXAMPLE = path.resolve("deployments/.env.example");
const CADDYFILE = path.resolve("deployments/Caddyfile");

/**
 * Schema variables deliberately missing from a deployment file, and why. `from` names where each is
 * missing; it must still be present in the other file.
 */
const deliberatelyAbsent: Record<string, { from: ".env.example" | "compose" | "both"; reason: string }> = {
  VAULT_HOST: { from: ".env.example", reason: "fixed by compose: 0.0.0.0 inside the container" },
  VAULT_PORT: { from: ".env.example", reason: "fixed by compose: 8000, the port Caddy's upstream and the image's health check use" },
  VAULT_DATA_DIR: { from: ".env.example", reason: "fixed by compose: /data, the vault-data volume" },
  DATABASE_URL: { from: ".env.example", reason: "built by compose from POSTGRES_PASSWORD; an outside server comes through the Secrets Manager bundle" },
  JUDGE_HOST: { from: ".env.example", reason: "fixed by compose: 0.0.0.0 inside the container" },
  JUDGE_PORT: { from: ".env.example", reason: "fixed by compose: 8001, which VAULT_JUDGE_URL and the judge's health check use" },
  VAULT_JUDGE_URL: { from: ".env.example", reason: "fixed by compose: http://judge:8001, the judge service" },
  VAULT_JUDGE_API_KEY: { from: ".env.example", reason: "compose gives the vault JUDGE_API_KEY, so the two sides cannot differ" },
  AWS_SECRET_NAME: { from: ".env.example", reason: "one per process: compose maps VAULT_AWS_SECRET_NAME (vault) and JUDGE_AWS_SECRET_NAME (judge) onto it" },
  NODE_ENV: { from: ".env.example", reason: "production, set by the image and by compose (it makes VAULT_LEDGER_ORIGIN required)" },
  VAULT_ALLOW_STUB_JUDGE: { from: "both", reason: "compose always runs the judge service, and the stub judge and VAULT_JUDGE_URL exclude each other" },
};

/** Read by src/config/aws.ts outside the schema (the SDK's own names); compose must pass them too. */
const awsSdkVariables = ["AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"];

/** Placeholders for the variables compose requires (`${NAME:?...}`). */
const required = {
  POSTGRES_PASSWORD: "pg-placeholder",
  VAULT_BOOTSTRAP_API_KEY: "csk_placeholder",
  JUDGE_API_KEY: "judge-placeholder",
  VAULT_LEDGER_ORIGIN: "vault.example.com",
  COUNTERSIGN_DOMAIN: "vault.example.com",
  COUNTERSIGN_TLS: "ops@example.com",
};

const schemaKeys = Object.keys(envSchema.shape);

/** `NAME=` lines of an env file. */
function envFileNames(text: string): string[] {
  return text
    .split("\n")
    .map((l) => /^([A-Z][A-Z0-9_]*)=/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined);
}

/**
 * The `environment:` keys of each service in `docker-compose config` output. That output is PyYAML's
 * block style with two-space indentation (services at 2, their keys at 4, environment entries at 6),
 * so reading it by indentation is exact without a YAML library.
 */
function serviceEnvironments(configText: string): Record<string, Record<string, string>> {
  const result: Record<string, Record<string, string>> = {};
  let inServices = false;
  let service: string | undefined;
  let inEnv = false;
  for (const line of configText.split("\n")) {
    const indent = line.length - line.trimStart().length;
    if (indent === 0) {
      inServices = line === "services:";
      service = undefined;
      continue;
    }
    if (!inServices) continue;
    if (indent === 2) {
      service = line.trim().replace(/:$/, "");
      result[service] = {};
      inEnv = false;
    } else if (indent === 4) {
      inEnv = line.trim() === "environment:";
    } else if (indent === 6 && inEnv && service) {
      const m = /^\s+([A-Za-z_][A-Za-z0-9_]*): ?(.*)$/.exec(line);
      if (m) result[service]![m[1]!] = m[2]!.replace(/^'(.*)'$/, "$1");
    }
  }
  return result;
}

/** The lines of one service in `docker-compose config` output (its keys are indented by 4). */
function serviceBlock(configText: string, name: string): string {
  const lines = configText.split("\n");
  const start = lines.indexOf(`  ${name}:`, lines.indexOf("services:"));
  if (start < 0) return "";
  const rest = lines.slice(start + 1);
  const end = rest.findIndex((l) => l.length > 0 && l.length - l.trimStart().length < 4);
  return rest.slice(0, end < 0 ? undefined : end).join("\n");
}

async function composeConfig(env: Record<string, string>, dir: string): Promise<string> {
  // --project-directory: a developer's own .env in the repository root must not feed this test.
  const { stdout } = await run(DOCKER_COMPOSE, ["-f", COMPOSE_FILE, "--project-directory", dir, "config"], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, ...env },
  });
  return stdout;
}

describe("deployment files", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "cs-compose-"));
  let config: string;
  let envs: Record<string, Record<string, string>>;
  const exampleNames = envFileNames(readFileSync(ENV_EXAMPLE, "utf8"));
  const composeText = readFileSync(COMPOSE_FILE, "utf8");

  beforeAll(async () => {
    if (!existsSync(DOCKER_COMPOSE)) throw new Error(`${DOCKER_COMPOSE} is missing: install Debian's docker-compose package (apt-get install -y docker-compose); .ci/run does`);
    config = await composeConfig(required, dir);
    envs = serviceEnvironments(config);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("docker-compose config accepts the compose file and finds the four services", () => {
    expect(Object.keys(envs).sort()).toEqual(["caddy", "judge", "postgres", "vault"]);
    expect(composeText).not.toMatch(/^name:/m); // docker-compose 1.29.2 rejects the top-level name key
    expect(config).toMatch(/image: pgvector\/pgvector:/);
    expect(config).toMatch(/image: caddy:2\n/);
  });

  it("refuses to render without the required variables, naming each one", async () => {
    for (const name of Object.keys(required)) {
      const env: Record<string, string> = { ...required };
      delete env[name];
      const failed = await composeConfig(env, dir).then(() => "", (err: { stderr: string }) => err.stderr);
      expect(failed, name).toContain(`set ${name} in .env`);
    }
  });

  it("runs the vault and the judge in production mode with the ledger origin and their own secret bundles", () => {
    for (const s of ["vault", "judge"]) {
      expect(envs[s], s).toMatchObject({ NODE_ENV: "production", VAULT_LEDGER_ORIGIN: required.VAULT_LEDGER_ORIGIN });
      expect(envs[s]!.DATABASE_URL).toBe(`postgres://countersign:${required.POSTGRES_PASSWORD}@postgres:5432/countersign`);
    }
    expect(envs.vault).toMatchObject({ VAULT_JUDGE_URL: "http://judge:8001", VAULT_JUDGE_API_KEY: required.JUDGE_API_KEY, VAULT_BOOTSTRAP_API_KEY: required.VAULT_BOOTSTRAP_API_KEY });
    expect(envs.judge).toMatchObject({ JUDGE_API_KEY: required.JUDGE_API_KEY, JUDGE_PORT: "8001" });
    // Secrets go only where they are used.
    expect(envs.judge).not.toHaveProperty("VAULT_BOOTSTRAP_API_KEY");
    expect(envs.judge).not.toHaveProperty("SMTP_PASSWORD");
    expect(envs.vault).not.toHaveProperty("LLM_API_KEY");
  });

  it("maps VAULT_AWS_SECRET_NAME and JUDGE_AWS_SECRET_NAME onto each process's AWS_SECRET_NAME", async () => {
    const withNames = serviceEnvironments(await composeConfig({ ...required, VAULT_AWS_SECRET_NAME: "cs/vault", JUDGE_AWS_SECRET_NAME: "cs/judge", TENANT_SECRET_PREFIX: "cs/tenants", AWS_REGION: "eu-west-1" }, dir));
    expect(withNames.vault).toMatchObject({ AWS_SECRET_NAME: "cs/vault", TENANT_SECRET_PREFIX: "cs/tenants", AWS_REGION: "eu-west-1" });
    expect(withNames.judge).toMatchObject({ AWS_SECRET_NAME: "cs/judge", TENANT_SECRET_PREFIX: "cs/tenants", AWS_REGION: "eu-west-1" });
  });

  it("every schema variable is in .env.example and reaches the vault or the judge, or is listed as deliberately absent", () => {
    const passed = new Set([...Object.keys(envs.vault!), ...Object.keys(envs.judge!)]);
    const problems: string[] = [];
    for (const name of schemaKeys) {
      const absent = deliberatelyAbsent[name]?.from;
      const inExample = exampleNames.includes(name);
      const inCompose = passed.has(name);
      if (absent === "both") {
        if (inExample || inCompose) problems.push(`${name}: listed as absent from both, but present`);
        continue;
      }
      if (!inExample && absent !== ".env.example") problems.push(`${name}: missing from deployments/.env.example`);
      if (!inCompose && absent !== "compose") problems.push(`${name}: not passed to the vault or the judge by docker-compose.yml`);
      if (absent === ".env.example" && inExample) problems.push(`${name}: listed as absent from .env.example, but it is there`);
      if (absent === "compose" && inCompose) problems.push(`${name}: listed as absent from compose, but it is there`);
    }
    for (const name of awsSdkVariables) {
      if (!exampleNames.includes(name) || !passed.has(name)) problems.push(`${name}: read by src/config/aws.ts; must be in .env.example and compose`);
    }
    // The table must not outlive the variables it explains.
    for (const name of Object.keys(deliberatelyAbsent)) if (!schemaKeys.includes(name)) problems.push(`${name}: in the table but no longer in the schema`);
    expect(problems).toEqual([]);
  });

  it("nothing set in .env is silently dropped: every .env.example variable is read by compose", () => {
    const unread = exampleNames.filter((name) => !new RegExp(`\\$\\{${name}(:[-?][^}]*)?\\}`).test(composeText));
    expect(unread).toEqual([]);
  });

  it("puts Caddy in front with the shipped Caddyfile; health checks, restart policies and named volumes everywhere", () => {
    expect(envs.caddy).toMatchObject({ COUNTERSIGN_DOMAIN: required.COUNTERSIGN_DOMAIN, COUNTERSIGN_TLS: required.COUNTERSIGN_TLS, COUNTERSIGN_VAULT_UPSTREAMS: "vault:8000", VAULT_MAX_BODY_BYTES: "1048576" });
    expect(serviceBlock(config, "caddy")).toContain(`${path.join(dir, "deployments", "Caddyfile")}:/etc/caddy/Caddyfile:ro`);
    for (const volume of ["postgres-data", "vault-data", "caddy-data", "caddy-config"]) expect(config).toMatch(new RegExp(`^  ${volume}: \\{\\}$`, "m"));
    for (const s of ["caddy", "judge", "postgres", "vault"]) {
      expect(serviceBlock(config, s), s).toContain("    restart: unless-stopped");
      expect(serviceBlock(config, s), s).toContain("    healthcheck:");
    }
    // A published vault port would stop `--scale vault=2` (two replicas cannot bind one host port).
    expect(serviceBlock(config, "vault")).not.toContain("    ports:");
    expect(serviceBlock(config, "vault")).not.toContain("container_name");
  });

  it("caddy validate accepts deployments/Caddyfile for production (ACME) and for tls internal", async () => {
    if (!existsSync(CADDY)) throw new Error(`${CADDY} is missing: install Debian's caddy package (apt-get install -y caddy); .ci/run does`);
    const base = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, XDG_DATA_HOME: path.join(dir, "data"), XDG_CONFIG_HOME: path.join(dir, "config") };
    for (const tls of ["ops@example.com", "internal"]) {
      const { stdout } = await run(CADDY, ["validate", "--adapter", "caddyfile", "--config", CADDYFILE], { env: { ...base, COUNTERSIGN_DOMAIN: "vault.example.com", COUNTERSIGN_TLS: tls } });
      expect(stdout).toContain("Valid configuration");
    }
    // And the adapted JSON has what the ingress promises: unbuffered streaming, /readyz health checks, retries.
    const { stdout } = await run(CADDY, ["adapt", "--adapter", "caddyfile", "--config", CADDYFILE], { env: { ...base, COUNTERSIGN_DOMAIN: "vault.example.com", COUNTERSIGN_VAULT_UPSTREAMS: "10.0.0.1:8000 10.0.0.2:8000" } });
    const proxy = JSON.stringify(JSON.parse(stdout));
    expect(proxy).toContain('"flush_interval":-1');
    expect(proxy).toContain('"uri":"/readyz"');
    expect(proxy).toContain('"upstreams":[{"dial":"10.0.0.1:8000"},{"dial":"10.0.0.2:8000"}]');
    expect(proxy).toContain('"try_duration":5000000000');
    expect(proxy).toContain('"max_size":1048576');
  });
});

describe("Dockerfile", () => {
  // package.json's `prepare` builds with tsc: during `npm ci` it would run before src is copied (build
  // stage) or without tsc at all (runtime stage, --omit=dev). Both stages skip scripts; the build stage builds once.
  it("installs without lifecycle scripts in both stages and builds once, after src is copied", () => {
    const lines = readFileSync(path.resolve("Dockerfile"), "utf8").split("\n");
    const installs = lines.filter((l) => /^RUN npm ci\b/.test(l));
    expect(installs).toHaveLength(2);
    for (const l of installs) expect(l).toContain("--ignore-scripts");
    expect(installs[1]).toContain("--omit=dev");
    const build = lines.findIndex((l) => l.trim() === "RUN npm run build");
    expect(build).toBeGreaterThan(lines.findIndex((l) => l.startsWith("COPY src ")));
    expect(build).toBeLessThan(lines.findIndex((l) => l.startsWith("FROM ") && l.includes("AS runtime")));
  });
});

/**
 * The vault state every bad-input test file starts from, and the HTTP helpers that record each
 * response's status for the file's final "no 5xx" check.
 *
 * Each test file starts its own PGlite vault (newDatabase("pglite") + startTestVault) in beforeAll,
 * then calls BadInputVault.seed, which creates the keys, a second tenant, the refund policy, one
 * approved request (its token never consumed) and one request left in pending_review.
 */
import { randomUUID } from "node:crypto";
import net from "node:net";
import { expect } from "vitest";
import { LocalSigner, parseEd25519PrivateKey } from "../../../src/tokens/signer.js";
import { deriveTenantSigner } from "../../../src/tokens/tenant-token-keys.js";
import { call, newKey, newTenant, refundPolicy, TEST_KEY_BASE64, type HttpResult, type TestVault } from "../../helpers/vault.js";
import type { Json } from "./hostile-payloads.js";
import type { ResponseStatusRecorder } from "./problem-assertions.js";

type CallOpts = Parameters<typeof call>[3];

export class BadInputVault {
  /** The approved stripe_refund {amount: 5}; its token is never consumed by the suite. */
  approved: { request_id: string; token: string } = { request_id: "", token: "" };
  /** A request left in pending_review. */
  pendingId = "";
  tokenHeader: { kid: string } = { kid: "" };
  tokenClaims: Json = {};
  private policyCounter = 0;

  private constructor(
    readonly testVault: TestVault,
    readonly statuses: ResponseStatusRecorder,
    readonly adminKey: string,
    readonly agentKey: string,
    readonly reviewerKey: string,
    /** Admin key of a second tenant. */
    readonly otherTenantAdminKey: string,
    readonly maxBodyBytes: number,
  ) {}

  static async seed(testVault: TestVault, statuses: ResponseStatusRecorder): Promise<BadInputVault> {
    const vault = new BadInputVault(
      testVault,
      statuses,
      testVault.adminKey,
      await newKey(testVault, "agent"),
      await newKey(testVault, "reviewer"),
      (await newTenant(testVault, "bad-input-other")).adminKey,
      testVault.vault.ctx.config.http.maxBodyBytes,
    );

    const reg = await vault.http("POST", "/register-policy", { key: vault.adminKey, body: refundPolicy });
    expect(reg.status).toBe(200);
    const ok = await vault.http("POST", "/request-clearance", { key: vault.agentKey, body: { tool_name: "stripe_refund", tool_args: { amount: 5 } } });
    expect(ok.status).toBe(200);
    expect(ok.body.status).toBe("approved");
    vault.approved = { request_id: ok.body.request_id, token: ok.body.token };
    const [h = "", p = ""] = vault.approved.token.split(".");
    vault.tokenHeader = JSON.parse(Buffer.from(h, "base64url").toString("utf8"));
    vault.tokenClaims = JSON.parse(Buffer.from(p, "base64url").toString("utf8"));
    vault.pendingId = await vault.freshPending();
    return vault;
  }

  async http(method: string, path: string, opts: CallOpts = {}): Promise<HttpResult> {
    return this.statuses.record(`${method} ${path.slice(0, 100)}`, await call(this.testVault.url, method, path, opts));
  }

  /**
   * One raw HTTP/1.1 exchange, for requests fetch refuses to send (control characters in headers,
   * a bad Content-Length, a body without Content-Type). Returns what the vault wrote back.
   */
  async rawHttp(label: string, request: string): Promise<HttpResult> {
    const { port, hostname } = new URL(this.testVault.url);
    const text = await new Promise<string>((resolve) => {
      let data = "";
      const socket = net.connect(Number(port), hostname, () => socket.write(request));
      socket.setEncoding("utf8");
      socket.setTimeout(10_000, () => socket.destroy());
      socket.on("data", (chunk: string) => (data += chunk));
      socket.on("close", () => resolve(data));
      socket.on("error", () => {
        /* the vault may reset the connection after answering; what arrived is in `data` */
      });
    });
    const split = text.indexOf("\r\n\r\n");
    const head = split >= 0 ? text.slice(0, split) : text;
    const rawBody = split >= 0 ? text.slice(split + 4) : "";
    const [statusLine = "", ...headerLines] = head.split("\r\n");
    const status = Number(statusLine.split(" ")[1] ?? 0);
    const headers = new Headers();
    for (const line of headerLines) {
      const i = line.indexOf(":");
      if (i > 0) headers.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
    }
    let body: any = rawBody;
    try {
      body = JSON.parse(rawBody);
    } catch {
      /* left as text */
    }
    return this.statuses.record(label, { status, headers, body });
  }

  async freshPending(): Promise<string> {
    const res = await this.http("POST", "/request-clearance", { key: this.agentKey, body: { tool_name: "unlisted_tool", tool_args: { n: 1 } } });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("pending_review");
    return res.body.request_id as string;
  }

  async freshToken(): Promise<string> {
    const res = await this.http("POST", "/request-clearance", { key: this.agentKey, body: { tool_name: "stripe_refund", tool_args: { amount: 5 } } });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("approved");
    return res.body.token as string;
  }

  /** A policy that touches no tool the rest of the suite uses, so registering it changes no decision. */
  policyDoc(policyId = `bad-input-${++this.policyCounter}`, extra: Json = {}): Json {
    return {
      policy_id: policyId,
      description: "Bad-input suite",
      tools: ["policy_test_tool"],
      conditions: [{ id: "big", when: "args.n > 1", decision: "deny", reason: "too big" }],
      default_decision: "review",
      ...extra,
    };
  }

  /** Claims shaped like the vault's, for this tenant, with a jti it never issued. */
  forgedClaims(over: Json = {}): Json {
    const now = Math.floor(Date.now() / 1000);
    return { ...this.tokenClaims, iat: now, exp: now + 300, jti: randomUUID(), request_id: "req_forged", ...over };
  }

  /** A signer holding the tenant's token key (derived from the vault key), for tokens that are validly signed but wrong. */
  vaultSigner(): LocalSigner {
    const vaultKey = new LocalSigner("test-key-1", parseEd25519PrivateKey(TEST_KEY_BASE64, "test key"));
    return deriveTenantSigner(vaultKey, String(this.tokenClaims.tenant_id), 1);
  }
}

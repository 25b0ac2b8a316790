/**
 * Mixed clearance load for the production-topology test: approvals, denials and reviews spread over
 * several vaults, and every approved token consumed at once on two vaults side by side (a double
 * spend attempt). Every answer is recorded, so the test can check afterwards what was acknowledged.
 */
import { decodeJwt } from "jose";
import { setTimeout as sleep } from "node:timers/promises";

export interface Target {
  name: string;
  url: string;
}

/** A clearance request that a vault acknowledged: 200 (decided in time) or 202 (processing). */
export interface Ack {
  requestId: string;
  vault: string;
  httpStatus: 200 | 202;
  amount: number;
  /** The status in the acknowledgement: the final one on a 200, "processing" on a 202. */
  status: string;
  /** The decision's reason code on a 200 (why, when the status is not the expected one). */
  reasonCode: string | null;
  token: string | null;
}

export interface ConsumeAnswer {
  jti: string;
  vault: string;
  /** The HTTP status, or "error" when the connection failed (the vault died under it). */
  status: number | "error";
}

export interface Unacknowledged {
  vault: string;
  detail: string;
}

/** The decision refundPolicy (test/helpers/vault.ts) gives an amount. */
export function expectedStatus(amount: number): "approved" | "pending_review" | "denied" {
  return amount > 1000 ? "denied" : amount > 100 ? "pending_review" : "approved";
}

/** Approve, review and deny in turn, the amounts varied so that no two requests look alike. */
export function amountFor(i: number): number {
  return [1 + (i % 97), 101 + (i % 800), 1001 + i][i % 3]!;
}

const REQUEST_TIMEOUT_MS = 30_000;

async function post(url: string, key: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", "x-vault-api-key": key },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

export class MixedLoad {
  readonly acks: Ack[] = [];
  readonly consumes: ConsumeAnswer[] = [];
  readonly unacknowledged: Unacknowledged[] = [];
  /** Answers other than 200/202 (each one is a failure the test reports). */
  readonly refused: { vault: string; status: number; body: unknown }[] = [];
  sent = 0;
  private readonly dead = new Set<string>();

  constructor(
    private readonly targets: Target[],
    private readonly key: string,
    private readonly opts: { total: number; concurrency: number; perSecond: number },
  ) {}

  /** From now on new requests go to the other vaults (as a load balancer's health check would decide). */
  markDead(name: string): void {
    this.dead.add(name);
  }

  alive(): Target[] {
    return this.targets.filter((t) => !this.dead.has(t.name));
  }

  /** Sends `total` clearance requests at `perSecond`, at most `concurrency` unanswered at once. */
  async run(): Promise<void> {
    const started = Date.now();
    let next = 0;
    const worker = async () => {
      while (next < this.opts.total) {
        const i = next++;
        const due = started + (i * 1000) / this.opts.perSecond;
        if (due > Date.now()) await sleep(due - Date.now());
        await this.clearance(i);
      }
    };
    await Promise.all(Array.from({ length: this.opts.concurrency }, worker));
  }

  private async clearance(i: number): Promise<void> {
    const preferred = this.targets[i % this.targets.length]!;
    const target = this.dead.has(preferred.name) ? this.alive()[0]! : preferred;
    const amount = amountFor(i);
    this.sent++;
    let res: { status: number; body: any };
    try {
      res = await post(`${target.url}/request-clearance`, this.key, { tool_name: "stripe_refund", tool_args: { amount }, agent_id: "topology-agent" });
    } catch (err) {
      this.unacknowledged.push({ vault: target.name, detail: err instanceof Error ? err.message : String(err) });
      return;
    }
    if (res.status !== 200 && res.status !== 202) {
      this.refused.push({ vault: target.name, status: res.status, body: res.body });
      return;
    }
    const b = res.body as { request_id: string; status: string; reason_code: string | null; token: string | null };
    this.acks.push({ requestId: b.request_id, vault: target.name, httpStatus: res.status, amount, status: b.status, reasonCode: b.reason_code, token: b.token });
    if (b.status === "approved" && b.token) await this.consumeEverywhere(b.token);
  }

  /** The same token on every live vault at once: at most one of them may burn it. */
  async consumeEverywhere(token: string): Promise<void> {
    const jti = String(decodeJwt(token).jti);
    await Promise.all(
      this.alive().map(async (t) => {
        let status: number | "error";
        try {
          status = (await post(`${t.url}/consume-token`, this.key, { token })).status;
        } catch {
          status = "error";
        }
        this.consumes.push({ jti, vault: t.name, status });
      }),
    );
  }
}

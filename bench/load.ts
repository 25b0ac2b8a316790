import { performance } from "node:perf_hooks";
import autocannon from "autocannon";
import { LatencyRecorder, type PhaseStats } from "./stats.js";

export interface LoadTarget {
  url: string;
  apiKey: string;
  connections: number;
}

interface LoadSpec {
  path: string;
  /** Fixed run length in seconds, or a fixed number of requests (for a finite supply of tokens). */
  stop: { seconds: number } | { amount: number };
  nextBody: () => string;
  /** True when the answer is the success being counted. */
  check: (status: number, body: string) => boolean;
  /** A fixed offered load (requests/s over all connections) instead of as fast as possible. */
  overallRate?: number;
}

/**
 * One autocannon run. Throughput and percentiles are computed here rather than taken from
 * autocannon: its latency histogram has 1 ms resolution, and its duration is rounded up to the next
 * 1 s sampling tick, which would understate the rate of a fixed-amount run by up to a second.
 */
async function runLoad(target: LoadTarget, spec: LoadSpec): Promise<PhaseStats> {
  let ok = 0;
  let unexpected = 0;
  let sample: string | undefined;
  let lastResponse = 0;
  const latencies = new LatencyRecorder();
  const start = performance.now();
  const instance = autocannon({
    url: target.url,
    connections: target.connections,
    ...(spec.overallRate ? { overallRate: spec.overallRate } : {}),
    ...("seconds" in spec.stop ? { duration: spec.stop.seconds } : { amount: spec.stop.amount }),
    requests: [
      {
        method: "POST",
        path: spec.path,
        headers: { "content-type": "application/json", "x-vault-api-key": target.apiKey },
        setupRequest: (req) => ({ ...req, body: spec.nextBody() }),
        onResponse: (status, body) => {
          let good = false;
          try {
            good = spec.check(status, body);
          } catch {
            // A body that is not JSON is an unexpected answer, not a crash of the load generator.
          }
          if (good) return void ok++;
          unexpected++;
          sample ??= `HTTP ${status}: ${body.slice(0, 300)}`;
        },
      },
    ],
  });
  instance.on("response", (_client, _status, _bytes, responseTime) => {
    latencies.add(responseTime);
    lastResponse = performance.now();
  });
  const result = await instance;
  const seconds = ((lastResponse || performance.now()) - start) / 1000;
  const statusCodes = Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, s]) => [code, s.count]));
  return { ok, seconds, perSecond: ok / seconds, ...latencies.summary(), errors: result.errors, unexpected, statusCodes, sample, latencies };
}

let order = 0;

/** Approved clearances; every token is kept so the consume phase can burn real, unused tokens. */
export function clearancePhase(target: LoadTarget, seconds: number, tokens: string[], overallRate?: number): Promise<PhaseStats> {
  return runLoad(target, {
    path: "/request-clearance",
    stop: { seconds },
    overallRate,
    // A distinct order per request, so every decision is a new row as it would be in production.
    nextBody: () => JSON.stringify({ tool_name: "bench_tool", tool_args: { amount: 42, order: `o-${++order}` }, agent_id: "bench" }),
    check: (status, body) => {
      if (status !== 200) return false;
      const r = JSON.parse(body) as { status?: string; decision_status?: string; token?: unknown };
      if (r.status !== "approved" || r.decision_status !== "approved" || typeof r.token !== "string") return false;
      tokens.push(r.token);
      return true;
    },
  });
}

/** Burns `count` tokens from the front of `tokens`, each exactly once, so every answer should be 200. */
export function consumePhase(target: LoadTarget, tokens: string[], count: number): Promise<PhaseStats> {
  const batch = tokens.splice(0, count);
  let next = 0;
  return runLoad(target, {
    path: "/consume-token",
    stop: { amount: batch.length },
    // autocannon builds exactly `amount` requests; a missing token would show up as a 4xx, not be hidden.
    nextBody: () => JSON.stringify({ token: batch[next++] ?? "missing-token" }),
    check: (status, body) => status === 200 && (JSON.parse(body) as { consumed?: unknown }).consumed === true,
  });
}

/** The minimal signing service (minimal-service.ts) under the same load: the clearance body, one token per answer. */
export function signPhase(target: LoadTarget, seconds: number): Promise<PhaseStats> {
  return runLoad(target, {
    path: "/sign",
    stop: { seconds },
    nextBody: () => JSON.stringify({ tool_name: "bench_tool", tool_args: { amount: 42, order: `o-${++order}` }, agent_id: "bench" }),
    check: (status, body) => status === 200 && typeof (JSON.parse(body) as { token?: unknown }).token === "string",
  });
}

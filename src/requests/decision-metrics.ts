import { Counter, Histogram } from "prom-client";
import { metricsRegistry } from "../metrics.js";
import type { ClearanceRequest } from "./clearance-request.js";

const decisions = new Counter({
  name: "countersign_decisions_total",
  help: "Clearance requests decided (committed), by resulting status and reason_code: the judge's decisions and the later human, expiry and cancel ones",
  labelNames: ["status", "reason_code"],
  registers: [metricsRegistry],
});

const decisionSeconds = new Histogram({
  name: "countersign_clearance_decision_seconds",
  help: "Time from a clearance request's arrival to the judge's committed decision (approve, deny or review)",
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  registers: [metricsRegistry],
});

const tokensIssued = new Counter({
  name: "countersign_tokens_issued_total",
  help: "A-JWTs issued (committed), by what issued them: the judge's approval, a human approval, or /mint-token",
  labelNames: ["source"],
  registers: [metricsRegistry],
});

const tokensConsumed = new Counter({
  name: "countersign_tokens_consumed_total",
  help: "A-JWTs burned by /consume-token (committed)",
  registers: [metricsRegistry],
});

/** What the lifecycle reports once a change has committed (it calls these from tx.onCommit only). */
export const decisionMetrics = {
  /** The judge's decision on a request (inline or queued). */
  judged(request: Pick<ClearanceRequest, "status" | "reason_code" | "created_at" | "decided_at">): void {
    decisions.inc({ status: request.status, reason_code: request.reason_code ?? "none" });
    if (request.decided_at) decisionSeconds.observe(Math.max(0, (new Date(request.decided_at).getTime() - new Date(request.created_at).getTime()) / 1000));
    if (request.status === "approved") tokensIssued.inc({ source: "judge" });
  },
  /** A later transition: a reviewer's decision, an expiry, a cancel. */
  finished(request: Pick<ClearanceRequest, "status" | "reason_code">): void {
    decisions.inc({ status: request.status, reason_code: request.reason_code ?? "none" });
    if (request.status === "approved") tokensIssued.inc({ source: "review" });
  },
  minted(): void {
    tokensIssued.inc({ source: "mint" });
  },
  consumed(): void {
    tokensConsumed.inc();
  },
};

import type { Logger } from "pino";
import { judgeMetrics } from "./metrics.js";
import { failClosedVerdict, verdictSchema, type Judge, type JudgeInput, type Verdict } from "./judge.js";

/**
 * Wraps any judge so that an error, a timeout or an answer that fails validation becomes a
 * review verdict. Nothing in here can produce an approval on its own.
 */
export class FailClosedJudge implements Judge {
  failures = 0;

  constructor(
    private readonly inner: Judge,
    private readonly timeoutMs: number,
    private readonly log: Logger,
  ) {}

  async evaluate(input: JudgeInput): Promise<Verdict> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), this.timeoutMs);
    });
    try {
      const answer = await Promise.race([this.inner.evaluate(input), timeout]);
      if (answer === "timeout") return this.fail(input, "judge_timeout", `Judge did not answer within ${this.timeoutMs} ms; sent to human review`);
      const parsed = verdictSchema.safeParse(answer);
      if (!parsed.success) return this.fail(input, "judge_invalid_output", "Judge answer was invalid; sent to human review");
      return parsed.data;
    } catch (err) {
      this.log.error({ err, requestId: input.requestId }, "judge failed");
      return this.fail(input, "judge_unavailable", "Judge was unavailable; sent to human review");
    } finally {
      clearTimeout(timer);
    }
  }

  private fail(input: JudgeInput, code: string, reason: string): Verdict {
    this.failures++;
    judgeMetrics.failClosed.inc({ reason: code });
    this.log.warn({ requestId: input.requestId, tenantId: input.tenantId, code }, "judge failed closed");
    return failClosedVerdict(code, reason);
  }
}

import { failClosedVerdict, type Judge, type Verdict } from "./judge.js";

/**
 * Development only (VAULT_ALLOW_STUB_JUDGE=true): every request goes to human review. It can never
 * approve, so forgetting it switched on costs reviewers time, not safety.
 */
export class StubJudge implements Judge {
  async evaluate(): Promise<Verdict> {
    return { ...failClosedVerdict("stub_judge", "The development stub judge sends every request to human review"), trace: { stub: true } };
  }
}

import type OpenAI from "openai";
import { APIConnectionTimeoutError } from "openai";
import type { ChatCompletionMessageParam } from "openai/resources/chat/completions";
import { z } from "zod";
import { outboundFailureOf } from "../../http-client/bounded-fetch.js";
import { findDuplicateKey } from "../../tokens/duplicate-keys.js";
import { confidenceBuckets } from "../judge.js";
import { openAiClient, providerModelName, type OpenAiSettings } from "../../http-client/openai-client.js";
import { llmAnswerJsonSchema } from "./prompt.js";

export const llmAnswerSchema = z.strictObject({
  decision: z.enum(["yes", "no", "review"]),
  reasoning: z.string().min(1).max(4000),
  confidence_bucket: z.enum(confidenceBuckets),
  cited_chunk_ids: z.array(z.string()).max(50),
});
export type LlmAnswer = z.infer<typeof llmAnswerSchema>;

export type LlmOutcome =
  | { ok: true; answer: LlmAnswer; attempts: number }
  | { ok: false; code: "llm_timeout" | "llm_unavailable" | "llm_invalid_output" | "llm_refused"; detail: string; attempts: number };

export interface LlmSettings extends OpenAiSettings {
  model: string;
}

/**
 * Asks an OpenAI-compatible chat completions endpoint for a structured decision. An answer that is
 * not valid JSON, fails the schema, or cites chunks it was not shown is asked once more; a second
 * bad answer, an error or a timeout is a failure the judge turns into review. An approval that cites
 * no excerpt counts as a bad answer: "yes" must rest on policy text the model was shown.
 */
export class LlmEvaluator {
  private readonly client: OpenAI;

  constructor(readonly settings: LlmSettings) {
    this.client = openAiClient(settings);
  }

  /** `apiKey`: a tenant's own key (its bundle's `llm_api_key`) sent instead of LLM_API_KEY for this call. */
  async decide(messages: ChatCompletionMessageParam[], shownChunkIds: Set<string>, apiKey?: string): Promise<LlmOutcome> {
    let problem = "";
    // Request headers come last in the SDK, so this replaces the client's Authorization for this call only.
    const headers = apiKey ? { Authorization: `Bearer ${apiKey}` } : undefined;
    // EVAL_TIMEOUT_MS bounds the whole decision, retry included: the retry gets what is left.
    const deadline = performance.now() + this.settings.timeoutMs;
    for (let attempt = 1; attempt <= 2; attempt++) {
      const remaining = Math.floor(deadline - performance.now());
      if (remaining <= 0) return { ok: false, code: "llm_timeout", detail: "no time left for a retry", attempts: attempt - 1 };
      let content: string | null | undefined;
      try {
        const completion = await this.client.chat.completions.create(
          {
            model: providerModelName(this.settings.model),
            messages,
            temperature: 0,
            response_format: { type: "json_schema", json_schema: { name: "clearance_decision", strict: true, schema: llmAnswerJsonSchema } },
          },
          { timeout: remaining, headers },
        );
        const message = completion.choices?.[0]?.message;
        if (message?.refusal) return { ok: false, code: "llm_refused", detail: message.refusal.slice(0, 500), attempts: attempt };
        content = message?.content;
      } catch (err) {
        // A refused redirect or an oversized answer is unavailability; a body past the deadline is a timeout.
        const outbound = outboundFailureOf(err);
        const timedOut = err instanceof APIConnectionTimeoutError || outbound?.reason === "timeout";
        const detail = (outbound ?? (err as Error)).message.slice(0, 500);
        return { ok: false, code: timedOut ? "llm_timeout" : "llm_unavailable", detail, attempts: attempt };
      }
      const checked = check(content, shownChunkIds);
      if (checked.ok) return { ok: true, answer: checked.answer, attempts: attempt };
      problem = checked.problem;
    }
    return { ok: false, code: "llm_invalid_output", detail: problem, attempts: 2 };
  }
}

function check(content: string | null | undefined, shown: Set<string>): { ok: true; answer: LlmAnswer } | { ok: false; problem: string } {
  if (!content) return { ok: false, problem: "empty answer" };
  let json: unknown;
  try {
    json = JSON.parse(content);
  } catch {
    return { ok: false, problem: "answer is not JSON" };
  }
  // A repeated name (an injected second "decision") would silently win as the last one: refused.
  const repeated = findDuplicateKey(content);
  if (repeated !== null) return { ok: false, problem: `answer repeats the member name at ${repeated}` };
  const parsed = llmAnswerSchema.safeParse(json);
  if (!parsed.success) return { ok: false, problem: `answer does not match the schema: ${parsed.error.issues[0]?.message ?? ""}` };
  const unknown = parsed.data.cited_chunk_ids.filter((id) => !shown.has(id));
  if (unknown.length > 0) return { ok: false, problem: `answer cites chunks it was not shown: ${unknown.slice(0, 3).join(", ")}` };
  // An approval must rest on policy text; with nothing to cite (or nothing cited) it is not one.
  if (parsed.data.decision === "yes" && parsed.data.cited_chunk_ids.length === 0) return { ok: false, problem: "approval cites no policy excerpt" };
  return { ok: true, answer: parsed.data };
}

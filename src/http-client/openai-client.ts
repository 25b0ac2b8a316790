import OpenAI from "openai";
import { boundedFetcher } from "./bounded-fetch.js";

export interface OpenAiSettings {
  baseUrl?: string;
  apiKey?: string;
  timeoutMs: number;
  /** Largest answer accepted (LLM_MAX_RESPONSE_BYTES or EMBEDDING_MAX_RESPONSE_BYTES). */
  maxResponseBytes: number;
}

/**
 * One client for chat and embeddings. Retries are ours to decide (the judge retries an invalid
 * answer once and fails closed on errors), so the SDK's own are off; the base URL and key always
 * come from our config, never from the SDK reading the environment itself. Its fetch is the
 * bounded one: no redirect (it would carry the key and the prompt elsewhere), a size cap, and a
 * deadline that covers the body (the SDK's timeout stops once the headers arrive).
 */
export function openAiClient(settings: OpenAiSettings): OpenAI {
  return new OpenAI({
    baseURL: settings.baseUrl ?? "https://api.openai.com/v1",
    // Local servers (Ollama, vLLM) often need no key, but the SDK insists on one.
    apiKey: settings.apiKey ?? "not-configured",
    timeout: settings.timeoutMs,
    maxRetries: 0,
    fetch: boundedFetcher({ timeoutMs: settings.timeoutMs, maxResponseBytes: settings.maxResponseBytes }),
  });
}

/** `openai/<model>` means "plain OpenAI protocol"; any other `<provider>/<model>` is passed through for a proxy to route. */
export function providerModelName(model: string): string {
  return model.startsWith("openai/") ? model.slice("openai/".length) : model;
}

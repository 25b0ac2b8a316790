import OpenAI from "openai";

/**
 * One client for chat and embeddings. Retries are ours to decide (the judge retries an invalid
 * answer once and fails closed on errors), so the SDK's own are off; the base URL and key always
 * come from our config, never from the SDK reading the environment itself.
 */
export function openAiClient(settings: { baseUrl?: string; apiKey?: string; timeoutMs: number }): OpenAI {
  return new OpenAI({
    baseURL: settings.baseUrl ?? "https://api.openai.com/v1",
    // Local servers (Ollama, vLLM) often need no key, but the SDK insists on one.
    apiKey: settings.apiKey ?? "not-configured",
    timeout: settings.timeoutMs,
    maxRetries: 0,
  });
}

/** `openai/<model>` means "plain OpenAI protocol"; any other `<provider>/<model>` is passed through for a proxy to route. */
export function providerModelName(model: string): string {
  return model.startsWith("openai/") ? model.slice("openai/".length) : model;
}

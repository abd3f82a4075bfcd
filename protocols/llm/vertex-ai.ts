// Vertex AI: Google's models under `…/projects/{p}/locations/{l}/publishers/google/models/
// {model}:{method}` in the Gemini API's format (gemini.ts reads them), and Anthropic's under
// `…/publishers/anthropic/models/{model}:rawPredict` and `:streamRawPredict` in Anthropic's
// Messages format, the model named by the path (the body has `anthropic_version`, no `model`);
// `count-tokens:rawPredict` is Anthropic's count_tokens. Each answers errors in its own
// format (google.rpc, Anthropic's), so each is its own adapter under the one provider name.
// The OAuth bearer token is the `authorization` header, which the record redacts.
import type { LlmAdapter, LlmCall, UpstreamTraits } from './adapter.js';
import { anthropicAdapter } from './anthropic.js';
import { geminiAdapter } from './gemini.js';
import { sourced } from './price-source.js';

const GOOGLE_PATH = /\/projects\/[^/]+\/locations\/[^/]+\/publishers\/google\/models\/[^/:]+:[A-Za-z]+$/;
const ANTHROPIC_PATH = /\/projects\/[^/]+\/locations\/[^/]+\/publishers\/anthropic\/models\/([^/:]+):(rawPredict|streamRawPredict)$/;

// USD per million tokens, Vertex AI's standard (pay-as-you-go) rates, text input. Claude's
// global endpoint is billed at Anthropic's list prices (regional endpoints cost about 10%
// more: a `pricing:` entry states them); its model ids (`claude-sonnet-4-5@20250929`) share
// their family's price by prefix.
const VERTEX_PRICES = {
  ...sourced({ url: 'https://cloud.google.com/vertex-ai/generative-ai/pricing', date: '2025-11' }, {
    'gemini-3-pro': { input: 2, output: 12, cache_read: 0.2, long_context: { above_input_tokens: 200_000, input: 4, output: 18, cache_read: 0.4 } },
    'gemini-2.5-pro': { input: 1.25, output: 10, cache_read: 0.125, long_context: { above_input_tokens: 200_000, input: 2.5, output: 15, cache_read: 0.25 } },
    'gemini-2.5-flash': { input: 0.3, output: 2.5, cache_read: 0.03 },
    'gemini-2.5-flash-lite': { input: 0.1, output: 0.4, cache_read: 0.01 },
    'gemini-2.0-flash': { input: 0.15, output: 0.6, cache_read: 0.0375 },
    'gemini-2.0-flash-lite': { input: 0.075, output: 0.3 },
    'gemini-embedding-001': { input: 0.15, output: 0 },
  }),
  ...sourced({ url: 'https://cloud.google.com/vertex-ai/generative-ai/pricing#claude-models', date: '2025-11' }, anthropicAdapter.prices),
};

const vertexNames = { provider: 'vertex_ai', genAiProvider: 'gcp.vertex_ai', prices: VERTEX_PRICES } as const;

/** Gemini models on Vertex AI. */
export const vertexGeminiAdapter: LlmAdapter = {
  ...geminiAdapter,
  ...vertexNames,
  recognises: (path: string): boolean => GOOGLE_PATH.test(path),
};

/** Anthropic's models on Vertex AI: the Messages API behind rawPredict, the model from the path. */
export const vertexAnthropicAdapter: LlmAdapter = {
  ...anthropicAdapter,
  ...vertexNames,
  describe(path: string, body: unknown, raw: Buffer, upstream: UpstreamTraits): LlmCall | null {
    const match = ANTHROPIC_PATH.exec(path);
    if (!match) return null;
    const counting = match[1] === 'count-tokens';
    const call = anthropicAdapter.describe(counting ? '/messages/count_tokens' : '/messages', body, raw, upstream);
    if (call && !counting) call.request = { ...call.request, model: match[1]! };
    return call;
  },
  recognises: (path: string): boolean => ANTHROPIC_PATH.test(path),
};

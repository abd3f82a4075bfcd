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
const ANTHROPIC_PATH = /\/projects\/[^/]+\/locations\/[^/]+\/publishers\/anthropic\/models\/([^/:]+):(?:rawPredict|streamRawPredict)$/;

// USD per million tokens, Vertex AI's standard (pay-as-you-go) rates, text input. Vertex's
// pricing page is not among the stored copies tapwire could read: its Gemini prices are the
// Developer API's (gemini.ts; the dataset that cross-checks them lists one price for both),
// except Gemini 2.0 Flash, which Vertex lists higher — estimates, marked unverified. Claude's
// global endpoint is billed at Anthropic's list prices, re-stamped with Vertex's page
// (regional endpoints cost 10% more for Claude 4.5 and later: a `pricing:` entry states them);
// its model ids (`claude-sonnet-4-5@20250929`) share their family's price by prefix.
const VERTEX_PRICING = 'https://cloud.google.com/vertex-ai/generative-ai/pricing';
/** Anthropic's pricing page, which Vertex's global endpoint follows for Claude. */
const ANTHROPIC_PRICING = 'https://platform.claude.com/docs/en/about-claude/pricing';
const GENAI_PRICES = 'https://github.com/pydantic/genai-prices/blob/47df840a5ab10bbcffb8e5ac01b9899032245d1b/prices/providers/google.yml';
const VERTEX_PRICES = {
  ...sourced({ url: VERTEX_PRICING, date: '2026-08-21', checked: 'unverified', against: [GENAI_PRICES] }, {
    ...geminiAdapter.prices,
    'gemini-2.0-flash': { input: 0.15, output: 0.6, cache_read: 0.0375 },
  }),
  ...sourced({ url: `${VERTEX_PRICING}#claude-models`, date: '2026-12-06', checked: 'unverified', against: [ANTHROPIC_PRICING] }, anthropicAdapter.prices),
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

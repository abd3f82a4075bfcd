// The LLM providers, one file each (its wire format, error shapes and built-in prices),
// registered in one table: a route's `provider` names one here, and a call on a route
// without one is read in the format its path is recognised as. A provider that speaks more
// than one format (Vertex AI: Gemini's and Anthropic's; Ollama: its own and OpenAI's) lists
// them, and a call is read in the first whose `recognises` takes its path, else the last.
// A new provider is its file and one line in PROVIDERS; config.ts takes any provider name,
// and providerProblems (the LLM protocol's RouteCheck) refuses one this table does not know.
import type { RouteConfig, RouteProblem } from '../../config/config.js';
import type { LlmAdapter } from './adapter.js';
import { anthropicAdapter } from './anthropic.js';
import { bedrockAdapter } from './bedrock.js';
import { azureOpenaiAdapter } from './azure-openai.js';
import { geminiAdapter } from './gemini.js';
import { ollamaAdapter, ollamaOpenaiAdapter } from './ollama.js';
import { openaiAdapter } from './openai.js';
import { vertexAnthropicAdapter, vertexGeminiAdapter } from './vertex-ai.js';
import { deepseekAdapter, fireworksAdapter, groqAdapter, mistralAdapter, openrouterAdapter, togetherAdapter, vllmAdapter } from './openai-compatible.js';
import type { Price } from './pricing.js';

type Formats = LlmAdapter | readonly [LlmAdapter, ...LlmAdapter[]];

const PROVIDERS = {
  // Before gemini: a Vertex AI path ends as a Gemini API path does.
  vertex_ai: [vertexAnthropicAdapter, vertexGeminiAdapter],
  openai: openaiAdapter,
  anthropic: anthropicAdapter,
  gemini: geminiAdapter,
  azure_openai: azureOpenaiAdapter,
  bedrock: bedrockAdapter,
  groq: groqAdapter,
  mistral: mistralAdapter,
  deepseek: deepseekAdapter,
  openrouter: openrouterAdapter,
  together: togetherAdapter,
  fireworks: fireworksAdapter,
  vllm: vllmAdapter,
  ollama: [ollamaAdapter, ollamaOpenaiAdapter],
} satisfies Record<string, Formats>;

export type ProviderName = keyof typeof PROVIDERS;

/** The format a call is read in when neither its route nor its path names another. */
const DEFAULT_ADAPTER = openaiAdapter;

function formats(entry: Formats): readonly LlmAdapter[] {
  return Array.isArray(entry) ? entry : [entry as LlmAdapter];
}

/** Each provider's built-in prices, by provider name (its formats share them). */
export const BUILT_IN_PRICES = Object.fromEntries(Object.entries(PROVIDERS).map(([name, entry]) => [name, formats(entry)[0]!.prices])) as Record<
  ProviderName,
  Readonly<Record<string, Price>>
>;

/** Every provider name tapwire knows, as a route's `provider` names it, in alphabetical order. */
export const PROVIDER_NAMES = (Object.keys(PROVIDERS) as ProviderName[]).sort();

/** Each provider's formats, by name; and every format, in the table's order: both read per call. */
const FORMATS = new Map<string, readonly LlmAdapter[]>(Object.entries(PROVIDERS).map(([name, entry]) => [name, formats(entry)]));
const ALL_FORMATS = [...FORMATS.values()].flat();

function named(provider: string): readonly LlmAdapter[] | undefined {
  return FORMATS.get(provider);
}

/**
 * The wire format of a call: the named provider's (the one of its formats that recognises the
 * path, else its last), else recognised from the path (a route's provider is known:
 * providerProblems checked it; a recorded one may not be).
 */
export function adapterFor(provider: string | undefined, path: string): LlmAdapter {
  const chosen = provider === undefined ? undefined : named(provider);
  if (chosen) return chosen.find((adapter) => adapter.recognises?.(path)) ?? chosen[chosen.length - 1]!;
  return ALL_FORMATS.find((adapter) => adapter.recognises?.(path)) ?? DEFAULT_ADAPTER;
}

/** gen_ai.provider.name for a recorded provider: the GenAI conventions' name where they list it under another. */
export function genAiProviderName(provider: string | null): string | null {
  return provider === null ? null : (named(provider)?.[0]?.genAiProvider ?? provider);
}

/** The LLM protocol's rules for a route: a provider this table knows, whose format takes add_stream_usage if it is set. */
export function providerProblems(route: RouteConfig): RouteProblem[] {
  if (route.provider === undefined) return [];
  const adapters = named(route.provider);
  if (!adapters) return [{ field: 'provider', message: `unknown provider ${route.provider}; providers: ${PROVIDER_NAMES.join(', ')}` }];
  if (route.add_stream_usage !== undefined && !adapters.some((adapter) => adapter.addsStreamUsage)) {
    return [{ field: 'add_stream_usage', message: 'only routes with protocol llm in the OpenAI format have add_stream_usage' }];
  }
  return [];
}

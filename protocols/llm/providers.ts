// The LLM providers, one file each (its wire format, error shapes and built-in prices),
// registered in one table: a route's `provider` names one here, and a call on a route
// without one is read in the format its path is recognised as. A new provider is its file
// and one line in PROVIDERS; config.ts takes any provider name, and providerProblems (the LLM
// protocol's RouteCheck) refuses one this table does not know, naming the route's field.
import type { RouteConfig, RouteProblem } from '../../config/config.js';
import type { LlmAdapter } from './adapter.js';
import { anthropicAdapter } from './anthropic.js';
import { bedrockAdapter } from './bedrock.js';
import { geminiAdapter } from './gemini.js';
import { openaiAdapter } from './openai.js';
import type { Price } from './pricing.js';

const PROVIDERS = { openai: openaiAdapter, anthropic: anthropicAdapter, gemini: geminiAdapter, 'aws.bedrock': bedrockAdapter } satisfies Record<string, LlmAdapter>;

export type ProviderName = keyof typeof PROVIDERS;

/** The format a call is read in when neither its route nor its path names another. */
const DEFAULT_ADAPTER = openaiAdapter;

/** Each provider's built-in prices, by provider name. */
export const BUILT_IN_PRICES = Object.fromEntries(Object.entries(PROVIDERS).map(([name, adapter]) => [name, adapter.prices])) as Record<ProviderName, Readonly<Record<string, Price>>>;

function named(provider: string): LlmAdapter | undefined {
  return Object.hasOwn(PROVIDERS, provider) ? PROVIDERS[provider as ProviderName] : undefined;
}

/**
 * The wire format of a call: the provider's when it is named and known, else recognised from
 * the path (a route's provider is known: providerProblems checked it; a recorded one may not be).
 */
export function adapterFor(provider: string | undefined, path: string): LlmAdapter {
  const chosen = provider === undefined ? undefined : named(provider);
  return chosen ?? Object.values(PROVIDERS).find((adapter: LlmAdapter) => adapter.recognises?.(path)) ?? DEFAULT_ADAPTER;
}

/** The LLM protocol's rules for a route: a provider this table knows, whose format takes add_stream_usage if it is set. */
export function providerProblems(route: RouteConfig): RouteProblem[] {
  if (route.provider === undefined) return [];
  const adapter = named(route.provider);
  if (!adapter) return [{ field: 'provider', message: `unknown provider ${route.provider}; providers: ${Object.keys(PROVIDERS).join(', ')}` }];
  if (route.add_stream_usage !== undefined && !adapter.addsStreamUsage) {
    return [{ field: 'add_stream_usage', message: 'only routes with protocol llm in the OpenAI format have add_stream_usage' }];
  }
  return [];
}

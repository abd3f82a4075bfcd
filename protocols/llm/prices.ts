// Built-in price table, USD per million tokens.
// Source: the providers' published API pricing pages (OpenAI "API pricing", Anthropic
// "Pricing" in the Claude docs), standard tier, as known on 2025-11-15. Prices change:
// add or override entries with `pricing:` in tapwire.yaml (config wins over this table).
// A model matches its exact name, else the longest entry that prefixes it, so dated
// snapshots (gpt-4o-2024-08-06, claude-sonnet-4-5-20250929) share their family's price.
// cache_read: cached input; cache_write: Anthropic 5-minute cache writes.

export interface Price {
  input: number;
  output: number;
  cache_read?: number;
  cache_write?: number;
}

export const PRICES_AS_OF = '2025-11-15';

export const BUILT_IN_PRICES: Record<'openai' | 'anthropic', Record<string, Price>> = {
  openai: {
    'gpt-5': { input: 1.25, output: 10, cache_read: 0.125 },
    'gpt-5-mini': { input: 0.25, output: 2, cache_read: 0.025 },
    'gpt-5-nano': { input: 0.05, output: 0.4, cache_read: 0.005 },
    'gpt-4.1': { input: 2, output: 8, cache_read: 0.5 },
    'gpt-4.1-mini': { input: 0.4, output: 1.6, cache_read: 0.1 },
    'gpt-4.1-nano': { input: 0.1, output: 0.4, cache_read: 0.025 },
    'gpt-4o': { input: 2.5, output: 10, cache_read: 1.25 },
    'gpt-4o-mini': { input: 0.15, output: 0.6, cache_read: 0.075 },
    'gpt-4-turbo': { input: 10, output: 30 },
    'gpt-3.5-turbo': { input: 0.5, output: 1.5 },
    o1: { input: 15, output: 60, cache_read: 7.5 },
    'o1-mini': { input: 1.1, output: 4.4, cache_read: 0.55 },
    o3: { input: 2, output: 8, cache_read: 0.5 },
    'o3-mini': { input: 1.1, output: 4.4, cache_read: 0.55 },
    'o4-mini': { input: 1.1, output: 4.4, cache_read: 0.275 },
    'text-embedding-3-small': { input: 0.02, output: 0 },
    'text-embedding-3-large': { input: 0.13, output: 0 },
    'text-embedding-ada-002': { input: 0.1, output: 0 },
  },
  anthropic: {
    'claude-opus-4-5': { input: 5, output: 25, cache_read: 0.5, cache_write: 6.25 },
    'claude-opus-4-1': { input: 15, output: 75, cache_read: 1.5, cache_write: 18.75 },
    'claude-opus-4': { input: 15, output: 75, cache_read: 1.5, cache_write: 18.75 },
    'claude-sonnet-4-5': { input: 3, output: 15, cache_read: 0.3, cache_write: 3.75 },
    'claude-sonnet-4': { input: 3, output: 15, cache_read: 0.3, cache_write: 3.75 },
    'claude-3-7-sonnet': { input: 3, output: 15, cache_read: 0.3, cache_write: 3.75 },
    'claude-3-5-sonnet': { input: 3, output: 15, cache_read: 0.3, cache_write: 3.75 },
    'claude-haiku-4-5': { input: 1, output: 5, cache_read: 0.1, cache_write: 1.25 },
    'claude-3-5-haiku': { input: 0.8, output: 4, cache_read: 0.08, cache_write: 1 },
    'claude-3-haiku': { input: 0.25, output: 1.25, cache_read: 0.03, cache_write: 0.3 },
    'claude-3-opus': { input: 15, output: 75, cache_read: 1.5, cache_write: 18.75 },
  },
};

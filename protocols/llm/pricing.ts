// Cost in USD of one LLM call, from each provider's built-in prices (in its file) and the
// config's `pricing:` entries, which override and add to them (prices change). A model
// matches its exact name, else the longest entry that prefixes it up to a separator, so dated
// snapshots and profile ids (gpt-4o-2024-08-06, claude-sonnet-4-5@20250929, …-v1:0) share
// their family's price while a newer version (gpt-5.5 after gpt-5) has none until it is listed:
// unknown, not the older model's price. A price may have a long-context tier (Gemini's above
// 200k prompt tokens, OpenAI's above 272k) that prices the whole call.
import type { PriceOverride } from '../../config/config.js';
import type { PriceSource } from './price-source.js';
import { BUILT_IN_PRICES } from './providers.js';
import type { Usage } from './usage.js';

/** USD per million tokens. cache_read: cached input; cache_write: cache writes (Anthropic's). */
export interface Price {
  input: number;
  output: number;
  cache_read?: number;
  cache_write?: number;
  /** The rates of a call whose input (cached tokens included) exceeds `above_input_tokens`, for all of its tokens. */
  long_context?: { above_input_tokens: number; input: number; output: number; cache_read?: number; cache_write?: number };
  /** Where a built-in price was read (none on a `pricing:` entry). */
  source?: PriceSource;
}

/** What may follow a family's name in a model id it prices: a snapshot's date, a version, a profile suffix. */
const SEPARATORS = new Set(['-', '@', ':', '/', '_']);

export class PriceBook {
  private readonly table = new Map<string, Map<string, Price>>();

  constructor(overrides: readonly PriceOverride[] = []) {
    for (const [provider, models] of Object.entries(BUILT_IN_PRICES)) {
      this.table.set(provider, new Map(Object.entries(models)));
    }
    for (const o of overrides) {
      const models = this.table.get(o.provider) ?? new Map<string, Price>();
      models.set(o.model, { input: o.input_per_mtok, output: o.output_per_mtok, cache_read: o.cache_read_per_mtok, cache_write: o.cache_write_per_mtok });
      this.table.set(o.provider, models);
    }
  }

  /** Every price that applies, by provider and model: built-in entries (with their source) and `pricing:` entries (without). */
  *entries(): Generator<{ provider: string; model: string; price: Price }> {
    for (const [provider, models] of this.table) for (const [model, price] of models) yield { provider, model, price };
  }

  /** The price of `model`: its exact entry, else the longest entry that prefixes it up to a separator. */
  lookup(provider: string, model: string): Price | null {
    const models = this.table.get(provider);
    if (!models) return null;
    const exact = models.get(model);
    if (exact) return exact;
    // The longest entry that ends where the model has a separator: each such prefix, longest first.
    for (let end = model.length - 1; end > 0; end--) {
      if (!SEPARATORS.has(model[end]!)) continue;
      const price = models.get(model.slice(0, end));
      if (price) return price;
    }
    return null;
  }

  /** USD for `usage`, or null when the model has no price. Input includes cached tokens. */
  cost(provider: string, model: string | null, usage: Usage): number | null {
    if (!model) return null;
    const listed = this.lookup(provider, model);
    if (!listed) return null;
    const tier = listed.long_context;
    const price = tier && (usage.input_tokens ?? 0) > tier.above_input_tokens ? { ...listed, ...tier } : listed;
    const cacheRead = usage.cache_read_tokens ?? 0;
    const cacheWrite = usage.cache_write_tokens ?? 0;
    const uncached = Math.max(0, (usage.input_tokens ?? 0) - cacheRead - cacheWrite);
    const micros =
      uncached * price.input +
      cacheRead * (price.cache_read ?? price.input) +
      cacheWrite * (price.cache_write ?? price.input) +
      (usage.output_tokens ?? 0) * price.output;
    return micros / 1_000_000;
  }
}

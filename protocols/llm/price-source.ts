// Where a built-in price was read: each provider file stamps its entries with the page, the
// date and how far the numbers were checked, so `tapwire prices` can show, for every model,
// which list a cost comes from and how much to trust it (docs/providers.md, "Where prices
// come from").
import type { Price } from './pricing.js';

/**
 * How a price was checked. `official`: read from the provider's own pricing or model page.
 * `cross-checked`: that page was not at hand; at least two independent dated sources agree.
 * `unverified`: neither — kept so a call is not unpriced, until a `pricing:` entry states it.
 */
export type PriceCheck = 'official' | 'cross-checked' | 'unverified';

export interface PriceSource {
  /** The provider's page that lists the price (what `official` was read from). */
  url: string;
  /** The date the evidence shows (YYYY-MM-DD): the newest source's, or the day a page without one was read. */
  date: string;
  checked: PriceCheck;
  /** The independent sources a `cross-checked` price agrees with. */
  against?: readonly string[];
}

/** `table` with every entry stamped with `source` (a table copied from another provider is re-stamped). */
export function sourced(source: PriceSource, table: Readonly<Record<string, Price>>): Readonly<Record<string, Price>> {
  return Object.fromEntries(Object.entries(table).map(([model, price]) => [model, { ...price, source }]));
}

/** `table` with each model name prefixed (`openai/` for OpenRouter's names of OpenAI's models). */
export function prefixed(prefix: string, table: Readonly<Record<string, Price>>): Readonly<Record<string, Price>> {
  return Object.fromEntries(Object.entries(table).map(([model, price]) => [`${prefix}${model}`, price]));
}

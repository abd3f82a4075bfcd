// Where a built-in price was read: each provider file stamps its table with the page and the
// date, so `tapwire prices` can show, for every model, which list a cost comes from.
import type { Price } from './pricing.js';

export interface PriceSource {
  /** The provider's pricing page. */
  url: string;
  /** When the prices were read from it (YYYY-MM-DD, or YYYY-MM). */
  date: string;
}

/** `table` with every entry stamped with `source` (a table copied from another provider is re-stamped). */
export function sourced(source: PriceSource, table: Readonly<Record<string, Price>>): Readonly<Record<string, Price>> {
  return Object.fromEntries(Object.entries(table).map(([model, price]) => [model, { ...price, source }]));
}

/** `table` with each model name prefixed (`openai/` for OpenRouter's names of OpenAI's models). */
export function prefixed(prefix: string, table: Readonly<Record<string, Price>>): Readonly<Record<string, Price>> {
  return Object.fromEntries(Object.entries(table).map(([model, price]) => [`${prefix}${model}`, price]));
}

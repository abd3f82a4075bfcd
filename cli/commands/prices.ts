// `tapwire prices [-c CONFIG] [--provider NAME] [--db F]`: the prices tapwire applies, USD per
// million tokens (the built-in catalog with each entry's source, date and how it was checked —
// official, cross-checked or unverified — and the config's `pricing:` entries over it), and
// with --db the recorded LLM calls whose model has none: their cost is unknown (null), never
// $0, until a `pricing:` entry prices them.
import { Command } from 'commander';
import { loadConfig } from '../../config/config.js';
import type { Exchange } from '../../core/exchange.js';
import { PriceBook, type Price } from '../../protocols/llm/pricing.js';
import { openRecordReader } from '../../store/open.js';
import { eachRow, equals } from '../../store/record-store.js';

export interface PricesOptions {
  config?: string;
  provider?: string;
  db?: string;
}

/** A recorded model without a price, and how many calls used it. */
export interface UnpricedModel {
  provider: string;
  model: string;
  calls: number;
}

function rate(value: number | undefined): string {
  return value === undefined ? '-' : String(value);
}

function priceCells(price: Price): string[] {
  const tier = price.long_context;
  return [
    rate(price.input),
    rate(price.output),
    rate(price.cache_read),
    rate(price.cache_write),
    tier ? `>${tier.above_input_tokens}: ${tier.input}/${tier.output}` : '-',
    price.source ? `${price.source.url} (${price.source.date}, ${price.source.checked})` : 'pricing: in the config',
  ];
}

/** Rows of cells as aligned columns. */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n');
}

/** The price table as text, one row per provider and model, sorted. */
function pricesTable(book: PriceBook, provider?: string): string {
  const entries = [...book.entries()].filter((e) => provider === undefined || e.provider === provider);
  entries.sort((a, b) => a.provider.localeCompare(b.provider) || a.model.localeCompare(b.model));
  const header = ['provider', 'model', 'input', 'output', 'cache read', 'cache write', 'long context (input > tokens: input/output)', 'source'];
  return table([header, ...entries.map((e) => [e.provider, e.model, ...priceCells(e.price)])]);
}

/** LLM calls in the store that have usage but whose model (the answer's, else the request's) has no price. */
export async function unpricedModels(db: string, book: PriceBook): Promise<UnpricedModel[]> {
  const reader = await openRecordReader(db);
  const found = new Map<string, UnpricedModel>();
  const note = (e: Exchange): void => {
    if (e.protocol !== 'llm' || e.provider === null || (e.input_tokens === null && e.output_tokens === null)) return;
    const model = e.response_model ?? e.model;
    if (model !== null && book.lookup(e.provider, model) !== null) return;
    const key = `${e.provider}\u0000${model ?? ''}`;
    const entry = found.get(key) ?? { provider: e.provider, model: model ?? '(none)', calls: 0 };
    entry.calls++;
    found.set(key, entry);
  };
  try {
    for await (const row of eachRow(reader, equals('protocol', 'llm'))) note(row);
  } finally {
    await reader.close();
  }
  return [...found.values()].sort((a, b) => b.calls - a.calls || a.provider.localeCompare(b.provider) || a.model.localeCompare(b.model));
}

export function pricesCommand(): Command {
  return new Command('prices')
    .description('list the LLM prices tapwire applies (built-in, with source, date and how each was checked, and the config\'s pricing:), and recorded models without one')
    .option('-c, --config <file>', "apply this config's pricing: entries")
    .option('--provider <name>', 'only this provider\'s prices')
    .option('--db <file|url>', 'also list the models of recorded LLM calls that have no price (file or postgres:// URL)')
    .action(async (opts: PricesOptions) => {
      const book = new PriceBook(opts.config ? loadConfig(opts.config).pricing : []);
      process.stdout.write(`USD per million tokens\n${pricesTable(book, opts.provider)}\n`);
      if (opts.db === undefined) return;
      const unpriced = await unpricedModels(opts.db, book);
      if (unpriced.length === 0) {
        process.stdout.write('\nEvery recorded LLM call with usage has a price.\n');
        return;
      }
      process.stdout.write('\nRecorded models without a price (their cost is unknown, not $0; a pricing: entry adds one):\n');
      process.stdout.write(`${table([['provider', 'model', 'calls'], ...unpriced.map((u) => [u.provider, u.model, String(u.calls)])])}\n`);
    });
}

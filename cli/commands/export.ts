// `tapwire export [--db F] [--filter CEL] --format jsonl|har [-o FILE] [-c CONFIG]`: writes the
// selected exchanges as JSON lines or as a HAR 1.2 document, redacted (see tools/export.ts).
// A record that cannot be read or exported (a damaged row) is left out and named on stderr:
// the rest is still exported.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { Command, Option } from 'commander';
import { openRecordReader } from '../../store/open.js';
import { loadConfig } from '../../config/config.js';
import { unpricedLlmCall, type ExchangeRecord } from '../../core/exchange.js';
import { VERSION } from '../../core/package.js';


export interface ExportOptions {
  db: string;
  format: 'jsonl' | 'har';
  filter?: string;
  output?: string;
  config?: string;
}

export interface ExportResult {
  /** Exchanges written. */
  count: number;
  /** Exchanges left out, and why. */
  skipped: { id: string; reason: string }[];
  /** Exported LLM calls with usage but no price: their cost_usd is null (unknown), not 0. */
  unpriced: number;
}

/** Runs an export; resolves to what was written and what was left out. */
async function runExport(options: ExportOptions, stdout: NodeJS.WritableStream = process.stdout): Promise<ExportResult> {
  // Loaded when the command runs, not at every start of the CLI.
  const [{ DEFAULT_EXPORT_REDACTION, exportRedaction, redactedCopy, writeJsonl }, { writeHar }, { compileFilter, selectRecords }] = await Promise.all([
    import('../../tools/export.js'),
    import('../../tools/har.js'),
    import('../../tools/select.js'),
  ]);
  const filter = options.filter ? compileFilter(options.filter) : null;
  const redaction = options.config ? exportRedaction(loadConfig(options.config)) : DEFAULT_EXPORT_REDACTION;
  const reader = await openRecordReader(options.db);
  const out = options.output ? createWriteStream(options.output, { mode: 0o600 }) : stdout;
  const skipped: ExportResult['skipped'] = [];
  const skip = (id: string, reason: string): void => void skipped.push({ id, reason });
  try {
    let unpriced = 0;
    const selected = selectRecords(reader, { filter, onUnreadable: skip });
    const records = (async function* (): AsyncGenerator<ExchangeRecord> {
      for await (const record of selected) {
        if (unpricedLlmCall(record.exchange)) unpriced++;
        yield record;
      }
    })();
    const write = (text: string): void => void out.write(text);
    let count: number;
    if (options.format === 'jsonl') {
      count = await writeJsonl(records, write, redaction, skip);
    } else {
      const redacted = async function* (): AsyncGenerator<ExchangeRecord> {
        for await (const record of records) {
          try {
            yield redactedCopy(record, redaction);
          } catch (err) {
            skip(record.exchange.id, (err as Error).message);
          }
        }
      };
      count = await writeHar(redacted(), VERSION, write, skip);
    }
    return { count, skipped, unpriced };
  } finally {
    await reader.close();
    if (out !== stdout) {
      out.end();
      await once(out, 'close');
    }
  }
}

export function exportCommand(): Command {
  return new Command('export')
    .description('write recorded exchanges as JSON lines or HAR 1.2, redacted')
    .option('--db <file|url>', 'the tapwire database (file or postgres:// URL) to read', 'tapwire.db')
    .option('--filter <cel>', 'only exchanges this CEL expression is true for (the policy vocabulary)')
    .addOption(new Option('--format <format>', 'output format').choices(['jsonl', 'har']).makeOptionMandatory())
    .option('-o, --output <file>', 'write to this file (created mode 0600) instead of stdout')
    .option('-c, --config <file>', "apply this config's redaction too: store.redact_headers and its policy files' redact rules")
    .action(async (opts: ExportOptions) => {
      const { count, skipped, unpriced } = await runExport(opts);
      for (const { id, reason } of skipped) process.stderr.write(`tapwire: exchange ${id} skipped: ${reason}\n`);
      if (opts.output) process.stderr.write(`tapwire: exported ${count} exchange${count === 1 ? '' : 's'} to ${opts.output}\n`);
      else if (skipped.length > 0) process.stderr.write(`tapwire: exported ${count} exchange${count === 1 ? '' : 's'}\n`);
      if (unpriced > 0) {
        process.stderr.write(`tapwire: exported LLM calls without a price for their model: ${unpriced} (cost_usd null: unknown, not $0; tapwire prices --db lists the models)\n`);
      }
    });
}

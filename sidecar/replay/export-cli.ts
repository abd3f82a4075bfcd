// `tapwire export [--db F] [--filter CEL] --format jsonl|har [-o FILE] [-c CONFIG]`: writes the
// selected exchanges as JSON lines or as a HAR 1.2 document, redacted (see store/export.ts).
import { createWriteStream, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { Command, Option } from 'commander';
import { openDatabase } from '../../store/db.js';
import { DEFAULT_EXPORT_REDACTION, exportRedaction, redactedCopy, writeJsonl } from '../../store/export.js';
import { harDocument } from '../../store/har.js';
import { compileFilter, selectRecords } from '../../store/select.js';
import { loadConfig } from '../config.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

export interface ExportOptions {
  db: string;
  format: 'jsonl' | 'har';
  filter?: string;
  output?: string;
  config?: string;
}

/** Runs an export; resolves to the number of exchanges written. */
export async function runExport(options: ExportOptions, stdout: NodeJS.WritableStream = process.stdout): Promise<number> {
  const filter = options.filter ? compileFilter(options.filter) : null;
  const redaction = options.config ? exportRedaction(loadConfig(options.config)) : DEFAULT_EXPORT_REDACTION;
  const db = openDatabase(options.db, { readonly: true });
  const out = options.output ? createWriteStream(options.output, { mode: 0o600 }) : stdout;
  try {
    const records = selectRecords(db, { filter });
    let count: number;
    if (options.format === 'jsonl') {
      count = writeJsonl(records, (text) => out.write(text), redaction);
    } else {
      const har = harDocument((function* () {
        for (const record of records) yield redactedCopy(record, redaction);
      })(), pkg.version);
      count = har.log.entries.length;
      out.write(`${JSON.stringify(har, null, 2)}\n`);
    }
    return count;
  } finally {
    db.close();
    if (out !== stdout) {
      out.end();
      await once(out, 'close');
    }
  }
}

export function exportCommand(): Command {
  return new Command('export')
    .description('write recorded exchanges as JSON lines or HAR 1.2, redacted')
    .option('--db <file>', 'the tapwire database to read', 'tapwire.db')
    .option('--filter <cel>', 'only exchanges this CEL expression is true for (the policy vocabulary)')
    .addOption(new Option('--format <format>', 'output format').choices(['jsonl', 'har']).makeOptionMandatory())
    .option('-o, --output <file>', 'write to this file (created mode 0600) instead of stdout')
    .option('-c, --config <file>', "apply this config's redaction too: store.redact_headers and its policy files' redact rules")
    .action(async (opts: ExportOptions) => {
      const count = await runExport(opts);
      if (opts.output) process.stderr.write(`tapwire: exported ${count} exchange${count === 1 ? '' : 's'} to ${opts.output}\n`);
    });
}

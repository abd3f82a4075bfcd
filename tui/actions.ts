// Actions on the selected exchange that other parts of tapwire provide: JSONL export
// (tools/export.ts) and replay (tools/). The TUI binds a key only for the hooks
// it is given, so every key it lists does something.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig } from '../config/config.js';
import { openRecordReader } from '../store/open.js';
import { DEFAULT_EXPORT_REDACTION, exportExchangeById, exportRedaction } from '../tools/export.js';

export interface ActionHooks {
  /** Sends the recorded exchange again; resolves to a line for the status bar. */
  replay?: (dbPath: string, id: string) => Promise<string>;
  /** Writes the exchange as JSONL; resolves to the file written. */
  exportJsonl?: (dbPath: string, id: string) => Promise<string>;
}

export interface ActionOptions {
  /** tapwire.yaml: its redaction applies to exports, and replay (`r`) goes through its routes. */
  config?: string;
  /** Where exported files are written. */
  exportDir: string;
}

/** The hooks the TUI gets: JSONL export always; replay only with a config, whose routes hold the upstream credentials. */
export function actionHooks(options: ActionOptions): ActionHooks {
  const redaction = options.config ? exportRedaction(loadConfig(options.config)) : DEFAULT_EXPORT_REDACTION;
  const hooks: ActionHooks = {
    exportJsonl: async (dbPath, id) => {
      const reader = await openRecordReader(dbPath);
      try {
        const line = await exportExchangeById(reader, id, redaction);
        if (line === null) throw new Error(`exchange ${id} is not in ${dbPath}`);
        const file = resolve(options.exportDir, `tapwire-${id}.jsonl`);
        writeFileSync(file, `${line}\n`, { mode: 0o600 });
        return file;
      } finally {
        await reader.close();
      }
    },
  };
  if (options.config) {
    const config = options.config;
    hooks.replay = async (dbPath, id) => {
      // Loaded on first use: replay starts a sidecar, which the TUI otherwise never needs.
      const { runReplay } = await import('../tools/replay-run.js');
      const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
      const [result] = await runReplay({ db: dbPath, ids: [id], config, concurrency: 1, path: [], ignore: [] }, discard);
      if (!result) return `replay of ${id}: nothing was sent`;
      if (result.skipped) return `replay of ${id} skipped: ${result.skipped}`;
      if (result.error) return `replay of ${id} failed: ${result.error}`;
      const body = result.differences.length === 0 ? 'body same' : `body differs at ${result.differences.map((d) => d.path).join(', ')}`;
      return `replayed as ${result.replay?.id ?? '(unrecorded)'}: status ${result.original.http_status ?? '-'} → ${result.status ?? '-'}, ${body}`;
    };
  }
  return hooks;
}

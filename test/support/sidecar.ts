// Test harness: starts an in-process sidecar on an ephemeral loopback port with a fresh
// database in a temp directory, and reads back what it recorded after a graceful stop.
import { mkdtempSync, rmSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, type Config } from '../../config/config.js';
import type { Exchange, ExchangeRecord } from '../../core/exchange.js';
import { createLogger, type Logger } from '../../core/log.js';
import { startSidecar, type Sidecar } from '../../proxy/sidecar.js';
import { openDatabase } from '../../store/sqlite/db.js';
import { getExchangeRecord, listExchanges } from '../../store/sqlite/queries.js';

export interface TestSidecar {
  sidecar: Sidecar;
  url: string;
  dbPath: string;
  dir: string;
  /** Stops the sidecar (flushing the record) and returns every recorded exchange, oldest first. */
  stop(): Promise<Exchange[]>;
  /** After stop(): one exchange with payloads and events. */
  record(id: string): ExchangeRecord;
  cleanup(): void;
}

export interface TestSidecarOptions {
  /** Record into `dir`/tapwire.db (e.g. a database a previous run left) instead of a fresh temp dir. */
  dir?: string;
  /** How long finished records wait before they are written (default 10 ms). */
  flushIntervalMs?: number;
  /** Listen address (default 127.0.0.1:0): e.g. 0.0.0.0:0 to test the off-loopback rules. */
  listen?: string;
  /** What tapwire logs (default: nothing). */
  log?: Logger;
  insecureListen?: boolean;
}

/** `yaml` is a tapwire.yaml without listen/store.path, which the harness fills in. */
export async function startTestSidecar(yaml: string, env: NodeJS.ProcessEnv = process.env, options: TestSidecarOptions = {}): Promise<TestSidecar> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'tapwire-test-'));
  const dbPath = join(dir, 'tapwire.db');
  const config: Config = parseConfig(yaml, 'test.yaml', env);
  config.listen = options.listen ?? '127.0.0.1:0';
  config.store.path = dbPath;
  config.store.flush_interval_ms = options.flushIntervalMs ?? 10;
  const sidecar = await startSidecar(config, options.log ?? createLogger('silent'), env, { insecureListen: options.insecureListen ?? false });
  let stopped = false;
  return {
    sidecar,
    url: sidecar.url,
    dbPath,
    dir,
    async stop(): Promise<Exchange[]> {
      if (!stopped) await sidecar.close(2000);
      stopped = true;
      const db = openDatabase(dbPath, { readonly: true });
      try {
        return listExchanges(db);
      } finally {
        db.close();
      }
    },
    record(id: string): ExchangeRecord {
      const db = openDatabase(dbPath, { readonly: true });
      try {
        const found = getExchangeRecord(db, id);
        if (!found) throw new Error(`no exchange ${id} in ${dbPath}`);
        return found;
      } finally {
        db.close();
      }
    },
    cleanup(): void {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** startTestSidecar, stopped and its files removed when the test `t` ends. */
export async function startTestSidecarFor(t: TestContext, yaml: string, env: NodeJS.ProcessEnv = process.env, options: TestSidecarOptions = {}): Promise<TestSidecar> {
  const tapwire = await startTestSidecar(yaml, env, options);
  t.after(async () => {
    await tapwire.stop();
    tapwire.cleanup();
  });
  return tapwire;
}

/** Stops the sidecar (so every record is flushed) and returns the one exchange it must have recorded. */
export async function onlyExchange(tapwire: TestSidecar): Promise<Exchange> {
  const exchanges = await tapwire.stop();
  if (exchanges.length !== 1) throw new Error(`expected 1 recorded exchange, got ${exchanges.length}`);
  return exchanges[0]!;
}

// tapwire killed or stopped under load, run as a user runs it (`tapwire run`, a separate
// process) with the real openai SDK calling aimock through it:
// - SIGKILL, default (relaxed) durability: the database opens cleanly (integrity_check ok,
//   and tapwire records into it again), and every call answered more than a few flush
//   intervals before the kill is in it;
// - SIGKILL, strict durability: every response a client received whole (plain or streamed)
//   is in the database;
// - SIGTERM: a call in flight finishes and is recorded, new connections are refused, the
//   process exits 0; past shutdown_timeout_ms the call is cut, recorded, and the process exits.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI from 'openai';
import { openDatabase } from '../../store/sqlite/db.js';
import { listExchanges } from '../../store/sqlite/queries.js';
import type { Exchange } from '../../core/exchange.js';
import { startAimock, type LLMock } from '../support/aimock.js';
import { integrityCheck } from '../support/store-faults.js';
import { startTapwireProcess, type TapwireProcess } from '../support/tapwire-process.js';

const KEY = 'sk-test-crash';
const FLUSH_INTERVAL_MS = 100;
const SLOW_TEXT = 'A slow answer, streamed in many small pieces while tapwire is asked to stop.';

describe('tapwire killed or stopped under load', () => {
  let mock: LLMock;
  const dirs: string[] = [];

  before(async () => {
    mock = await startAimock([KEY], (m) => {
      // 16 chunks 150 ms apart: about 2.4 s from first to last byte.
      m.onMessage(/^slow$/, { content: SLOW_TEXT }, { latency: 150, chunkSize: 5 });
      m.onMessage(/^call/, { content: 'An answer.', usage: { prompt_tokens: 5, completion_tokens: 3 } });
    });
  });
  after(async () => {
    await mock.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  /** The config's other lines: an openai route to aimock, the log level, and `extra`. */
  function configYaml(extra: string[] = [], level = 'warn'): string {
    return [`log: { level: ${level} }`, ...extra, 'routes:', '  openai:', '    protocol: llm', `    upstream: ${mock.url}`].join('\n');
  }

  async function start(store: Record<string, string | number> = {}, yaml = configYaml()): Promise<TapwireProcess> {
    const dir = mkdtempSync(join(tmpdir(), 'tapwire-crash-'));
    dirs.push(dir);
    return startTapwireProcess(dir, yaml, { store: { flush_interval_ms: FLUSH_INTERVAL_MS, ...store } });
  }

  function client(tapwire: TapwireProcess): OpenAI {
    return new OpenAI({ baseURL: `${tapwire.url}/openai/v1`, apiKey: KEY, maxRetries: 0 });
  }

  function rows(dbPath: string): Exchange[] {
    const db = openDatabase(dbPath, { readonly: true });
    try {
      return listExchanges(db);
    } finally {
      db.close();
    }
  }

  /**
   * `clients` loops of calls (every third one streamed, read to its end) until stop() is
   * called; `received` holds the response id of every answer a client got whole.
   */
  function load(tapwire: TapwireProcess, clients: number): { received: string[]; stop: () => Promise<void> } {
    const openai = client(tapwire);
    const received: string[] = [];
    let running = true;
    const loop = async (c: number): Promise<void> => {
      for (let n = 0; running; n++) {
        const content = `call ${c}-${n}`;
        try {
          if (n % 3 === 2) {
            const stream = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], stream: true });
            let id = '';
            let finished = false;
            for await (const chunk of stream) {
              id = chunk.id;
              if (chunk.choices[0]?.finish_reason) finished = true;
            }
            // The SDK ends quietly when the connection is cut: only a finished stream was received whole.
            if (finished) received.push(id);
          } else {
            received.push((await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] })).id);
          }
        } catch {
          // the sidecar was killed under this call
        }
      }
    };
    const loops = Array.from({ length: clients }, (_, c) => loop(c));
    return {
      received,
      stop: async () => {
        running = false;
        await Promise.all(loops);
      },
    };
  }

  async function until(condition: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(10);
    }
  }

  test('SIGKILL under load (relaxed): the database is sound, and every call answered before the last flush interval is in it', async () => {
    const tapwire = await start();
    const openai = client(tapwire);
    const early: string[] = [];
    await Promise.all(
      Array.from({ length: 5 }, async (_, c) => {
        for (let n = 0; n < 6; n++) early.push((await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `call early ${c}-${n}` }] })).id);
      }),
    );
    // Ten flush intervals: these records were queued long before the kill.
    await sleep(10 * FLUSH_INTERVAL_MS);
    const traffic = load(tapwire, 20);
    await until(() => traffic.received.length >= 100, 'calls under load');
    tapwire.child.kill('SIGKILL');
    assert.equal((await tapwire.exited).signal, 'SIGKILL');
    await traffic.stop();

    assert.equal(integrityCheck(tapwire.dbPath), 'ok');
    const recorded = rows(tapwire.dbPath);
    const ids = new Set(recorded.map((r) => r.response_id));
    for (const id of early) assert.ok(ids.has(id), `early call ${id} recorded`);
    assert.equal(new Set(recorded.map((r) => r.id)).size, recorded.length, 'no exchange twice');
    for (const row of recorded) assert.equal(row.status, 'ok', `a whole row: ${JSON.stringify(row)}`);

    // tapwire opens the database it left and records into it again.
    const again = await startTapwireProcess(join(tapwire.dbPath, '..'), configYaml());
    const next = await client(again).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'call after restart' }] });
    again.child.kill('SIGTERM');
    assert.equal((await again.exited).code, 0);
    const after = rows(again.dbPath);
    assert.ok(after.some((r) => r.response_id === next.id), 'the call after the restart is recorded');
    assert.equal(after.length, recorded.length + 1);
  });

  test('SIGKILL under load (strict): every response a client received is in the database', async () => {
    // A long flush interval: strict durability must not wait for it, and relaxed would lose
    // up to two seconds of calls here, so this test fails if strict stops holding responses.
    const tapwire = await start({ durability: 'strict', flush_interval_ms: 2000 });
    const traffic = load(tapwire, 20);
    await until(() => traffic.received.length >= 150, 'calls under load');
    tapwire.child.kill('SIGKILL');
    await tapwire.exited;
    await traffic.stop();

    assert.equal(integrityCheck(tapwire.dbPath), 'ok');
    const ids = new Set(rows(tapwire.dbPath).map((r) => r.response_id));
    const missing = traffic.received.filter((id) => !ids.has(id));
    assert.deepEqual(missing, [], `${missing.length} of ${traffic.received.length} received responses are not in the database`);
  });

  test('SIGTERM: the call in flight finishes and is recorded, new connections are refused, exit 0', async () => {
    const tapwire = await start({}, configYaml([], 'info'));
    const openai = client(tapwire);
    const stream = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'slow' }], stream: true });
    let text = '';
    let signalled = false;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (!signalled) {
        signalled = true;
        tapwire.child.kill('SIGTERM');
        await sleep(100);
        await assert.rejects(fetch(`${tapwire.url}/_tapwire/health`), 'a stopping tapwire accepts no new connection');
      }
    }
    assert.equal(text, SLOW_TEXT, 'the stream in flight arrived whole');
    assert.deepEqual(await tapwire.exited, { code: 0, signal: null });
    const [row] = rows(tapwire.dbPath);
    assert.equal(row?.status, 'ok');
    assert.equal(row?.streamed, 1);
    assert.match(tapwire.log(), /"signal":"SIGTERM","deadline_ms":10000/);
  });

  test('SIGINT past shutdown_timeout_ms: the call is cut, recorded, and tapwire exits', async () => {
    const tapwire = await start({}, configYaml(['shutdown_timeout_ms: 300']));
    const stream = await client(tapwire).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'slow' }], stream: true });
    let text = '';
    let finished = false;
    let signalled = false;
    try {
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        if (chunk.choices[0]?.finish_reason) finished = true;
        if (!signalled) {
          signalled = true;
          tapwire.child.kill('SIGINT');
        }
      }
    } catch {
      // the cut connection
    }
    assert.equal(finished, false, 'the stream was cut before its end');
    assert.ok(text.length < SLOW_TEXT.length);
    assert.deepEqual(await tapwire.exited, { code: 0, signal: null });
    const [row] = rows(tapwire.dbPath);
    assert.ok(row, 'the cut call is recorded');
    assert.equal(row.status, 'aborted');
    assert.equal(row.streamed, 1);
  });
});

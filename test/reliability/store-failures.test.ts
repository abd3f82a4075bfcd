// The store fails while agents keep calling: a full disk (a size-limited tmpfs the test mounts
// and fills), the database locked by another process, the file deleted, the writer thread
// stopped, the file made read-only (the immutable flag: root ignores permission bits, and a
// changed mode does not affect a descriptor already open). By default every call still
// succeeds, the failure is logged and counted in /_tapwire/metrics, and the records written
// once the store recovers; past store.buffer_records the oldest are dropped and counted. With
// store.durability strict the calls are refused with an error in the provider's format.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import OpenAI from 'openai';
import { startAimock, type LLMock } from '../support/aimock.js';
import { startTestSidecar, type TestSidecar } from '../support/sidecar.js';
import { capturingLogger, chattr, fillDisk, integrityCheck, lockDatabase, metricValue, mountTmpfs, type LogLine } from '../support/store-faults.js';
import { until } from '../support/upstream.js';

const KEY = 'sk-test-store-failures';
const ANSWER = 'Recorded or not, the agent gets its answer.';

describe('the store fails while traffic flows', () => {
  let mock: LLMock;
  /** Undone after each test, last first, whether it passed or not. */
  let cleanups: (() => void | Promise<void>)[] = [];

  before(async () => {
    mock = await startAimock([KEY], (m) => {
      m.onMessage(/^call \d+$/, { content: ANSWER, usage: { prompt_tokens: 11, completion_tokens: 7 } });
    });
  });
  afterEach(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    cleanups = [];
  });
  after(async () => {
    await mock.stop();
  });

  /** A sidecar with one OpenAI route to aimock and `store` settings, logging into `lines`. */
  async function start(store: string, dir?: string): Promise<{ tapwire: TestSidecar; openai: OpenAI; lines: LogLine[] }> {
    const { log, lines } = capturingLogger();
    const yaml = [`store: { retry_interval_ms: 50${store ? `, ${store}` : ''} }`, 'routes:', '  openai:', '    protocol: llm', `    upstream: ${mock.url}`].join('\n');
    const tapwire = await startTestSidecar(yaml, process.env, { log, ...(dir ? { dir } : {}) });
    cleanups.push(async () => {
      await tapwire.stop();
      if (!dir) tapwire.cleanup();
    });
    return { tapwire, openai: new OpenAI({ baseURL: `${tapwire.url}/openai/v1`, apiKey: KEY, maxRetries: 0 }), lines };
  }

  /** Makes calls `from`..`to`-1 one after another; every one must succeed with the upstream's answer. */
  async function calls(openai: OpenAI, from: number, to: number): Promise<string[]> {
    const ids: string[] = [];
    for (let n = from; n < to; n++) {
      const answer = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `call ${n}` }] });
      assert.equal(answer.choices[0]?.message.content, ANSWER);
      ids.push(answer.id);
    }
    return ids;
  }

  function stats(tapwire: TestSidecar) {
    return tapwire.sidecar.recorder.getStats();
  }

  /** The failure the store reported, from the log. */
  function failureLogged(lines: LogLine[], pattern: RegExp): void {
    const failure = lines.find((l) => l.msg.startsWith('store write failed'));
    assert.ok(failure, `a store failure was logged: ${JSON.stringify(lines.map((l) => l.msg))}`);
    assert.match(String(failure.err), pattern);
    assert.ok(lines.some((l) => l.msg.startsWith('store writable again')), 'the recovery was logged');
  }

  test('disk full: calls succeed, the failure is counted, the records are written once space is freed', async () => {
    const disk = mountTmpfs(2 * 1024 * 1024);
    cleanups.push(() => disk.unmount());
    const { tapwire, openai, lines } = await start('', disk.dir);
    const earlier = await calls(openai, 0, 3);
    await tapwire.sidecar.recorder.flush();
    const filler = fillDisk(disk.dir);
    const during = await calls(openai, 3, 40);
    await until(() => stats(tapwire).writeFailures > 0, 'a failed write');
    assert.ok((await metricValue(tapwire.url, 'tapwire_store_write_failures_total')) > 0, 'the failure is in the metrics');
    assert.ok((await metricValue(tapwire.url, 'tapwire_store_buffered')) > 0, 'the waiting records are in the metrics');
    rmSync(filler);
    await until(() => stats(tapwire).committed === 40, 'the buffered records to be written', 10_000);
    const rows = await tapwire.stop();
    assert.deepEqual(rows.map((r) => r.response_id).sort(), [...earlier, ...during].sort());
    assert.equal(stats(tapwire).dropped, 0);
    assert.equal(integrityCheck(tapwire.dbPath), 'ok');
    failureLogged(lines, /full/);
  });

  test('database locked by another process: calls succeed, records are written once the lock is released', async () => {
    const { tapwire, openai, lines } = await start('');
    await calls(openai, 0, 1);
    await tapwire.sidecar.recorder.flush();
    const lock = lockDatabase(tapwire.dbPath);
    cleanups.push(() => lock.release());
    const during = await calls(openai, 1, 6);
    await until(() => stats(tapwire).writeFailures > 0, 'a failed write');
    assert.ok((await metricValue(tapwire.url, 'tapwire_store_write_failures_total')) > 0);
    assert.equal(stats(tapwire).committed, 1, 'nothing was written while the lock was held');
    lock.release();
    await until(() => stats(tapwire).committed === 6, 'the buffered records to be written');
    const rows = await tapwire.stop();
    assert.equal(rows.length, 6);
    for (const id of during) assert.ok(rows.some((r) => r.response_id === id), `call ${id} recorded`);
    failureLogged(lines, /locked/);
  });

  test('the writer thread stops: calls succeed, a new thread writes what it left and what follows', async () => {
    const { tapwire, openai, lines } = await start('');
    const earlier = await calls(openai, 0, 2);
    await tapwire.sidecar.recorder.flush();
    // Nothing a client or the store does stops the thread; running out of memory or a native
    // crash would. Terminating it is how a test makes that happen.
    await (tapwire.sidecar.recorder as unknown as { worker: Worker }).worker.terminate();
    const later = await calls(openai, 2, 6);
    await until(() => stats(tapwire).committed === 6, 'the later calls to be written by a new thread');
    assert.equal(await metricValue(tapwire.url, 'tapwire_store_write_failures_total'), 1, 'the stop is counted');
    const rows = await tapwire.stop();
    assert.deepEqual(rows.map((r) => r.response_id).sort(), [...earlier, ...later].sort());
    assert.equal(integrityCheck(tapwire.dbPath), 'ok');
    failureLogged(lines, /writer thread stopped/);
  });

  test('database file deleted: a new one is created at the same path and takes the calls that follow', async () => {
    const { tapwire, openai, lines } = await start('');
    await calls(openai, 0, 2);
    await tapwire.sidecar.recorder.flush();
    rmSync(tapwire.dbPath);
    const later = await calls(openai, 2, 5);
    await until(() => stats(tapwire).committed === 5, 'the later calls to be written');
    assert.ok(existsSync(tapwire.dbPath), 'the database exists again');
    assert.equal(await metricValue(tapwire.url, 'tapwire_store_write_failures_total'), 1, 'the deletion is counted');
    const rows = await tapwire.stop();
    assert.deepEqual(rows.map((r) => r.response_id).sort(), [...later].sort());
    assert.equal(integrityCheck(tapwire.dbPath), 'ok');
    assert.ok(lines.some((l) => /disappeared while tapwire was running/.test(l.msg)), 'the deletion was logged');
  });

  test('database made read-only (immutable): calls succeed, records are written once it is writable again', async () => {
    const { tapwire, openai, lines } = await start('');
    await calls(openai, 0, 2);
    await tapwire.sidecar.recorder.flush();
    const files = [tapwire.dbPath, `${tapwire.dbPath}-wal`];
    chattr('+i', files);
    cleanups.push(() => chattr('-i', files.filter((f) => existsSync(f))));
    const during = await calls(openai, 2, 6);
    await until(() => stats(tapwire).writeFailures > 0, 'a failed write');
    assert.equal(stats(tapwire).committed, 2, 'nothing was written while the file was read-only');
    chattr('-i', files);
    await until(() => stats(tapwire).committed === 6, 'the buffered records to be written');
    const rows = await tapwire.stop();
    for (const id of during) assert.ok(rows.some((r) => r.response_id === id), `call ${id} recorded`);
    assert.equal(rows.length, 6);
    assert.equal(integrityCheck(tapwire.dbPath), 'ok');
    failureLogged(lines, /readonly|read-only|not permitted|disk I\/O/i);
  });

  test('past store.buffer_records the oldest records are dropped and counted; the newest are written', async () => {
    const { tapwire, openai, lines } = await start('buffer_records: 4');
    const lock = lockDatabase(tapwire.dbPath);
    cleanups.push(() => lock.release());
    const ids = await calls(openai, 0, 10);
    await until(() => stats(tapwire).writeFailures > 0, 'a failed write');
    assert.equal(await metricValue(tapwire.url, 'tapwire_store_dropped_total'), 6);
    lock.release();
    await until(() => stats(tapwire).committed === 4, 'the kept records to be written');
    const rows = await tapwire.stop();
    assert.deepEqual(rows.map((r) => r.response_id).sort(), ids.slice(6).sort());
    assert.ok(lines.some((l) => l.msg.startsWith('store buffer full')), 'the drop was logged');
    assert.equal(stats(tapwire).failed, 6);
  });

  test('strict durability: while the store fails calls are refused in the provider\'s error format, then flow again', async () => {
    const { tapwire, openai } = await start('durability: strict');
    await calls(openai, 0, 1);
    const lock = lockDatabase(tapwire.dbPath);
    cleanups.push(() => lock.release());
    // This call's record cannot be committed: the agent never gets a complete answer.
    await assert.rejects(calls(openai, 1, 2), (err: unknown) => err instanceof OpenAI.APIError);
    const refused = await calls(openai, 2, 3).then(
      () => assert.fail('a call went through while the store was locked'),
      (err: unknown) => err,
    );
    assert.ok(refused instanceof OpenAI.APIError, String(refused));
    assert.equal(refused.status, 503);
    assert.equal(refused.code, 'store_unavailable');
    assert.match(refused.message, /store\.durability is strict.*database is locked/);
    lock.release();
    await until(() => tapwire.sidecar.recorder.failure === null, 'the store to recover');
    const [last] = await calls(openai, 3, 4);
    const rows = await tapwire.stop();
    assert.ok(rows.some((r) => r.response_id === last), 'the call after recovery is recorded');
    assert.ok(rows.some((r) => r.error_code === 'store_unavailable' && r.http_status === 503), 'the refusal itself is recorded once the store recovered');
  });
});


// Files tapwire creates are its owner's alone: the database and SQLite's -wal and -shm files
// beside it are mode 0600 even when the process's umask would let others read them, so a
// record of prompts, tool results and headers is never readable by other local users.
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startTestSidecar } from '../support/sidecar.js';
import { startUpstream, until } from '../support/upstream.js';

test('the database, -wal and -shm are readable by the owner only, whatever the umask', async (t) => {
  const upstream = await startUpstream((_req, res) => void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
  t.after(() => upstream.close());
  const previous = process.umask(0o000);
  t.after(() => process.umask(previous));
  const tapwire = await startTestSidecar(`routes:\n  api: { protocol: http, upstream: "${upstream.url}" }\n`);
  t.after(() => tapwire.cleanup());
  for (let i = 0; i < 3; i++) assert.equal((await fetch(`${tapwire.url}/api/x`)).status, 200);
  // While it runs, SQLite keeps its write-ahead log and shared memory next to the database.
  const files = ['tapwire.db', 'tapwire.db-wal', 'tapwire.db-shm'].map((f) => join(tapwire.dir, f));
  await until(() => files.every((file) => existsSync(file)), 'SQLite to create its -wal and -shm');
  for (const file of files) {
    assert.equal(statSync(file).mode & 0o777, 0o600, file);
  }
  assert.equal((await tapwire.stop()).length, 3);
});

// `tapwire tui --db postgres://…` in a real terminal (tmux) shows what it shows over the
// SQLite file for the same traffic: real SDK traffic recorded by a sidecar, shipped to a
// private PostgreSQL, then the TUI opened on each; the list's rows, the totals and a filter's
// result are the same, and the password of the URL is not on the screen.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { openRecordReader } from '../../store/open.js';
import { Shipper } from '../../store/shipper.js';
import { recordTraffic, type Recorded } from '../support/recorded-traffic.js';
import { PostgresServer } from '../support/postgres.js';
import { Tmux } from '../support/tmux.js';
import { CLI } from '../support/cli.js';

const PROMPT = /enter applies/;

/** The list's rows and the totals of a screen, without the location (the last part of the stats bar). */
function content(screen: string, location: string): string[] {
  return screen
    .split('\n')
    .filter((line) => /\b(llm|mcp|a2a|http)\s|exchanges/.test(line))
    .map((line) => line.replace(location, '<db>').replace(/req\/s.*$/, '').trimEnd());
}

describe('tapwire tui over PostgreSQL', () => {
  let server: PostgresServer;
  let recorded: Recorded;
  let url: string;
  let count = 0;

  before(async () => {
    [server, recorded] = await Promise.all([PostgresServer.start(), recordTraffic()]);
    server.createDatabase('tui');
    // A password in the URL (the cluster trusts every local connection): never shown.
    url = server.urlOf('tui').replace('tapwire@', 'tapwire:hunter2secret@');
    const reader = await openRecordReader(recorded.dbPath);
    count = await reader.count(null);
    await reader.close();
    await Shipper.shipAll({ path: recorded.dbPath, url, batchRecords: 100, intervalMs: 20, retryIntervalMs: 100 }, 20_000);
  });
  after(async () => {
    await recorded?.close();
    server?.close();
  });

  async function screens(t: { after: (fn: () => void) => void }, db: string, shown: string): Promise<{ list: string[]; filtered: string[]; raw: string }> {
    const tmux = new Tmux(`node ${CLI} tui --db '${db}'`, { cwd: recorded.sidecar.dir });
    t.after(() => tmux.kill());
    const raw = await tmux.waitFor(new RegExp(`tapwire ${count} exchanges`), 'the list and its totals');
    await sleep(300);
    const list = content(tmux.screen(), shown);
    tmux.keys('/');
    await tmux.waitFor(PROMPT, 'the filter prompt');
    tmux.type('protocol == "mcp" && mcp.tool == "echo"');
    tmux.keys('Enter');
    await tmux.waitFor(/filter: protocol == "mcp" && mcp.tool == "echo"/, 'the filter applied');
    await sleep(300);
    const filtered = content(tmux.screen(), shown);
    tmux.keys('q');
    await tmux.waitFor(/\[exit 0\]/, 'q quitting cleanly');
    return { list, filtered, raw };
  }

  test('the same rows, totals and filter result as over the SQLite file; no password on screen', async (t) => {
    const fromFile = await screens(t, recorded.dbPath, recorded.dbPath);
    const shown = url.replace('hunter2secret', '***');
    const fromServer = await screens(t, url, shown);
    assert.ok(fromFile.list.length >= 5, fromFile.list.join('\n'));
    assert.deepEqual(fromServer.list, fromFile.list);
    assert.deepEqual(fromServer.filtered, fromFile.filtered);
    assert.ok(fromServer.filtered.some((line) => /tools\/call\s+echo/.test(line)));
    assert.doesNotMatch(fromServer.raw, /hunter2secret/);
  });
});

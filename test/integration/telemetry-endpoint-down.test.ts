// Exporting never breaks the proxy: with the OTLP endpoint refusing connections, or
// accepting them and never answering, every call through tapwire still gets its answer and
// every exchange is recorded complete, and the sidecar still stops cleanly. The failures
// are not silent: logged once in a while per signal, and counted in a metric.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI from 'openai';
import { createLogger } from '../../core/log.js';
import { startAimock, type LLMock } from '../support/aimock.js';
import { startTestSidecarFor } from '../support/sidecar.js';
import { closedPortUrl, startUpstream, type ScriptedUpstream } from '../support/upstream.js';

const KEY = 'sk-test-endpoint-down';
const CALLS = 12;

/** tapwire_otlp_export_failures_total for each signal, from a scrape of /_tapwire/metrics. */
async function exportFailures(sidecarUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${sidecarUrl}/_tapwire/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const m of text.matchAll(/^tapwire_otlp_export_failures_total\{[^}]*signal="(\w+)"[^}]*\} (\d+)/gm)) counts[m[1]!] = Number(m[2]);
  return counts;
}

function yaml(upstream: string, endpoint: string): string {
  return [
    'routes:',
    '  openai:',
    '    protocol: llm',
    `    upstream: ${upstream}`,
    'telemetry:',
    `  endpoint: ${endpoint}`,
    '  export_timeout_ms: 200',
    '  metrics_interval_ms: 50',
    '  max_queue_size: 4',
  ].join('\n');
}

describe('OpenTelemetry with the OTLP endpoint unavailable', () => {
  let mock: LLMock;
  let hanging: ScriptedUpstream;

  before(async () => {
    mock = await startAimock([KEY], (m) => {
      m.onMessage(/^still answered \d+$/, { content: 'Answered anyway.', usage: { prompt_tokens: 11, completion_tokens: 3 } });
    });
    hanging = await startUpstream(() => {
      // Never answers: the exporter must give up on its own.
    });
  });

  after(async () => {
    await mock.stop();
    await hanging.close();
  });

  for (const kind of ['refusing connections', 'never answering'] as const) {
    test(`endpoint ${kind}: every call is answered and recorded complete`, async (t) => {
      const endpoint = kind === 'refusing connections' ? await closedPortUrl() : hanging.url;
      const tapwire = await startTestSidecarFor(t, yaml(mock.url, endpoint));
      const agent = new OpenAI({ baseURL: `${tapwire.url}/openai/v1`, apiKey: KEY, maxRetries: 0 });
      const answers = await Promise.all(
        Array.from({ length: CALLS }, (_, i) =>
          agent.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `still answered ${i}` }] }),
        ),
      );
      assert.deepEqual(new Set(answers.map((a) => a.choices[0]?.message.content)), new Set(['Answered anyway.']));
      const health = await fetch(`${tapwire.url}/_tapwire/health`);
      assert.equal(health.status, 200);

      const rows = await tapwire.stop();
      assert.equal(rows.length, CALLS, 'every call recorded, more than the span queue holds');
      for (const row of rows) {
        assert.deepEqual(
          { status: row.status, input: row.input_tokens, output: row.output_tokens, traced: /^[0-9a-f]{32}$/.test(row.trace_id ?? '') },
          { status: 'ok', input: 11, output: 3, traced: true },
        );
      }
      if (kind === 'never answering') assert.ok(hanging.requests.some((r) => r.url === '/v1/traces'), 'the exporter did try');
    });
  }

  test('endpoint refusing connections: logged once per signal with the endpoint and the error, and counted per export', async (t) => {
    const endpoint = await closedPortUrl();
    const logged: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done): void {
        for (const line of chunk.toString().split('\n')) if (line) logged.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const tapwire = await startTestSidecarFor(t, yaml(mock.url, endpoint), process.env, { log: createLogger('warn', sink) });
    const agent = new OpenAI({ baseURL: `${tapwire.url}/openai/v1`, apiKey: KEY, maxRetries: 0 });
    const call = (i: number) => agent.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `still answered ${i}` }] });
    // Two batches of spans, each sent after the last failed: two failed trace exports.
    let counts: Record<string, number> = {};
    for (const batch of [1, 2]) {
      await Promise.all(Array.from({ length: 3 }, (_, i) => call(batch * 10 + i)));
      for (const deadline = Date.now() + 30_000; (counts.traces ?? 0) < batch || (counts.metrics ?? 0) < 3; await sleep(50)) {
        if (Date.now() > deadline) assert.fail(`failed exports not counted: ${JSON.stringify(counts)}`);
        counts = await exportFailures(tapwire.url);
      }
    }
    const failures = logged.filter((l) => l.signal !== undefined);
    for (const signal of ['traces', 'metrics']) {
      const lines = failures.filter((l) => l.signal === signal);
      assert.equal(lines.length, 1, `one ${signal} line for ${counts[signal]} failed exports`);
      assert.equal(lines[0]!.endpoint, `${endpoint}/v1/${signal}`);
      assert.match(String(lines[0]!.err), /ECONNREFUSED/);
      assert.match(String(lines[0]!.msg), new RegExp(`OTLP ${signal} export to .* failed`));
    }
    assert.equal(failures.length, 2, 'no other failure lines');
  });
});

// Exporting never breaks the proxy: with the OTLP endpoint refusing connections, or
// accepting them and never answering, every call through tapwire still gets its answer and
// every exchange is recorded complete, and the sidecar still stops cleanly.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startAimock, type LLMock } from '../support/aimock.js';
import { startTestSidecarFor } from '../support/sidecar.js';
import { closedPortUrl, startUpstream, type ScriptedUpstream } from '../support/upstream.js';

const KEY = 'sk-test-endpoint-down';
const CALLS = 12;

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
});

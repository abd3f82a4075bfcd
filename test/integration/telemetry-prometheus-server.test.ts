// A real Prometheus server (Debian's `prometheus` package, which .ci/run installs) scrapes
// the sidecar's GET /_tapwire/metrics after real openai SDK traffic: the scrape must succeed
// (up == 1) and PromQL must see tapwire's counters and GenAI histograms with their labels,
// which is what the Grafana Overview dashboard queries.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startAimock } from '../support/aimock.js';
import { startTestSidecarFor } from '../support/sidecar.js';
import { closedPortUrl } from '../support/upstream.js';

const KEY = 'sk-test-prometheus';

interface QueryResult {
  status: string;
  data: { result: { metric: Record<string, string>; value: [number, string] }[] };
}

async function query(base: string, promql: string): Promise<QueryResult['data']['result']> {
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await res.json()) as QueryResult;
  assert.equal(body.status, 'success', `query ${promql}`);
  return body.data.result;
}

/** Polls `promql` until it returns a series; Prometheus scrapes on its own schedule. */
async function eventually(base: string, promql: string, limitMs = 30_000): Promise<QueryResult['data']['result']> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    try {
      const result = await query(base, promql);
      if (result.length > 0) return result;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`no series for ${promql} within ${limitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

test('Prometheus scrapes /_tapwire/metrics and PromQL sees the exchange counter and the GenAI histograms', async (t) => {
  const mock = await startAimock([KEY], (m) => {
    m.onMessage(/^scraped$/, { content: 'Counted.', usage: { prompt_tokens: 40, completion_tokens: 5 } });
  });
  t.after(() => mock.stop());
  const tapwire = await startTestSidecarFor(t, ['agent: { name: scraped-agent }', 'routes:', '  openai:', '    protocol: llm', `    upstream: ${mock.url}`].join('\n'));
  const agent = new OpenAI({ baseURL: `${tapwire.url}/openai/v1`, apiKey: KEY, maxRetries: 0 });
  for (let i = 0; i < 3; i++) await agent.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'scraped' }] });

  const dir = mkdtempSync(join(tmpdir(), 'tapwire-prometheus-'));
  const target = new URL(tapwire.url).host;
  writeFileSync(
    join(dir, 'prometheus.yml'),
    ['global: { scrape_interval: 1s }', 'scrape_configs:', '  - job_name: tapwire', '    metrics_path: /_tapwire/metrics', `    static_configs: [{ targets: ['${target}'] }]`].join('\n'),
  );
  const web = new URL(await closedPortUrl());
  const prometheus: ChildProcess = spawn(
    'prometheus',
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=${web.host}`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  prometheus.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  t.after(async () => {
    const exited = new Promise((resolve) => prometheus.once('exit', resolve));
    prometheus.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  });
  const base = web.origin;

  try {
    const up = await eventually(base, 'up{job="tapwire"} == 1');
    assert.equal(up.length, 1);
    const exchanges = await eventually(base, 'tapwire_exchanges_total{tapwire_protocol="llm",tapwire_method="chat",tapwire_status="ok"}');
    assert.equal(exchanges[0]!.value[1], '3', 'the three calls counted');
    const tokens = await eventually(base, 'sum by (gen_ai_token_type) (gen_ai_client_token_usage_sum{gen_ai_request_model="gpt-4o-mini"})');
    const byType: Record<string, string> = Object.fromEntries(tokens.map((s) => [s.metric.gen_ai_token_type ?? '', s.value[1]]));
    assert.deepEqual(byType, { input: '120', output: '15' });
    const p50 = await eventually(base, 'histogram_quantile(0.5, sum by (le) (gen_ai_client_operation_duration_bucket))');
    assert.ok(Number(p50[0]!.value[1]) > 0, 'a latency quantile computed from the buckets');
  } catch (err) {
    throw new Error(`${(err as Error).message}\nprometheus stderr:\n${stderr}`);
  }
});

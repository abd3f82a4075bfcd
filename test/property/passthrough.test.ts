// Property-based test of pass-through through the real sidecar (fast-check): on every kind of
// route, arbitrary request bytes reach the upstream unchanged, and arbitrary response bytes
// (an SSE stream cut into arbitrary chunks, or any bytes at all) reach the agent unchanged,
// including on MCP routes, whose streams tapwire parses event by event and re-emits.
// The upstream is a scripted node:http server: only a server written for the test can answer
// with arbitrary bytes in chosen chunks.
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { startTestSidecar, type TestSidecar } from '../support/sidecar.js';
import { startUpstream, type ScriptedUpstream } from '../support/upstream.js';
import { cut, sseText } from './sse.test.js';

interface Answer {
  contentType: string;
  chunks: Buffer[];
}

describe('pass-through properties', () => {
  let upstream: ScriptedUpstream;
  let tapwire: TestSidecar;
  let answer: Answer = { contentType: 'text/plain', chunks: [] };

  before(async () => {
    upstream = await startUpstream(async (_req, res) => {
      res.writeHead(200, { 'content-type': answer.contentType });
      for (const chunk of answer.chunks) {
        res.write(chunk);
        await tick();
      }
      res.end();
    });
    tapwire = await startTestSidecar(
      [
        'routes:',
        `  openai: { protocol: llm, provider: openai, upstream: "${upstream.url}" }`,
        `  mcp: { protocol: mcp, upstream: "${upstream.url}" }`,
        `  a2a: { protocol: a2a, upstream: "${upstream.url}" }`,
        `  http: { protocol: http, upstream: "${upstream.url}" }`,
      ].join('\n'),
    );
  });
  after(async () => {
    await tapwire.stop();
    tapwire.cleanup();
    await upstream.close();
  });

  const routes = { openai: '/openai/v1/chat/completions', mcp: '/mcp/mcp', a2a: '/a2a/', http: '/http/anything' };

  async function roundTrip(path: string, body: Buffer): Promise<Buffer> {
    const response = await fetch(`${tapwire.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    return Buffer.from(await response.arrayBuffer());
  }

  test('SSE streams, cut anywhere, reach the agent byte for byte on every route', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...(Object.keys(routes) as (keyof typeof routes)[])), sseText, fc.array(fc.nat(), { maxLength: 8 }), fc.uint8Array({ maxLength: 200 }), async (route, text, offsets, request) => {
        const bytes = Buffer.from(text, 'utf8');
        answer = { contentType: 'text/event-stream', chunks: cut(bytes, offsets) };
        const received = await roundTrip(routes[route], Buffer.from(request));
        assert.equal(received.toString('utf8'), text);
        // (An A2A route also fetches the agent's card: the agent's request is the last POST.)
        const forwarded = upstream.requests.filter((r) => r.method === 'POST').at(-1)!;
        assert.ok(forwarded.body.equals(Buffer.from(request)), 'the request reached the upstream unchanged');
      }),
      { numRuns: 60 },
    );
  });

  test('any response bytes reach the agent unchanged on llm, a2a and http routes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom<keyof typeof routes>('openai', 'a2a', 'http'), fc.uint8Array({ maxLength: 3000 }), fc.array(fc.nat(), { maxLength: 5 }), async (route, raw, offsets) => {
        const bytes = Buffer.from(raw);
        answer = { contentType: 'application/octet-stream', chunks: cut(bytes, offsets) };
        const received = await roundTrip(routes[route], Buffer.from('{}'));
        assert.ok(received.equals(bytes));
      }),
      { numRuns: 60 },
    );
  });
});

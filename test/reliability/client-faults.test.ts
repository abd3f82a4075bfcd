// Agents that misbehave on the wire: one that goes away mid-stream (the upstream request is
// aborted, the call recorded as aborted with what had arrived), one that stops reading (the
// upstream's writes block: tapwire holds a bounded amount, not the whole response), and
// slowloris senders that never finish their headers or body (cut with 408 at the configured
// deadlines while other agents are served).
//
// The upstreams are scripted node:http servers: only a server written for the test can
// report that its response was cut, or how many bytes it managed to write while the agent
// was not reading. The agents are raw sockets or fetch, for the same reason.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { openSocket, rawRequest, readUntilClosed } from '../support/raw-http.js';
import { startTestSidecarFor } from '../support/sidecar.js';
import { sseEvent, startEventStream, startUpstream, until } from '../support/upstream.js';

describe('agents that misbehave', () => {
  test('an agent that disconnects mid-stream: the upstream request is aborted, the call recorded as aborted', async (t) => {
    let upstreamCut = false;
    let sent = 0;
    const upstream = await startUpstream((_req, res) => {
      startEventStream(res);
      res.on('close', () => (upstreamCut = !res.writableFinished));
      // One chunk now, then one every 20 ms until the connection is cut (never ends by itself).
      const tick = (): void => {
        if (res.destroyed) return;
        res.write(sseEvent({ id: 'c1', object: 'chat.completion.chunk', model: 'gpt-4o-mini', choices: [{ index: 0, delta: { content: `part ${sent++} ` } }] }));
        setTimeout(tick, 20).unref();
      };
      tick();
    });
    t.after(() => upstream.close());
    const tapwire = await startTestSidecarFor(t, `routes:\n  openai: { protocol: llm, provider: openai, upstream: "${upstream.url}" }\n`);

    const agent = new AbortController();
    const response = await fetch(`${tapwire.url}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'go on forever' }] }),
      signal: agent.signal,
    });
    const reader = response.body!.getReader();
    let received = '';
    while (!received.includes('part 2 ')) received += new TextDecoder().decode((await reader.read()).value as Uint8Array);
    agent.abort();
    await until(() => upstreamCut, 'the upstream to see its response cut');

    const exchanges = await tapwire.stop();
    assert.equal(exchanges.length, 1);
    const e = exchanges[0]!;
    assert.deepEqual([e.status, e.error_code, e.http_status, e.streamed], ['aborted', 'client_aborted', 200, 1]);
    const events = tapwire.record(e.id).events;
    assert.ok(events.length >= 3, `the events that passed are recorded (${events.length})`);
    assert.ok(events.length <= sent, 'no event is recorded that the upstream did not send');
  });

  test('an agent that stops reading: backpressure reaches the upstream, tapwire buffers a bounded amount', async (t) => {
    const total = 96 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let written = 0;
    let ended = false;
    const upstream = await startUpstream(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
      while (written < total) {
        written += chunk.length;
        // A well-behaved server waits when its socket says so: that is what backpressure blocks.
        if (!res.write(chunk)) await once(res, 'drain');
      }
      res.end(() => (ended = true));
    });
    t.after(() => upstream.close());
    const tapwire = await startTestSidecarFor(t, `routes:\n  files: { protocol: http, upstream: "${upstream.url}" }\n`);

    const socket = await openSocket(tapwire.url);
    const answer = readUntilClosed(socket);
    socket.write(`GET /files/big HTTP/1.1\r\nHost: ${new URL(tapwire.url).host}\r\nConnection: close\r\n\r\n`);
    await once(socket, 'data');
    socket.pause();
    // Wait until the upstream can write no more: its count stops moving.
    let last = -1;
    while (written !== last) {
      last = written;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    const inFlight = written;
    assert.ok(!ended, 'the upstream could not finish while the agent was not reading');
    // Socket buffers on both hops hold a few MiB (kernel-tuned); tapwire itself holds one chunk at a time.
    assert.ok(inFlight < total / 2.4, `the upstream wrote ${inFlight} bytes of ${total} while the agent read nothing`);
    socket.resume();
    const got = await answer;
    assert.equal(got.status, 200);
    assert.equal(Buffer.byteLength(got.body, 'latin1'), total, 'the whole body arrived once the agent read again');
    const [e] = await tapwire.stop();
    assert.equal(e!.response_bytes, total);
    assert.equal(e!.status, 'ok');
    t.diagnostic(`bytes in flight while the agent was not reading: ${inFlight}`);
  });

  test('slowloris: unfinished headers and trickled bodies are cut with 408 at the deadlines; others are served meanwhile', async (t) => {
    const upstream = await startUpstream((_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
    t.after(() => upstream.close());
    const tapwire = await startTestSidecarFor(
      t,
      `routes:\n  api: { protocol: http, upstream: "${upstream.url}" }\n  openai: { protocol: llm, provider: openai, upstream: "${upstream.url}" }\nlimits: { headers_timeout_ms: 300, request_timeout_ms: 600 }\n`,
    );
    const host = new URL(tapwire.url).host;

    // Headers that never end.
    const headers = await openSocket(tapwire.url);
    const headersAnswer = readUntilClosed(headers);
    headers.write(`GET /api/x HTTP/1.1\r\nHost: ${host}\r\nX-Slow: 1`);
    // A body that stops after 10 of its 100 bytes, on a route that reads bodies first.
    const body = await openSocket(tapwire.url);
    const bodyAnswer = readUntilClosed(body);
    body.write(`POST /openai/v1/chat/completions HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"model":`);

    // While both hang, a normal agent is served.
    const normal = await rawRequest(tapwire.url, `GET /api/x HTTP/1.1\r\nHost: ${host}`);
    assert.equal(normal.status, 200);

    const [cutHeaders, cutBody] = await Promise.all([headersAnswer, bodyAnswer]);
    assert.equal(cutHeaders.status, 408, cutHeaders.raw);
    assert.equal(cutBody.status, 408, cutBody.raw);
    assert.deepEqual(upstream.requests.map((r) => r.url), ['/x'], 'only the normal request reached the upstream');
    const exchanges = await tapwire.stop();
    assert.deepEqual(exchanges.map((e) => [e.route, e.status]), [['api', 'ok']], 'requests that never arrived whole are not recorded');
  });
});

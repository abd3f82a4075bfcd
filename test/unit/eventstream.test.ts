// The AWS event stream parser (core/eventstream.ts): frames come back whole however the bytes
// are cut, as events named by their type (a chunk's base64 bytes decoded); a frame past the
// limit is skipped and counted; a corrupt frame stops the parse and says why; what
// encodeEventFrame makes parses back.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { encodeEventFrame, EventStreamParser } from '../../core/eventstream.js';
import type { SseEvent } from '../../core/sse.js';

const FRAMES: [string, string][] = [
  ['messageStart', '{"role":"assistant"}'],
  ['contentBlockDelta', '{"delta":{"text":"Héllo, wörld"},"contentBlockIndex":0}'],
  ['metadata', '{"usage":{"inputTokens":3,"outputTokens":2}}'],
];
const STREAM = Buffer.concat(FRAMES.map(([type, data]) => encodeEventFrame(type, data)));

function named(events: SseEvent[]): [string | null, string][] {
  return events.map((e) => [e.event, e.data]);
}

describe('EventStreamParser', () => {
  test('every way of cutting the stream in two gives the same frames', () => {
    for (let cut = 0; cut <= STREAM.length; cut++) {
      const parser = new EventStreamParser();
      const events = [...parser.push(STREAM.subarray(0, cut)), ...parser.push(STREAM.subarray(cut)), ...parser.end()];
      assert.deepEqual(named(events), FRAMES, `cut at ${cut}`);
      assert.equal(parser.broken, null);
    }
  });

  test('one byte at a time', () => {
    const parser = new EventStreamParser();
    const events: SseEvent[] = [];
    for (const byte of STREAM) events.push(...parser.push(Buffer.from([byte])));
    assert.deepEqual(named(events), FRAMES);
  });

  test('exception and error frames are named by their type', () => {
    const codec = new EventStreamCodec((b) => Buffer.from(b).toString('utf8'), (s) => Buffer.from(s));
    const error = Buffer.from(
      codec.encode({
        headers: { ':message-type': { type: 'string', value: 'error' }, ':error-code': { type: 'string', value: 'InternalFailure' }, ':error-message': { type: 'string', value: 'boom' } },
        body: new Uint8Array(0),
      }),
    );
    const parser = new EventStreamParser();
    const events = parser.push(Buffer.concat([encodeEventFrame('throttlingException', '{"message":"slow down"}'), error]));
    assert.deepEqual(named(events), [
      ['throttlingException', '{"message":"slow down"}'],
      ['error', '{"code":"InternalFailure","message":"boom"}'],
    ]);
  });

  test("a chunk's base64 bytes come back decoded; encodeEventFrame encodes them as Bedrock does", () => {
    const frame = encodeEventFrame('chunk', '{"type":"content_block_delta","delta":{"text":"hi"}}');
    const codec = new EventStreamCodec((b) => Buffer.from(b).toString('utf8'), (s) => Buffer.from(s));
    const wire = JSON.parse(Buffer.from(codec.decode(frame).body).toString('utf8')) as { bytes: string };
    assert.equal(Buffer.from(wire.bytes, 'base64').toString('utf8'), '{"type":"content_block_delta","delta":{"text":"hi"}}');
    assert.deepEqual(named(new EventStreamParser().push(frame)), [['chunk', '{"type":"content_block_delta","delta":{"text":"hi"}}']]);
  });

  test('a frame longer than the limit is skipped, counted once, and the next one read', () => {
    const long = encodeEventFrame('contentBlockDelta', JSON.stringify({ delta: { text: 'x'.repeat(500) } }));
    const parser = new EventStreamParser({ maxFrameBytes: 200 });
    const events = [...parser.push(Buffer.concat([encodeEventFrame('messageStart', '{}'), long.subarray(0, 100)])), ...parser.push(Buffer.concat([long.subarray(100), encodeEventFrame('messageStop', '{}')]))];
    assert.deepEqual(
      events.map((e) => e.oversize ?? e.event),
      ['messageStart', 'end', 'messageStop'],
    );
  });

  test('a corrupt frame stops the parse and says why; a stream cut inside a frame says so at its end', () => {
    const corrupt = Buffer.from(STREAM);
    // A byte in the first frame's payload: its message CRC no longer matches.
    corrupt.writeUInt8(corrupt.readUInt8(60) ^ 0xff, 60);
    const parser = new EventStreamParser();
    const events = parser.push(corrupt);
    assert.deepEqual(events, []);
    assert.match(parser.broken ?? '', /corrupt event stream frame/);
    assert.deepEqual(parser.push(STREAM), [], 'nothing is read after it');

    const cut = new EventStreamParser();
    assert.deepEqual(named(cut.push(STREAM.subarray(0, STREAM.length - 5))), FRAMES.slice(0, 2));
    cut.end();
    assert.equal(cut.broken, 'the event stream ended inside a frame');
  });
});

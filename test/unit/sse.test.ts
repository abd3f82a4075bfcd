// The incremental SSE parser: events split anywhere across chunks, every line ending the
// spec allows, comments and priming events, and the raw text kept for re-emitting.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SseParser, type SseEvent } from '../../core/sse.js';

function parseInPieces(text: string, pieceSize: number): SseEvent[] {
  const parser = new SseParser();
  const bytes = Buffer.from(text);
  const events: SseEvent[] = [];
  for (let i = 0; i < bytes.length; i += pieceSize) events.push(...parser.push(bytes.subarray(i, i + pieceSize)));
  events.push(...parser.end());
  return events;
}

const STREAM =
  ': keep-alive comment\n\n' +
  'id: 7\nretry: 3000\ndata:\n\n' +
  'event: message_start\ndata: {"type":"message_start","text":"héllo ✓"}\n\n' +
  'data: line one\r\ndata: line two\r\n\r\n' +
  'data: cr only\r\r' +
  'data: [DONE]\n\n';

describe('SseParser', () => {
  test('parses fields, multi-line data and every line ending, whatever the chunking', () => {
    for (const size of [1, 2, 3, 7, 64, 10_000]) {
      const events = parseInPieces(STREAM, size);
      assert.deepEqual(
        events.map((e) => ({ event: e.event, data: e.data, id: e.id, retry: e.retry })),
        [
          { event: null, data: '', id: null, retry: null },
          { event: null, data: '', id: '7', retry: 3000 },
          { event: 'message_start', data: '{"type":"message_start","text":"héllo ✓"}', id: null, retry: null },
          { event: null, data: 'line one\nline two', id: null, retry: null },
          { event: null, data: 'cr only', id: null, retry: null },
          { event: null, data: '[DONE]', id: null, retry: null },
        ],
        `chunk size ${size}`,
      );
      assert.equal(events.map((e) => e.raw).join(''), STREAM, `raw text reassembles the stream (chunk size ${size})`);
    }
  });

  test('an event not closed by a blank line is dropped at the end', () => {
    const events = parseInPieces('data: complete\n\ndata: cut off', 5);
    assert.deepEqual(events.map((e) => e.data), ['complete']);
  });

  // Linear work: a quadratic parser needs minutes for these (16 MiB rescanned per chunk, or
  // every remaining line end searched for a "\r" per line); a linear one, well under a second.
  test('one 16 MiB line in 4 KiB chunks', { timeout: 20_000 }, () => {
    const value = 'x'.repeat(16 * 1024 * 1024);
    const events = parseInPieces(`data: ${value}\n\n`, 4096);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.data.length, value.length);
  });

  test('a million events in one chunk', { timeout: 20_000 }, () => {
    const parser = new SseParser();
    const events = parser.push(Buffer.from('data: x\n\n'.repeat(1_000_000)));
    assert.equal(events.length, 1_000_000);
    assert.ok(events.every((e) => e.data === 'x'));
  });

  test('an event over maxEventChars passes in pieces, unread, and the next event is parsed', () => {
    const stream = 'data: a\n\n' + `data: ${'y'.repeat(100)}\r\ndata: z\r\n\r\n` + 'data: b\n\n';
    for (const size of [1, 3, 7, 64, 10_000]) {
      const parser = new SseParser({ maxEventChars: 20 });
      const bytes = Buffer.from(stream);
      const events: SseEvent[] = [];
      for (let i = 0; i < bytes.length; i += size) events.push(...parser.push(bytes.subarray(i, i + size)));
      events.push(...parser.end());
      assert.deepEqual(events.filter((e) => !e.oversize).map((e) => e.data), ['a', 'b'], `chunk size ${size}`);
      assert.equal(events.filter((e) => e.oversize === 'end').length, 1);
      assert.ok(events.every((e) => e.raw.length <= 20 + size + 2), `nothing held past the limit (chunk size ${size})`);
      assert.equal(events.map((e) => e.raw).join(''), stream);
    }
  });
});

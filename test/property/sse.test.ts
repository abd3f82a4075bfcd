// Property-based tests of the SSE parser (fast-check): whatever text arrives, cut into
// chunks at any byte (inside a UTF-8 character, between "\r" and "\n"), the parser never
// throws, finds the same events as when the text arrives whole, and its events' raw texts
// plus what no event carried are the text exactly: the bytes tapwire re-emits when it edits
// a stream are the bytes it received.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { SseParser, type SseEvent } from '../../core/sse.js';

const LINE_ENDS = ['\n', '\r\n', '\r'];
const FIELD_LINES = ['data: x', 'data:', 'data:  two spaces', 'event: message', 'event:', 'id: 7', 'id: a\0b', 'retry: 1500', 'retry: x', ': keep-alive', ':', 'data: {"jsonrpc":"2.0","id":1,"result":{}}', 'field-without-colon', ''];

/** Text that is a valid UTF-8 string (SSE is UTF-8; a lone surrogate has no UTF-8 form). */
const utf8Text = fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => Buffer.from(s, 'utf8').toString('utf8') === s);

/** SSE-like text: known field lines and arbitrary ones, with any line endings, maybe unterminated. */
export const sseText = fc
  .array(fc.tuple(fc.oneof(fc.constantFrom(...FIELD_LINES), utf8Text), fc.constantFrom(...LINE_ENDS)), { maxLength: 30 })
  .chain((lines) => fc.tuple(fc.constant(lines.map(([line, end]) => line + end).join('')), fc.oneof(fc.constant(''), utf8Text)))
  .map(([body, tail]) => body + tail);

/** `bytes` cut at the given offsets (any byte, even inside a character). */
export function cut(bytes: Buffer, offsets: number[]): Buffer[] {
  const points = [...new Set(offsets.map((o) => o % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const p of points) {
    chunks.push(bytes.subarray(start, p));
    start = p;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

function parse(chunks: Buffer[]): { events: SseEvent[]; rest: string } {
  const parser = new SseParser();
  const events = chunks.flatMap((chunk) => parser.push(chunk));
  events.push(...parser.end());
  return { events, rest: parser.unterminated() };
}

const withoutRaw = (events: SseEvent[]) => events.map(({ raw: _raw, ...fields }) => fields);

describe('SSE parser properties', () => {
  test('events carry every byte: raw texts plus the unterminated rest are the stream', () => {
    fc.assert(
      fc.property(sseText, fc.array(fc.nat(), { maxLength: 12 }), (text, offsets) => {
        const { events, rest } = parse(cut(Buffer.from(text, 'utf8'), offsets));
        assert.equal(events.map((e) => e.raw).join('') + rest, text);
      }),
      { numRuns: 500 },
    );
  });

  test('chunking never changes the events found', () => {
    fc.assert(
      fc.property(sseText, fc.array(fc.nat(), { maxLength: 12 }), (text, offsets) => {
        const bytes = Buffer.from(text, 'utf8');
        const whole = parse([bytes]);
        const chunked = parse(cut(bytes, offsets));
        assert.deepEqual(chunked.events, whole.events);
        assert.equal(chunked.rest, whole.rest);
      }),
      { numRuns: 500 },
    );
  });

  test('arbitrary bytes (invalid UTF-8 included) never make it throw, and each event ends with a blank line', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(), { maxLength: 8 }), (raw, offsets) => {
        const { events } = parse(cut(Buffer.from(raw), offsets));
        for (const event of withoutRaw(events)) assert.equal(typeof event.data, 'string');
        for (const event of events) assert.match(event.raw, /(\r\n|\r|\n)(\r\n|\r|\n)$|^(\r\n|\r|\n)$/);
      }),
      { numRuns: 300 },
    );
  });

  test('with maxEventChars, raw texts still carry every byte, and events within the limit are the same', () => {
    fc.assert(
      fc.property(sseText, fc.array(fc.nat(), { maxLength: 12 }), fc.integer({ min: 1, max: 60 }), (text, offsets, limit) => {
        const parser = new SseParser({ maxEventChars: limit });
        const events = cut(Buffer.from(text, 'utf8'), offsets).flatMap((chunk) => parser.push(chunk));
        events.push(...parser.end());
        assert.equal(events.map((e) => e.raw).join('') + parser.unterminated(), text);
        const small = parse([Buffer.from(text, 'utf8')]).events.filter((e) => e.raw.length <= limit);
        assert.deepEqual(events.filter((e) => !e.oversize && e.raw.length <= limit), small);
      }),
      { numRuns: 500 },
    );
  });
});

// Incremental parser of the AWS event stream (`application/vnd.amazon.eventstream`, the
// binary frames of Bedrock's ConverseStream and InvokeModelWithResponseStream): feed it each
// chunk as it passes, get back the frames that chunk completed, as SSE-shaped events (the
// `:event-type` or `:exception-type` header as `event`, the payload as `data`) so a stream is
// observed the same way whichever framing carried it. The bytes themselves are never
// changed: the caller forwards them as received. Each frame is checked by
// @smithy/eventstream-codec (lengths and both CRCs); a frame longer than `maxFrameBytes` is
// skipped unread, and a corrupt one stops the parse (what follows cannot be framed).
// A `chunk` frame whose payload is `{"bytes": base64}` (InvokeModelWithResponseStream: the
// model's own JSON, base64-encoded) comes back decoded, so what is recorded, redacted and
// judged is the text; encodeEventFrame makes a recorded event a frame again, for the mock.
import { EventStreamCodec, type Message } from '@smithy/eventstream-codec';
import type { SseEvent } from './sse.js';

/** The prelude: total length, headers length, prelude CRC (4 bytes each). */
const PRELUDE_BYTES = 12;
/** Prelude and message CRC: the smallest frame. */
const MIN_FRAME_BYTES = 16;

const codec = new EventStreamCodec(
  (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'),
  (text: string) => Buffer.from(text, 'utf8'),
);

interface EventStreamParserOptions {
  /** The longest frame held and decoded; longer ones are counted as `oversize` and passed unread. Default: no limit. */
  maxFrameBytes?: number;
}

function headerText(message: Message, name: string): string | null {
  const header = message.headers[name];
  return header?.type === 'string' ? header.value : null;
}

/** One decoded frame as an event: events and exceptions by their type, `error` frames as {code, message}. */
function frameEvent(message: Message): SseEvent {
  const kind = headerText(message, ':message-type');
  const body = Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength).toString('utf8');
  if (kind === 'error') {
    const data = JSON.stringify({ code: headerText(message, ':error-code'), message: headerText(message, ':error-message') });
    return { event: 'error', data, id: null, retry: null, raw: '' };
  }
  const event = kind === 'exception' ? headerText(message, ':exception-type') : headerText(message, ':event-type');
  return { event, data: event === 'chunk' ? (chunkBytes(body) ?? body) : body, id: null, retry: null, raw: '' };
}

/** The decoded text of a `{"bytes": base64}` payload, or null when the payload is not one. */
function chunkBytes(payload: string): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload);
  } catch {
    return null;
  }
  const bytes = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) && Object.keys(parsed).length === 1 ? (parsed as { bytes?: unknown }).bytes : undefined;
  return typeof bytes === 'string' ? Buffer.from(bytes, 'base64').toString('utf8') : null;
}

/** The content type of an AWS event stream. */
export const EVENT_STREAM_TYPE = 'application/vnd.amazon.eventstream';

/**
 * One event as a frame again (tapwire mock serving a recorded stream): a JSON event (a
 * `chunk`'s text base64-encoded in `bytes` again), or an exception when its type names one
 * (Bedrock's all end in `Exception`).
 */
export function encodeEventFrame(event: string | null, data: string): Buffer {
  const type = event ?? 'chunk';
  const exception = type.endsWith('Exception');
  const payload = type === 'chunk' ? JSON.stringify({ bytes: Buffer.from(data, 'utf8').toString('base64') }) : data;
  const headers: Message['headers'] = {
    ':message-type': { type: 'string', value: exception ? 'exception' : 'event' },
    [exception ? ':exception-type' : ':event-type']: { type: 'string', value: type },
    ':content-type': { type: 'string', value: 'application/json' },
  };
  return Buffer.from(codec.encode({ headers, body: Buffer.from(payload, 'utf8') }));
}

export class EventStreamParser {
  private readonly maxFrameBytes: number;
  private pending: Buffer = Buffer.alloc(0);
  /** Bytes still to skip of a frame longer than maxFrameBytes. */
  private skipping = 0;
  /** Why the stream can no longer be framed (a corrupt frame), or null. */
  broken: string | null = null;

  constructor(options: EventStreamParserOptions = {}) {
    this.maxFrameBytes = options.maxFrameBytes ?? Infinity;
  }

  push(chunk: Buffer): SseEvent[] {
    if (this.broken) return [];
    let data = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const events: SseEvent[] = [];
    while (data.length > 0) {
      if (this.skipping > 0) {
        const skipped = Math.min(this.skipping, data.length);
        this.skipping -= skipped;
        data = data.subarray(skipped);
        if (this.skipping === 0) events.push({ event: null, data: '', id: null, retry: null, raw: '', oversize: 'end' });
        continue;
      }
      if (data.length < PRELUDE_BYTES) break;
      const total = data.readUInt32BE(0);
      if (total < MIN_FRAME_BYTES) {
        this.fail(`an event stream frame declares ${total} bytes, fewer than a frame has`);
        return events;
      }
      if (total > this.maxFrameBytes) {
        // Too long to hold: skipped (the caller passes the bytes on as they came), counted.
        this.skipping = total;
        continue;
      }
      if (data.length < total) break;
      try {
        events.push(frameEvent(codec.decode(data.subarray(0, total))));
      } catch (err) {
        this.fail(`a corrupt event stream frame: ${(err as Error).message}`);
        return events;
      }
      data = data.subarray(total);
    }
    // Copied, so the upstream's chunk (already forwarded) is not kept alive by a slice of it.
    this.pending = Buffer.from(data);
    return events;
  }

  /** The end of the stream: a frame cut short is noted in `broken`. */
  end(): SseEvent[] {
    if (!this.broken && (this.pending.length > 0 || this.skipping > 0)) this.broken = 'the event stream ended inside a frame';
    return [];
  }

  /** An event stream is never re-emitted as text: nothing is left to write after the last frame. */
  unterminated(): string {
    return '';
  }

  private fail(why: string): void {
    this.broken = why;
    this.pending = Buffer.alloc(0);
  }
}

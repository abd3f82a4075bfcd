// Content-Encoding support for recording bodies: compressed bodies pass to the agent
// untouched, and tapwire decompresses its own copy to read and store it. Decoding is always
// bounded: a decompression bomb stops at the bound instead of filling memory or the CPU.
// In the sidecar it streams through zlib's thread pool, off the event loop; reading stored
// rows (exports, mocks) decodes synchronously, with the output capped.
import {
  constants,
  brotliDecompressSync,
  createBrotliDecompress,
  createGunzip,
  createInflate,
  gunzipSync,
  inflateSync,
} from 'node:zlib';
import type { Transform } from 'node:stream';
import type { Zlib } from 'node:zlib';
import type { Payload } from './exchange.js';

type Encoding = 'gzip' | 'deflate' | 'br';

/** The most a body is decoded to when it is read whole (an observer's, an export's). */
export const MAX_DECODED_BYTES = 16 * 1024 * 1024;

/**
 * Stored in a record's headers instead of `content-encoding`: the body was sent with this
 * encoding, and the record holds it decoded (what redaction and every reader need).
 */
export const DECODED_FROM_HEADER = 'x-tapwire-decoded-from';

function known(encoding: string | undefined): Encoding | null {
  switch (encoding?.trim().toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return 'gzip';
    case 'deflate':
      return 'deflate';
    case 'br':
      return 'br';
    default:
      return null;
  }
}

/** True when `encoding` is one tapwire decodes (gzip, deflate, br). */
function isDecodable(encoding: string | undefined): boolean {
  return known(encoding) !== null;
}

/** A streaming decompressor for `encoding`, or null when the body is not compressed. */
function streamDecoder(encoding: string | undefined): Transform | null {
  switch (known(encoding)) {
    case 'gzip':
      return createGunzip();
    case 'deflate':
      return createInflate();
    case 'br':
      return createBrotliDecompress();
    default:
      return null;
  }
}

/**
 * Decompresses a body as it arrives, in zlib's thread pool, handing each decoded piece to
 * `onData` until the decoded total would pass `bound(consumed)`, where `consumed` is the
 * compressed bytes decoded so far: then it stops, and the rest is not decoded at all. `stopped` says why decoding ended early (the bound, or a corrupt body).
 */
export class BoundedDecoder {
  decodedBytes = 0;
  stopped: string | null = null;
  private readonly closed: Promise<void>;

  constructor(
    private readonly stream: Transform,
    private readonly encoding: string,
    onData: (chunk: Buffer) => void,
    bound: (consumed: number) => number,
  ) {
    this.closed = new Promise((resolve) => stream.once('close', () => resolve()));
    stream.on('data', (chunk: Buffer) => {
      if (this.stopped !== null) return;
      const room = bound((stream as Transform & Zlib).bytesWritten) - this.decodedBytes;
      const kept = chunk.length > room ? chunk.subarray(0, Math.max(0, room)) : chunk;
      this.decodedBytes += kept.length;
      if (kept.length > 0) onData(kept);
      if (kept !== chunk) this.stop(`tapwire decoded only the first ${this.decodedBytes} bytes of the ${this.encoding} body (decompression bound)`);
    });
    stream.on('error', (err: Error) => {
      this.stopped ??= `tapwire could not decode the ${this.encoding} body: ${err.message}`;
    });
  }

  write(chunk: Buffer): void {
    if (this.stopped === null) this.stream.write(chunk);
  }

  /** Ends the input and resolves once everything decodable was handed over. */
  async end(): Promise<void> {
    if (this.stopped === null) this.stream.end();
    await this.closed;
  }

  /** Stops decoding (the exchange failed, or the bound was reached). */
  stop(reason: string): void {
    this.stopped ??= reason;
    this.stream.destroy();
  }
}

/** A bounded decoder for `encoding`, or null when the body is not compressed (or in an encoding tapwire does not know). */
export function boundedDecoder(encoding: string | undefined, onData: (chunk: Buffer) => void, bound: (consumed: number) => number): BoundedDecoder | null {
  const stream = streamDecoder(encoding);
  return stream ? new BoundedDecoder(stream, encoding!.trim().toLowerCase(), onData, bound) : null;
}

/** A whole body decoded off the event loop: at most `limit` bytes of it, and why it stopped short, if it did. */
async function decodeOffLoop(body: Buffer, encoding: string | undefined, limit: number): Promise<{ bytes: Buffer; stopped: string | null }> {
  const chunks: Buffer[] = [];
  const decoder = boundedDecoder(encoding, (chunk) => chunks.push(chunk), () => limit);
  if (!decoder) return { bytes: body, stopped: null };
  decoder.write(body);
  await decoder.end();
  return { bytes: Buffer.concat(chunks), stopped: decoder.stopped };
}

/**
 * One content coding undone synchronously, at most `limit` bytes: null when tapwire cannot
 * decode `encoding`; a RangeError (code ERR_BUFFER_TOO_LARGE) when it decodes to more, so a
 * small bomb costs no more than `limit`. Requests are read so (protocols/readable-body.ts);
 * stored rows with `partial`, which gives what a body cut short holds instead of throwing.
 */
export function decodeBounded(body: Buffer, encoding: string, limit: number, { partial = false } = {}): Buffer | null {
  const maxOutputLength = Math.max(1, limit);
  switch (known(encoding)) {
    case 'gzip':
      return gunzipSync(body, partial ? { maxOutputLength, finishFlush: constants.Z_SYNC_FLUSH } : { maxOutputLength });
    case 'deflate':
      return inflateSync(body, partial ? { maxOutputLength, finishFlush: constants.Z_SYNC_FLUSH } : { maxOutputLength });
    case 'br':
      return brotliDecompressSync(body, partial ? { maxOutputLength, finishFlush: constants.BROTLI_OPERATION_FLUSH } : { maxOutputLength });
    default:
      return null;
  }
}

/** A record's copy of headers for a body stored decoded: content-encoding becomes DECODED_FROM_HEADER. */
export function decodedHeaders(headers: Payload['headers']): Payload['headers'] {
  const { 'content-encoding': encoding, ...rest } = headers;
  return encoding === undefined ? headers : { ...rest, [DECODED_FROM_HEADER]: encoding };
}

/**
 * A captured payload as the record stores it: decoded (up to `limit` bytes, off the event
 * loop) when it was sent compressed, and marked truncated when it could not be decoded whole.
 */
export function decodedPayload(payload: Payload, limit: number): Payload | Promise<Payload> {
  const value = payload.headers['content-encoding'];
  const encoding = Array.isArray(value) ? value[0] : value;
  // Nothing to decode answers at once: a caller that awaits only a Promise keeps its order.
  if (!payload.body || !isDecodable(encoding)) return payload;
  return decodeOffLoop(payload.body, encoding, limit + 1).then((decoded) => {
    const truncated = payload.truncated || decoded.stopped !== null || decoded.bytes.length > limit;
    return { headers: decodedHeaders(payload.headers), body: decoded.bytes.subarray(0, limit), body_size: truncated ? Math.max(payload.body_size, decoded.bytes.length) : decoded.bytes.length, truncated };
  });
}

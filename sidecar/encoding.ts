// Content-Encoding support for observing responses: compressed bodies pass to the agent
// untouched, and tapwire decompresses its own copy to read them.
import { createBrotliDecompress, createGunzip, createInflate, brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import type { Transform } from 'node:stream';

type Encoding = 'gzip' | 'deflate' | 'br' | null;

function known(encoding: string | undefined): Encoding {
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

/** A streaming decompressor for `encoding`, or null when the body is not compressed. */
export function streamDecoder(encoding: string | undefined): Transform | null {
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

/** The decompressed body (the same buffer when it is not compressed). */
export function decodeBody(body: Buffer, encoding: string | undefined): Buffer {
  switch (known(encoding)) {
    case 'gzip':
      return gunzipSync(body);
    case 'deflate':
      return inflateSync(body);
    case 'br':
      return brotliDecompressSync(body);
    default:
      return body;
  }
}

/**
 * One content coding of a request body, undone for reading (requests are forwarded as
 * they came): null when tapwire cannot decode `encoding`; a RangeError (code
 * ERR_BUFFER_TOO_LARGE) when it decodes to more than `limit` bytes, so a small bomb
 * costs no more than `limit`.
 */
export function decodeBounded(body: Buffer, encoding: string, limit: number): Buffer | null {
  const options = { maxOutputLength: Math.max(1, limit) };
  switch (known(encoding)) {
    case 'gzip':
      return gunzipSync(body, options);
    case 'deflate':
      return inflateSync(body, options);
    case 'br':
      return brotliDecompressSync(body, options);
    default:
      return null;
  }
}

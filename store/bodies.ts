// Recorded bodies as readers need them: stored bytes are what crossed the wire (a compressed
// response stays compressed), so exports, mocks and replays decompress a copy first. A body
// that was truncated, or cannot be decompressed, is returned as stored, flagged.
import type { Payload } from '../sidecar/exchange.js';
import { decodeBody } from '../sidecar/encoding.js';

export interface RecordedBody {
  bytes: Buffer;
  /** False when the bytes are still encoded (a truncated or corrupt compressed body). */
  decoded: boolean;
}

function header(payload: Payload, name: string): string | undefined {
  const value = payload.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The payload's body, decompressed when it was sent compressed; null when nothing was stored. */
export function recordedBody(payload: Payload | null): RecordedBody | null {
  if (!payload?.body) return null;
  const encoding = header(payload, 'content-encoding');
  if (!encoding || encoding === 'identity') return { bytes: payload.body, decoded: true };
  try {
    return { bytes: decodeBody(payload.body, encoding), decoded: true };
  } catch {
    return { bytes: payload.body, decoded: false };
  }
}

/** The body as JSON, or undefined when there is none or it is not JSON. */
export function recordedJson(payload: Payload | null): unknown {
  const body = recordedBody(payload);
  if (!body?.decoded || body.bytes.length === 0) return undefined;
  try {
    return JSON.parse(body.bytes.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}


// Recorded bodies as readers need them. The sidecar stores compressed bodies decoded (their
// headers then say x-tapwire-decoded-from instead of content-encoding); records written by
// older versions hold the compressed bytes, so exports, mocks and replays decompress a copy
// first, bounded (MAX_DECODED_BYTES). A body that cannot be decompressed within that bound
// is returned as stored, flagged.
import type { Payload } from '../core/exchange.js';
import { decodeBounded, MAX_DECODED_BYTES } from '../core/encoding.js';

export interface RecordedBody {
  bytes: Buffer;
  /** False when the bytes are still encoded (a corrupt compressed body, or one past the bound). */
  decoded: boolean;
}

function header(payload: Payload, name: string): string | undefined {
  const value = payload.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The payload's body, decompressed when it was stored compressed; null when nothing was stored. */
export function recordedBody(payload: Payload | null): RecordedBody | null {
  if (!payload?.body) return null;
  const encoding = header(payload, 'content-encoding');
  if (!encoding || encoding === 'identity') return { bytes: payload.body, decoded: true };
  try {
    return { bytes: decodeBounded(payload.body, encoding, MAX_DECODED_BYTES, { partial: true }) ?? payload.body, decoded: true };
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

// Redaction reads bodies as UTF-8 text: a body that is not (an image, a protobuf, a body cut
// inside a character) would come back as U+FFFD text, destroyed. Around a review such a body
// is shown as Latin-1 text, one character per byte, so patterns still match the ASCII in it
// (a key inside a binary upload is still masked), and is turned back into the same bytes
// afterwards, changed only where something was masked.
import { isUtf8 } from 'node:buffer';
import type { ExchangeRecord } from './exchange.js';

type Side = 'request' | 'response';

/** Runs `review` (which may rewrite bodies as text) on the record without mangling its binary bodies. */
export function reviewKeepingBytes(record: ExchangeRecord, review: (record: ExchangeRecord) => void): void {
  const binary: Side[] = [];
  for (const side of ['request', 'response'] as const) {
    const body = record[side]?.body;
    if (!body || isUtf8(body)) continue;
    record[side]!.body = Buffer.from(body.toString('latin1'), 'utf8');
    binary.push(side);
  }
  try {
    review(record);
  } finally {
    for (const side of binary) {
      const payload = record[side];
      if (payload?.body) payload.body = Buffer.from(payload.body.toString('utf8'), 'latin1');
    }
  }
}

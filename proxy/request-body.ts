// A forwarded call's request body, read once before anything else looks at it: whole when
// the route's protocol reads it (its facts decide how the answer is read, and whether the call
// is sent at all), else left to stream through with only its declared length checked; and the
// body as the upstream will read it (decoded, a byte-order mark dropped) for the gate and the
// observers, while the body as received is what is forwarded.
import type { IncomingMessage } from 'node:http';
import { BodyTooLarge, declaredTooLarge, readBody } from '../protocols/refusal.js';
import { readBodyAsSent } from '../protocols/readable-body.js';

export interface CallBody {
  /** The body as received (what is forwarded); null when it streams through or there is none. */
  body: Buffer | null;
  /** The body as the upstream reads it; `body` itself when it needs no decoding or cannot be decoded. */
  readable: Buffer | null;
  /** Why tapwire could not decode the body (its content-encoding or charset); null when it could. */
  cannotRead: string | null;
}

/**
 * Reads the call's body. Throws BodyTooLarge past `limit` (declared, received or decoded);
 * resolves null when the agent went away before sending it (nothing to forward).
 */
export async function readCallBody(req: IncomingMessage, readsBody: boolean, limit: number): Promise<CallBody | null> {
  let body: Buffer | null = null;
  if (!readsBody) {
    const declared = declaredTooLarge(req, limit);
    if (declared) throw declared;
  } else if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'DELETE') {
    try {
      body = await readBody(req, limit);
    } catch (err) {
      if (err instanceof BodyTooLarge) throw err;
      return null;
    }
  }
  if (!body || body.length === 0) return { body, readable: body, cannotRead: null };
  const reading = readBodyAsSent(body, req.headers, limit);
  return reading.ok ? { body, readable: reading.body, cannotRead: null } : { body, readable: body, cannotRead: reading.reason };
}

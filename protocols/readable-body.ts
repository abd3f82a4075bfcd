// A request body as the upstream reads it: its content codings undone (gzip, deflate, br,
// bounded by limits.max_request_bytes), its charset decoded (UTF-8 or UTF-16) and a
// byte-order mark dropped, as the MCP SDKs' servers and body parsers do. tapwire judges and
// records this reading but forwards the bytes it received; what it cannot read, on a route
// with request-phase policies, is refused (protocols/policy-gate.ts).
import type { IncomingHttpHeaders } from 'node:http';
import { decodeBounded } from '../core/encoding.js';
import { BodyTooLarge } from './refusal.js';

/** The body as read, or why tapwire cannot read it (with the body as received). */
export type BodyReading = { ok: true; body: Buffer } | { ok: false; reason: string; body: Buffer };

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** The charsets tapwire reads, by their lower-case names: the decoder each takes. */
const CHARSETS: Readonly<Record<string, string>> = { 'utf-8': 'utf-8', utf8: 'utf-8', 'utf-16le': 'utf-16le', 'utf-16be': 'utf-16be', 'utf-16': 'utf-16' };

/**
 * Reads `body` as the upstream will. The same Buffer when there is nothing to undo (the
 * usual case, so its one JSON parse stays shared). Throws BodyTooLarge when the decoded
 * body is longer than `limit`.
 */
export function readBodyAsSent(body: Buffer, headers: IncomingHttpHeaders, limit: number): BodyReading {
  const decoded = undoCodings(body, headers['content-encoding'], limit);
  if (!decoded.ok) return decoded;
  const charset = charsetOf(headers['content-type']);
  if (charset === null || CHARSETS[charset] === 'utf-8') {
    return { ok: true, body: decoded.body.subarray(0, UTF8_BOM.length).equals(UTF8_BOM) ? decoded.body.subarray(UTF8_BOM.length) : decoded.body };
  }
  const decoder = CHARSETS[charset];
  if (!decoder) return { ok: false, reason: `charset "${charset}", which tapwire does not read (it reads UTF-8 and UTF-16)`, body };
  // TextDecoder drops a byte-order mark, as the upstream's decoder does.
  const text = new TextDecoder(decoder === 'utf-16' ? utf16Order(decoded.body) : decoder).decode(decoded.body);
  const utf8 = Buffer.from(text, 'utf8');
  if (utf8.length > limit) throw new BodyTooLarge(limit, body.length, true);
  return { ok: true, body: utf8 };
}

/** Undoes each content coding, the last applied first. */
function undoCodings(body: Buffer, header: string | undefined, limit: number): BodyReading {
  const codings = (header ?? '')
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  let decoded = body;
  for (const coding of codings.reverse()) {
    try {
      const next = decodeBounded(decoded, coding, limit);
      if (next === null) return { ok: false, reason: `content-encoding "${coding}", which tapwire does not decode (it decodes gzip, deflate and br)`, body };
      decoded = next;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new BodyTooLarge(limit, body.length, true);
      return { ok: false, reason: `a ${coding} body that does not decode: ${(err as Error).message}`, body };
    }
  }
  return { ok: true, body: decoded };
}

/** The content type's charset parameter, lower case; null when it has none. */
function charsetOf(contentType: string | undefined): string | null {
  const match = /;\s*charset\s*=\s*("?)([^";\s]*)\1/i.exec(contentType ?? '');
  return match ? match[2]!.toLowerCase() : null;
}

/** UTF-16 without an order named: its byte-order mark, else JSON's first character (ASCII) tells. */
function utf16Order(body: Buffer): 'utf-16le' | 'utf-16be' {
  if (body[0] === 0xfe && body[1] === 0xff) return 'utf-16be';
  if (body[0] === 0xff && body[1] === 0xfe) return 'utf-16le';
  return body[0] === 0 && body[1] !== 0 ? 'utf-16be' : 'utf-16le';
}

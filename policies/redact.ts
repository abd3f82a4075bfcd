// Redact rules: masks fields and patterns in what is recorded (and so exported), never in
// what is forwarded. Body fields are JSON paths under the request or response body; patterns
// are replaced wherever they occur in the recorded bodies and stream events, across event
// boundaries (policies/redact-stream.ts), and in an LLM call's recorded query string. Bodies are redacted whole, before the record
// truncates them to store.max_body_bytes.
import type { RE2JS } from 're2js';
import type { Exchange, ExchangeRecord, Payload } from '../core/exchange.js';
import { REDACTED as MASK } from '../core/headers.js';
import { parseJson } from '../core/json-body.js';
import type { RedactSpec } from './file.js';
import { maskMatches, redactEventStreamBody, redactStream } from './redact-stream.js';

function maskPath(value: unknown, path: readonly string[]): boolean {
  if (path.length === 0 || value === null || typeof value !== 'object') return false;
  const [head, ...rest] = path;
  const holder = value as Record<string, unknown>;
  if (Array.isArray(value) && head === '*') return value.map((item) => maskPath(item, rest)).some(Boolean);
  if (!(head! in holder)) return false;
  if (rest.length === 0) {
    holder[head!] = MASK;
    return true;
  }
  return maskPath(holder[head!], rest);
}

function header(payload: Payload, name: string): string {
  const value = payload.headers[name];
  return (Array.isArray(value) ? value[0] : value) ?? '';
}

function redactPayload(payload: Payload | null, fields: readonly string[][], patterns: readonly RE2JS[]): void {
  if (!payload?.body) return;
  const encoded = !['', 'identity'].includes(header(payload, 'content-encoding').toLowerCase());
  if (!encoded && header(payload, 'content-type').toLowerCase().startsWith('text/event-stream')) {
    // Fields name paths in a JSON body; a stream's events are redacted by pattern, as a stream.
    payload.body = redactEventStreamBody(payload.body, patterns, !payload.truncated);
    return;
  }
  const original = payload.body.toString('utf8');
  let text = original;
  if (fields.length > 0) {
    try {
      const json = parseJson(text);
      if (fields.map((path) => maskPath(json, path)).some(Boolean)) text = JSON.stringify(json);
    } catch {
      if (payload.truncated) {
        // Only part of the body was kept (it was larger than tapwire holds): where the fields
        // are cannot be known, so none of it is stored.
        payload.body = null;
        return;
      }
      // a whole body that is not JSON has no fields: only patterns apply
    }
  }
  for (const pattern of patterns) text = maskMatches(text, pattern);
  // Written back only when masked: a body that is not UTF-8 text keeps its exact bytes.
  if (text !== original) payload.body = Buffer.from(text);
}

/** True when two path segments name the same place: equal, or `*` (any list item) beside a list index. */
function sameSegment(a: string, b: string): boolean {
  return a === b || (a === '*' && /^\d+$/.test(b)) || (b === '*' && /^\d+$/.test(a));
}

/** True when path `outer` names `inner` or something that holds it (either may use `*` for any list item). */
function covers(outer: readonly string[], inner: readonly string[]): boolean {
  return outer.length <= inner.length && outer.every((key, i) => sameSegment(key, inner[i]!));
}

/**
 * The values transform rules set in the request body, as the record lists them (exchange.transform):
 * masked as the request body's fields and patterns are, so what the body hides does not show there.
 */
function redactTransform(exchange: Exchange, fields: readonly string[][], patterns: readonly RE2JS[]): void {
  if (!exchange.transform || (fields.length === 0 && patterns.length === 0)) return;
  let changes: unknown;
  try {
    changes = JSON.parse(exchange.transform);
  } catch {
    return;
  }
  if (!Array.isArray(changes)) return;
  for (const change of changes as Record<string, unknown>[]) {
    if (typeof change.set !== 'string') continue;
    const keys = change.set.split('.').slice(1);
    for (const field of fields) {
      for (const side of ['from', 'to'] as const) {
        if (!(side in change)) continue;
        if (covers(field, keys)) change[side] = MASK;
        else if (covers(keys, field)) maskPath(change[side], field.slice(keys.length));
      }
    }
  }
  let text = JSON.stringify(changes);
  for (const pattern of patterns) text = maskMatches(text, pattern);
  exchange.transform = text;
}

/** The query string an LLM call's `details` keep (for replay), as sent: patterns mask it as they mask bodies. */
function redactQuery(exchange: Exchange, patterns: readonly RE2JS[]): void {
  if (!exchange.details || patterns.length === 0) return;
  let details: unknown;
  try {
    details = JSON.parse(exchange.details);
  } catch {
    return;
  }
  if (details === null || typeof details !== 'object' || typeof (details as { query?: unknown }).query !== 'string') return;
  let query = (details as { query: string }).query;
  for (const pattern of patterns) query = maskMatches(query, pattern);
  exchange.details = JSON.stringify({ ...details, query });
}

/** Applies redact rules' specs to a record before it is written (and to an export's copy). */
export function redactRecord(record: ExchangeRecord, specs: readonly RedactSpec[]): void {
  const requestFields = specs.flatMap((s) => s.fields.filter((f) => f[0] === 'request').map((f) => f.slice(1)));
  const responseFields = specs.flatMap((s) => s.fields.filter((f) => f[0] === 'response').map((f) => f.slice(1)));
  const patterns = specs.flatMap((s) => s.patterns);
  redactPayload(record.request, requestFields, patterns);
  redactPayload(record.response, responseFields, patterns);
  redactTransform(record.exchange, requestFields, patterns);
  redactQuery(record.exchange, patterns);
  if (patterns.length > 0 && record.events.length > 0) {
    const datas = redactStream(
      record.events.map((e) => e.data),
      patterns,
    );
    record.events.forEach((event, i) => (event.data = datas[i]!));
  }
}

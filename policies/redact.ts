// Redact rules: masks fields and patterns in what is recorded (and so exported), never in
// what is forwarded. Body fields are JSON paths under the request or response body; patterns
// are replaced wherever they occur in the recorded bodies and stream events.
import type { RE2JS } from 're2js';
import type { ExchangeRecord, Payload } from '../sidecar/exchange.js';
import type { RedactSpec } from './file.js';
import { parseJson } from '../sidecar/json-body.js';

export const MASK = '[redacted]';

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

/** Every match of `pattern` in `text` replaced by the mask, in time linear in the text (RE2). */
function maskMatches(text: string, pattern: RE2JS): string {
  return pattern.matcher(text).replaceAll(MASK);
}

function redactPayload(payload: Payload | null, fields: readonly string[][], patterns: readonly RE2JS[]): void {
  if (!payload?.body) return;
  let text = payload.body.toString('utf8');
  if (fields.length > 0) {
    try {
      const json = parseJson(text);
      if (fields.map((path) => maskPath(json, path)).some(Boolean)) text = JSON.stringify(json);
    } catch {
      // not JSON: only patterns apply
    }
  }
  for (const pattern of patterns) text = maskMatches(text, pattern);
  payload.body = Buffer.from(text);
}

/** Applies redact rules' specs to a record before it is written. */
export function redactRecord(record: ExchangeRecord, specs: readonly RedactSpec[]): void {
  const requestFields = specs.flatMap((s) => s.fields.filter((f) => f[0] === 'request').map((f) => f.slice(1)));
  const responseFields = specs.flatMap((s) => s.fields.filter((f) => f[0] === 'response').map((f) => f.slice(1)));
  const patterns = specs.flatMap((s) => s.patterns);
  redactPayload(record.request, requestFields, patterns);
  redactPayload(record.response, responseFields, patterns);
  if (patterns.length > 0) {
    for (const event of record.events) for (const pattern of patterns) event.data = maskMatches(event.data, pattern);
  }
}

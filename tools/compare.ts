// The comparison `tapwire replay` prints for each replayed exchange: status, tokens and
// latency side by side, and a structural diff of the response, leaving out what changes on
// every call (ids, timestamps, creation times). A stream is compared the way its protocol's
// replay chooses: LLM streams by the text they generated (chunk boundaries differ between
// runs), other streams event by event; a body of JSON lines is such a stream.
import { streamText } from '../policies/stream-text.js';
import { firstDifference, valueAt, withoutPaths } from './canonical-json.js';

/** Object keys whose values change on every call, left out of the diff. */
export const VOLATILE_KEYS = [
  'id', 'created', 'created_at', 'createdAt', 'timestamp', 'system_fingerprint', 'messageId', 'taskId', 'contextId',
  'artifactId', 'request_id', 'response_id', 'mcp-session-id',
];

export interface Difference {
  path: string;
  before: string;
  after: string;
}

function shown(value: unknown): string {
  if (value === undefined) return '(absent)';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function withoutVolatile(value: unknown, keys: ReadonlySet<string>): unknown {
  if (Array.isArray(value)) return value.map((item) => withoutVolatile(item, keys));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>)
      .filter(([key]) => !keys.has(key))
      .map(([key, item]) => [key, withoutVolatile(item, keys)]),
  );
}


/** Up to `limit` differences between two JSON values, volatile keys and `ignored` paths left out. */
export function structuralDiff(before: unknown, after: unknown, ignored: readonly (readonly string[])[] = [], limit = 5): Difference[] {
  const keys = new Set(VOLATILE_KEYS);
  let a = withoutVolatile(withoutPaths(before, ignored), keys);
  const b = withoutVolatile(withoutPaths(after, ignored), keys);
  const out: Difference[] = [];
  // Each found difference is removed (set equal) and the search runs again, so the list is in document order.
  while (out.length < limit) {
    const path = firstDifference(a, b);
    if (path === null) break;
    out.push({ path: path || '(root)', before: shown(valueAt(a, path)), after: shown(valueAt(b, path)) });
    if (path === '') break;
    a = replaceAt(a, path, valueAt(b, path));
  }
  return out;
}

function replaceAt(value: unknown, path: string, replacement: unknown): unknown {
  const tokens = path.match(/[^.[\]]+/g) ?? [];
  const copy = structuredClone(value);
  let holder = copy as Record<string, unknown>;
  for (const token of tokens.slice(0, -1)) holder = holder[token] as Record<string, unknown>;
  const last = tokens[tokens.length - 1]!;
  if (replacement === undefined) {
    if (Array.isArray(holder)) holder.splice(Number(last), 1);
    else delete holder[last];
  } else holder[last] = replacement;
  return copy;
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** How a streamed response is compared: by a value read from its events. */
export type StreamComparison = (events: readonly { data: string }[]) => unknown;

/** Event by event, each event's data parsed (MCP, A2A and plain HTTP streams). */
export const eachEvent: StreamComparison = (events) => events.map((e) => parse(e.data));

/** By the text the stream generated (LLM streams: chunk boundaries differ between runs). */
export const generatedText: StreamComparison = (events) => ({ stream_text: streamText(events) });

/** A body of JSON lines (Ollama's streams) as events, one per line; null when it is not one. */
function jsonLines(text: string): { data: string }[] | null {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  if (lines.length < 2) return null;
  for (const line of lines) {
    try {
      JSON.parse(line);
    } catch {
      return null;
    }
  }
  return lines.map((data) => ({ data }));
}

/**
 * What a response is compared by: its JSON, or for a stream what `stream` reads from its
 * events (a body of JSON lines is a stream of them).
 */
export function comparable(body: Buffer | null, events: readonly { data: string }[] | null, stream: StreamComparison): unknown {
  if (events && events.length > 0) return stream(events);
  if (!body || body.length === 0) return null;
  const text = body.toString('utf8');
  const parsed = parse(text);
  if (parsed !== text) return parsed;
  const lines = jsonLines(text);
  return lines ? stream(lines) : text;
}

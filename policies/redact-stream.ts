// Redact patterns across the events of a stream. A streamed answer arrives in deltas, and a
// delta boundary can fall inside a secret ("AKIA" in one event, the rest in the next), so
// matching event by event stores it whole once the events are joined. Here each event's JSON
// string leaves are grouped into channels (the same path in every event, e.g. the text of
// choice 0), each channel's text is joined, matched once, and every match is masked in each
// piece that contributed characters to it. Then the patterns run on each event's text as a
// whole (names, numbers, escaped text). Linear in the stream's size: one parse and one walk
// per event, one RE2 pass per channel and pattern.
import type { RE2JS } from 're2js';
import { REDACTED as MASK } from '../core/headers.js';
import { parseJson } from '../core/json-body.js';
import { SseParser, type SseEvent } from '../core/sse.js';

/** Every match of `pattern` in `text` replaced by the mask, in time linear in the text (RE2). */
export function maskMatches(text: string, pattern: RE2JS): string {
  return pattern.matcher(text).replaceAll(MASK);
}

/** One string of one event: a JSON string leaf (its holder and key), or a whole event that is not JSON. */
interface Piece {
  event: number;
  holder: Record<string, unknown> | unknown[];
  key: string | number;
  text: string;
}

/**
 * Fields that say which of several parallel parts a delta belongs to (OpenAI's choice
 * `index`, Anthropic's content block `index`, the Responses API's output and content
 * indexes): part of the channel, so parallel parts are never joined into one text.
 */
const PART_FIELDS = ['index', 'output_index', 'content_index'] as const;

function partTag(holder: Record<string, unknown>): string {
  let tag = '';
  for (const field of PART_FIELDS) if (typeof holder[field] === 'number') tag += `#${field}=${holder[field]}`;
  return tag;
}

class Channels {
  readonly byPath = new Map<string, Piece[]>();

  add(path: string, piece: Piece): void {
    const pieces = this.byPath.get(path);
    if (pieces) pieces.push(piece);
    else this.byPath.set(path, [piece]);
  }

  /** Collects the string leaves of `value` (nesting is bounded by parseJson). */
  walk(value: unknown, path: string, event: number): void {
    if (Array.isArray(value)) {
      value.forEach((item, i) => {
        if (typeof item === 'string') this.add(`${path}[${i}]`, { event, holder: value, key: i, text: item });
        else this.walk(item, `${path}[${i}]`, event);
      });
    } else if (value !== null && typeof value === 'object') {
      const holder = value as Record<string, unknown>;
      const here = path + partTag(holder);
      for (const [key, item] of Object.entries(holder)) {
        if (typeof item === 'string') this.add(`${here}.${key}`, { event, holder, key, text: item });
        else this.walk(item, `${here}.${key}`, event);
      }
    }
  }
}

/** The [start, end) ranges any pattern matches in `text`, merged and in order. */
function matchedRanges(text: string, patterns: readonly RE2JS[]): Array<[number, number]> {
  const found: Array<[number, number]> = [];
  for (const pattern of patterns) {
    const matcher = pattern.matcher(text);
    while (matcher.find()) if (matcher.end() > matcher.start()) found.push([matcher.start(), matcher.end()]);
  }
  if (found.length === 0) return found;
  found.sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [found[0]!];
  for (const [start, end] of found.slice(1)) {
    const last = merged[merged.length - 1]!;
    if (start <= last[1]) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  return merged;
}

/**
 * Masks the ranges in the pieces whose joined text they index: each piece's covered part
 * becomes one mask. Adds the events whose pieces changed to `changed`.
 */
function maskPieces(pieces: readonly Piece[], ranges: ReadonlyArray<[number, number]>, changed: Set<number>): void {
  let r = 0;
  let offset = 0;
  for (const piece of pieces) {
    const start = offset;
    const end = offset + piece.text.length;
    offset = end;
    while (r < ranges.length && ranges[r]![1] <= start) r++;
    let out = '';
    let at = start;
    // Ranges are disjoint and ordered; one reaching past this piece is kept for the next.
    for (let i = r; i < ranges.length && ranges[i]![0] < end; i++) {
      const from = Math.max(ranges[i]![0], start);
      const to = Math.min(ranges[i]![1], end);
      if (to <= from) continue;
      out += piece.text.slice(at - start, from - start) + MASK;
      at = to;
    }
    if (at === start && out === '') continue;
    out += piece.text.slice(at - start);
    (piece.holder as Record<string | number, unknown>)[piece.key] = out;
    changed.add(piece.event);
  }
}

/**
 * The events' data with every pattern match masked, matches that span events included.
 * Unchanged events keep their exact text; a changed JSON event is written back compactly.
 */
export function redactStream(datas: readonly string[], patterns: readonly RE2JS[]): string[] {
  if (patterns.length === 0) return [...datas];
  const channels = new Channels();
  // Each event's value under a root holder, so a top-level string can be masked in place too.
  const roots: Array<{ value: unknown; json: boolean }> = datas.map((data, event) => {
    let root: { value: unknown; json: boolean };
    try {
      root = { value: parseJson(data), json: true };
    } catch {
      root = { value: data, json: false };
    }
    if (typeof root.value === 'string') channels.add(root.json ? '$' : '', { event, holder: root, key: 'value', text: root.value });
    else channels.walk(root.value, '$', event);
    return root;
  });
  const changed = new Set<number>();
  for (const pieces of channels.byPath.values()) {
    const ranges = matchedRanges(pieces.map((p) => p.text).join(''), patterns);
    if (ranges.length > 0) maskPieces(pieces, ranges, changed);
  }
  return datas.map((data, event) => {
    const root = roots[event]!;
    let text = !changed.has(event) ? data : root.json ? JSON.stringify(root.value) : (root.value as string);
    for (const pattern of patterns) text = maskMatches(text, pattern);
    return text;
  });
}

/** An event's raw text with its data lines replaced by `data`'s, every other line (and line ending) kept. */
function withData(raw: string, data: string): string {
  let out = '';
  let dataWritten = false;
  for (const [, line, ending] of raw.matchAll(/([^\r\n]*)(\r\n|\r|\n|$)/g)) {
    if (line === '' && ending === '') break;
    if (line === 'data' || line!.startsWith('data:')) {
      if (!dataWritten) out += data.split('\n').map((d) => `data: ${d}${ending}`).join('');
      dataWritten = true;
    } else out += line! + ending!;
  }
  return out;
}

/**
 * A recorded text/event-stream body with its events redacted as a stream. `complete` is
 * false when the body was cut: its unfinished last event is then dropped (it is incomplete
 * and cannot be read as one), else it is kept with the patterns applied to it as text.
 */
export function redactEventStreamBody(body: Buffer, patterns: readonly RE2JS[], complete: boolean): Buffer {
  if (patterns.length === 0) return body;
  const parser = new SseParser();
  const events: SseEvent[] = [...parser.push(body), ...parser.end()];
  const tail = parser.unterminated();
  const datas = redactStream(
    events.map((e) => e.data),
    patterns,
  );
  let changed = !complete && tail !== '';
  let text = '';
  events.forEach((event, i) => {
    if (datas[i] === event.data) text += event.raw;
    else {
      changed = true;
      text += withData(event.raw, datas[i]!);
    }
  });
  if (complete && tail !== '') {
    let masked = tail;
    for (const pattern of patterns) masked = maskMatches(masked, pattern);
    changed ||= masked !== tail;
    text += masked;
  }
  return changed ? Buffer.from(text) : body;
}

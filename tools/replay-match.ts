// Matching live requests to recorded ones, for `tapwire mock`. A request's key is a list of
// named parts (per protocol: provider, path, model, stream, body / method, params / method,
// parts); recordings with the same key are served in recorded order, the last one again once
// all were served. A request no recording matches gets the nearest recording (the one that
// agrees on the most leading parts) and the first part, down to the JSON path, that differs.
import { canonicalJson, firstDifference, valueAt, withoutPaths, type JsonPath } from './canonical-json.js';

export interface KeyPart {
  name: string;
  /** Compared as canonical JSON. */
  value: unknown;
}

export interface Miss {
  /** The first part that differs from the nearest recording, e.g. "model" or "body.messages[0].content". */
  field: string;
  /** What the request had there, and what the nearest recording had (canonical JSON, shortened). */
  request: string;
  recorded: string;
  /** The id of the nearest recording, or null when the route has none. */
  nearest: string | null;
  message: string;
}

interface Entry<T> {
  id: string;
  key: readonly KeyPart[];
  texts: string[];
  items: T[];
  served: number;
}

function short(text: string | undefined): string {
  if (text === undefined) return '(absent)';
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}


export class RecordingPool<T> {
  private readonly entries = new Map<string, Entry<T>>();

  /** Adds a recording (`id`: its exchange id) under its key; call in recorded order. */
  add(id: string, key: readonly KeyPart[], item: T): void {
    const texts = key.map((part) => canonicalJson(part.value));
    const joined = texts.join('\u0000');
    const entry = this.entries.get(joined);
    if (entry) entry.items.push(item);
    else this.entries.set(joined, { id, key, texts, items: [item], served: 0 });
  }

  get size(): number {
    return this.entries.size;
  }

  /** The next recording for this key, or what kept the nearest one from matching. */
  take(key: readonly KeyPart[]): { hit: T } | { miss: Miss } {
    const texts = key.map((part) => canonicalJson(part.value));
    const entry = this.entries.get(texts.join('\u0000'));
    if (entry) {
      const item = entry.items[Math.min(entry.served, entry.items.length - 1)]!;
      entry.served++;
      return { hit: item };
    }
    return { miss: this.nearestMiss(key, texts) };
  }

  private nearestMiss(key: readonly KeyPart[], texts: string[]): Miss {
    let best: { entry: Entry<T>; leading: number; equal: number } | null = null;
    for (const entry of this.entries.values()) {
      let leading = 0;
      while (leading < texts.length && texts[leading] === entry.texts[leading]) leading++;
      const equal = texts.filter((t, i) => t === entry.texts[i]).length;
      if (!best || leading > best.leading || (leading === best.leading && equal > best.equal)) best = { entry, leading, equal };
    }
    if (!best) {
      return { field: key[0]?.name ?? 'route', request: '', recorded: '', nearest: null, message: 'no recording on this route' };
    }
    const part = key[best.leading]!;
    const recordedPart = best.entry.key[best.leading]!;
    const inner = firstDifference(part.value, recordedPart.value);
    const field = inner ? `${part.name}.${inner}` : part.name;
    const request = short(canonicalJson(inner ? valueAt(part.value, inner) : part.value));
    const recorded = short(canonicalJson(inner ? valueAt(recordedPart.value, inner) : recordedPart.value));
    return {
      field,
      request,
      recorded,
      nearest: best.entry.id,
      message: `no recording matches this request: ${field} differs from the nearest recording ${best.entry.id} (request: ${request}; recorded: ${recorded})`,
    };
  }
}

/** LLM request body fields left out of the match by default: they change per run or per user. */
export const DEFAULT_LLM_IGNORED = ['user', 'metadata'];

/** The key of an LLM call. The model and stream flag are their own parts, so a miss names them. */
export function llmKey(provider: string, path: string, body: unknown, ignored: readonly JsonPath[]): KeyPart[] {
  const b = body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  return [
    { name: 'provider', value: provider },
    { name: 'path', value: path },
    { name: 'model', value: b.model ?? null },
    { name: 'stream', value: b.stream === true },
    { name: 'body', value: withoutPaths(body ?? null, [...ignored, ['model'], ['stream']]) },
  ];
}

/** MCP: the method, and the params without `_meta` (progress tokens and trace context change per call); initialize by method alone. */
export function mcpKey(method: string, params: unknown): KeyPart[] {
  if (method === 'initialize') return [{ name: 'method', value: method }];
  return [
    { name: 'method', value: method },
    { name: 'params', value: withoutPaths(params ?? {}, [['_meta']]) },
  ];
}

/**
 * A2A: the protocol version, the (v1.0) method, and for messages their parts; for other
 * calls their params (task ids included: the mock hands out the recorded ones).
 */
export function a2aKey(version: string, method: string, params: unknown): KeyPart[] {
  const p = params !== null && typeof params === 'object' ? (params as Record<string, unknown>) : {};
  const message = (p.message ?? p.request) as Record<string, unknown> | undefined;
  const key: KeyPart[] = [
    { name: 'version', value: version },
    { name: 'method', value: method },
  ];
  if (message && typeof message === 'object') key.push({ name: 'message.parts', value: message.parts ?? [] });
  else if (method !== 'GetAgentCard') key.push({ name: 'params', value: withoutPaths(params ?? {}, [['tenant']]) });
  return key;
}


// A body's JSON, parsed at most once: the policy gate, the CEL context and the protocol
// observer all read the same request (and response) Buffer, and share one parse of it.
// Every JSON tapwire reads off the wire goes through parseJson, which refuses documents
// nested deeper than anything it interprets. num, str and obj read a field of a parsed value
// as the type the reader expects, or null.

export type JsonBody = { ok: true; value: unknown } | { ok: false; reason: string };

const parsed = new WeakMap<Buffer, JsonBody>();

/**
 * The deepest nesting tapwire reads into. JSON.parse takes any depth, but the code that walks
 * the value (the CEL context, token counting, JSON.stringify itself) recurses: a body nested
 * a hundred thousand levels deep would exhaust the stack. A deeper document is forwarded
 * untouched and recorded, but read as "not JSON".
 */
export const MAX_JSON_DEPTH = 512;

/** True when `text` nests arrays and objects deeper than `limit` (strings skipped), in one pass. */
export function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** JSON.parse for what agents and upstreams send: throws a SyntaxError for JSON nested deeper than MAX_JSON_DEPTH. */
export function parseJson(text: string): unknown {
  if (nestsDeeperThan(text, MAX_JSON_DEPTH)) throw new SyntaxError(`nested deeper than ${MAX_JSON_DEPTH} levels`);
  return JSON.parse(text) as unknown;
}

export function jsonBody(body: Buffer): JsonBody {
  let result = parsed.get(body);
  if (!result) {
    try {
      result = { ok: true, value: parseJson(body.toString('utf8')) };
    } catch (err) {
      result = { ok: false, reason: `invalid JSON: ${(err as Error).message}` };
    }
    parsed.set(body, result);
  }
  return result;
}

/** The body's JSON value, or undefined when there is no body or it is not JSON. */
export function jsonValue(body: Buffer | null | undefined): unknown {
  if (!body || body.length === 0) return undefined;
  const result = jsonBody(body);
  return result.ok ? result.value : undefined;
}

/** A parsed JSON value as a finite number, or null. */
export function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** A parsed JSON value as a string, or null. */
export function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/** A parsed JSON value as an object (not an array), or null. */
export function obj(value: unknown): Record<string, unknown> | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

// Canonical JSON for matching recorded requests against live ones: the value with chosen
// paths removed (fields that change on every call, such as `user` or `metadata`), written
// with sorted keys (RFC 8785, the serialiser agent-card signatures already use), so two
// bodies that differ only in key order or in an ignored field compare equal.
import { jcs } from '../protocols/a2a/canonical.js';

/** A dotted path into a JSON value; `*` stands for every element of an array or member of an object. */
export type JsonPath = readonly string[];

export function parsePath(text: string): JsonPath {
  return text.split('.').filter((segment) => segment !== '');
}

function without(value: unknown, path: JsonPath): unknown {
  if (path.length === 0 || value === null || typeof value !== 'object') return value;
  const [head, ...rest] = path as [string, ...string[]];
  if (Array.isArray(value)) return head === '*' ? value.map((item) => without(item, rest)) : value;
  const out: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(value as Record<string, unknown>)) {
    if (head !== '*' && key !== head) out[key] = member;
    else if (rest.length > 0) out[key] = without(member, rest);
  }
  return out;
}

/** `value` with every path in `ignored` removed (the input is not changed). */
export function withoutPaths(value: unknown, ignored: readonly JsonPath[]): unknown {
  return ignored.reduce<unknown>((v, path) => without(v, path), value);
}

/** The canonical text of `value` without the ignored paths. */
export function canonicalJson(value: unknown, ignored: readonly JsonPath[] = []): string {
  return jcs(withoutPaths(value, ignored));
}

/**
 * The first place where two JSON values differ, as a path such as `messages[0].content`
 * ("" when they differ at the root), or null when they are equal.
 */
export function firstDifference(a: unknown, b: unknown, at = ''): string | null {
  if (a === b) return null;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object' || Array.isArray(a) !== Array.isArray(b)) {
    return jcs(a) === jcs(b) ? null : at;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const found = firstDifference(a[i], b[i], `${at}[${i}]`);
      if (found !== null) return found;
    }
    return null;
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  for (const key of [...new Set([...Object.keys(ra), ...Object.keys(rb)])].sort()) {
    const found = firstDifference(ra[key], rb[key], at ? `${at}.${key}` : key);
    if (found !== null) return found;
  }
  return null;
}

/** The value at a path as firstDifference writes it ("a.b[2].c"), or undefined. */
export function valueAt(value: unknown, path: string): unknown {
  let current = value;
  for (const token of path.match(/[^.[\]]+/g) ?? []) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[token];
  }
  return current;
}

/** A copy of `value` in which every string that is a key of `replacements` is replaced (ids generated anew on another run). */
export function replaceStrings(value: unknown, replacements: ReadonlyMap<string, string>): unknown {
  if (replacements.size === 0) return value;
  if (typeof value === 'string') return replacements.get(value) ?? value;
  if (Array.isArray(value)) return value.map((item) => replaceStrings(item, replacements));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, replaceStrings(v, replacements)]));
}

// JSON as CEL values, and the typed reads of a JSON body that the CEL context and each
// protocol's variables (protocols/<name>/context.ts) are built from. Plain JavaScript values
// only, so a protocol loads no CEL for them (issue 23).
import { parseJson as parseWireJson } from '../core/json-body.js';

export type CelJson = bigint | number | string | boolean | null | CelJson[] | Map<string, CelJson>;

/** JSON as CEL values: objects as Maps, whole numbers stay doubles as in JSON (CEL compares 3 == 3.0). */
export function toCel(value: unknown): CelJson {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) return value.map(toCel);
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'bigint':
      return value;
    case 'object':
      return new Map(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, toCel(v)]));
    default:
      return null;
  }
}

/** JSON text parsed as tapwire reads the wire, or null when it is empty or not JSON. */
export function parseJson(body: string): unknown {
  if (body === '') return null;
  try {
    return parseWireJson(body);
  } catch {
    return null;
  }
}

export type Json = Record<string, unknown>;
/** A CEL string from a JSON value: strings as they are, numbers written out, anything else "". */
export function str(value: unknown): string {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '';
}
/** A CEL int from a number (truncated), 0 when there is none. */
export function int(value: number | null | undefined): bigint {
  return typeof value === 'number' && Number.isFinite(value) ? BigInt(Math.trunc(value)) : 0n;
}

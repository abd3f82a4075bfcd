// A tool call's arguments as the HTTP request of its operation: path templating, query,
// header and cookie parameters serialized by their `style` and `explode` (the OpenAPI style
// table, RFC 6570 for path styles), and the body as JSON, a form or text. Pure: no I/O.
import type { Json } from './document.js';
import type { Operation, Parameter } from './operations.js';

export interface HttpRequest {
  method: string;
  /** The path and query, after the upstream's base path. */
  path: string;
  headers: Record<string, string>;
  body: string | null;
}

/** Arguments a request cannot be made from: the message says which and why. */
export class ArgumentError extends Error {}

type Value = string | number | boolean | null | Value[] | { [key: string]: Value };

/** The request for `args` (the tool call's arguments). */
export function buildRequest(op: Operation, args: Json): HttpRequest {
  let path = op.path;
  const query: string[] = [];
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (const p of op.parameters) {
    const value = args[p.argument] as Value | undefined;
    if (value === undefined) {
      if (p.required) throw new ArgumentError(`missing argument ${p.argument} (the ${p.in} parameter ${p.name})`);
      continue;
    }
    const v: Value = p.json ? JSON.stringify(value) : value;
    if (p.in === 'path') path = path.split(`{${p.name}}`).join(pathValue(p, v));
    else if (p.in === 'query') query.push(...queryPairs(p, v));
    else if (p.in === 'header') headers[p.name.toLowerCase()] = headerValue(p, v);
    else cookies.push(...cookiePairs(p, v));
  }
  if (cookies.length > 0) headers.cookie = cookies.join('; ');
  let body: string | null = null;
  const given = args.body as Value | undefined;
  if (op.body && given !== undefined) {
    headers['content-type'] = op.body.mediaType;
    body = encodeBody(op.body.mediaType, given);
  } else if (op.body?.required) throw new ArgumentError('missing argument body (the request body)');
  return { method: op.method, path: query.length > 0 ? `${path}?${query.join('&')}` : path, headers, body };
}

function scalar(value: Value): string {
  if (value === null) return '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

function entries(value: { [key: string]: Value }): [string, string][] {
  return Object.entries(value).map(([k, v]) => [k, scalar(v)]);
}

/** Percent-encodes for a path segment or query value; allowReserved keeps RFC 3986 reserved characters as they are. */
function encode(text: string, allowReserved = false): string {
  const encoded = encodeURIComponent(text);
  return allowReserved ? encoded.replace(/%(3A|2F|3F|23|5B|5D|40|21|24|26|27|28|29|2A|2B|2C|3B|3D)/gi, (m) => decodeURIComponent(m)) : encoded;
}

/** A path parameter: simple (`a,b`), label (`.a,b` / `.a.b`), matrix (`;id=a,b` / `;id=a;id=b`). */
function pathValue(p: Parameter, value: Value): string {
  const e = (text: string): string => encode(text);
  const { name, explode, style } = p;
  if (style === 'label' || style === 'matrix') {
    const lead = style === 'label' ? '.' : ';';
    if (Array.isArray(value)) {
      if (style === 'label') return explode ? value.map((v) => `.${e(scalar(v))}`).join('') : `.${value.map((v) => e(scalar(v))).join(',')}`;
      return explode ? value.map((v) => `;${name}=${e(scalar(v))}`).join('') : `;${name}=${value.map((v) => e(scalar(v))).join(',')}`;
    }
    if (value !== null && typeof value === 'object') {
      const pairs = entries(value);
      if (explode) return pairs.map(([k, v]) => `${lead}${e(k)}=${e(v)}`).join('');
      const flat = pairs.flatMap(([k, v]) => [e(k), e(v)]).join(',');
      return style === 'label' ? `.${flat}` : `;${name}=${flat}`;
    }
    return style === 'label' ? `.${e(scalar(value))}` : `;${name}=${e(scalar(value))}`;
  }
  if (style !== 'simple') throw new ArgumentError(`the path parameter ${name} has style ${style}, which a path cannot carry`);
  return simple(value, explode, e);
}

function simple(value: Value, explode: boolean, e: (text: string) => string): string {
  if (Array.isArray(value)) return value.map((v) => e(scalar(v))).join(',');
  if (value !== null && typeof value === 'object') return entries(value).map(([k, v]) => (explode ? `${e(k)}=${e(v)}` : `${e(k)},${e(v)}`)).join(',');
  return e(scalar(value));
}

/** A query parameter as `name=value` pairs: form, spaceDelimited, pipeDelimited, deepObject. */
function queryPairs(p: Parameter, value: Value): string[] {
  const e = (text: string): string => encode(text, p.allowReserved);
  const name = encode(p.name);
  const { style, explode } = p;
  if (style === 'deepObject') {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ArgumentError(`argument ${p.argument} must be an object (the query parameter ${p.name} has style deepObject)`);
    return entries(value).map(([k, v]) => `${name}%5B${encode(k)}%5D=${e(v)}`);
  }
  const delimiter = style === 'spaceDelimited' ? '%20' : style === 'pipeDelimited' ? '%7C' : ',';
  if (style !== 'form' && style !== 'spaceDelimited' && style !== 'pipeDelimited') throw new ArgumentError(`the query parameter ${p.name} has style ${style}, which a query cannot carry`);
  if (Array.isArray(value)) return explode ? value.map((v) => `${name}=${e(scalar(v))}`) : [`${name}=${value.map((v) => e(scalar(v))).join(delimiter)}`];
  if (value !== null && typeof value === 'object') {
    const pairs = entries(value);
    return explode ? pairs.map(([k, v]) => `${encode(k)}=${e(v)}`) : [`${name}=${pairs.flatMap(([k, v]) => [e(k), e(v)]).join(delimiter)}`];
  }
  return [`${name}=${e(scalar(value))}`];
}

/** A header parameter: style simple, never percent-encoded; a value that would end the header line is refused. */
function headerValue(p: Parameter, value: Value): string {
  const text = simple(value, p.explode, (t) => t);
  if (/[\r\n\0]/.test(text)) throw new ArgumentError(`argument ${p.argument} (the header ${p.name}) cannot hold a line break`);
  return text;
}

/** A cookie parameter (style form): `name=a,b`, or exploded `name=a; name=b`; values percent-encoded. */
function cookiePairs(p: Parameter, value: Value): string[] {
  const e = (text: string): string => encode(text);
  if (Array.isArray(value)) return p.explode ? value.map((v) => `${p.name}=${e(scalar(v))}`) : [`${p.name}=${value.map((v) => e(scalar(v))).join(',')}`];
  if (value !== null && typeof value === 'object') {
    const pairs = entries(value);
    return p.explode ? pairs.map(([k, v]) => `${k}=${e(v)}`) : [`${p.name}=${pairs.flatMap(([k, v]) => [e(k), e(v)]).join(',')}`];
  }
  return [`${p.name}=${e(scalar(value))}`];
}

function encodeBody(mediaType: string, value: Value): string {
  if (/json$/i.test(mediaType)) return JSON.stringify(value);
  if (/x-www-form-urlencoded$/i.test(mediaType)) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ArgumentError('argument body must be an object (the request body is a form)');
    return entries(value)
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
      .join('&');
  }
  return scalar(value);
}

// An openapi route's OpenAPI document, read once when the sidecar starts: a file or an
// http(s) URL, YAML or JSON, OpenAPI 3.0 or 3.1, validated and its $refs resolved by
// @readme/openapi-parser. A document that does not parse or validate stops the start with a
// ConfigError naming file:line:col and the JSON pointer of each problem.
import { readFile } from 'node:fs/promises';
import { dereference, validate } from '@readme/openapi-parser';
import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, visit, type Document } from 'yaml';
import { ConfigError } from '../../config/config.js';

export type Json = Record<string, unknown>;

/** A validated document with every $ref resolved (a circular one is left as its $ref). */
export interface OpenApiDocument {
  api: Json;
  /** Where it was read from (a file path or URL): relative server URLs resolve against it. */
  location: string;
}

const URL_LOCATION = /^https?:\/\//i;

/** Reads and validates the document at `location`; `timeoutMs` bounds fetching it (and what it references). */
export async function loadDocument(location: string, timeoutMs: number): Promise<OpenApiDocument> {
  const text = await readText(location, timeoutMs);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
  const at = (offset: number): string => {
    const pos = lines.linePos(offset);
    return `${location}:${pos.line}:${pos.col}`;
  };
  if (doc.errors.length > 0) {
    throw new ConfigError(`invalid OpenAPI document\n${doc.errors.map((e) => `${at(e.pos[0])}: ${e.message.split('\n')[0]}`).join('\n')}`);
  }
  const options = { timeoutMs, resolve: { http: { timeout: timeoutMs } } };
  // A file is given to the parser by its path (its relative $refs resolve next to it). A
  // document from a URL, tapwire has read: the parser gets its content, since it fetches
  // no internal address itself (a guard against documents that name one), while the
  // route's own spec URL is the operator's choice, internal or not.
  const source = (): Parameters<typeof validate>[0] => (URL_LOCATION.test(location) ? (doc.toJS({ maxAliasCount: 100 }) as Parameters<typeof validate>[0]) : location);
  // The version first: the parser refuses a 3.2 document in its own words.
  const version = doc.get('openapi');
  if (typeof version !== 'string' || !/^3\.[01]\./.test(version)) {
    const found = typeof version === 'string' ? `OpenAPI ${version}` : typeof doc.get('swagger') === 'string' ? `Swagger ${String(doc.get('swagger'))}` : 'no openapi version';
    throw new ConfigError(`invalid OpenAPI document\n${location}: tapwire reads OpenAPI 3.0 and 3.1 documents; this one has ${found}`);
  }
  let result;
  try {
    result = await validate(source(), options);
  } catch (err) {
    throw new ConfigError(`invalid OpenAPI document\n${location}: ${firstLine(err)}`);
  }
  if (!result.valid) {
    const rendered = await renderedLines(source(), options);
    const problems = result.errors.map((e) => locate(e.message, rendered, doc, at, location));
    throw new ConfigError(`invalid OpenAPI document\n${problems.join('\n')}`);
  }
  const api = (await dereference(source(), { ...options, dereference: { circular: 'ignore' } })) as unknown as Json;
  return { api, location };
}

async function readText(location: string, timeoutMs: number): Promise<string> {
  try {
    if (!URL_LOCATION.test(location)) return await readFile(location, 'utf8');
    const response = await fetch(location, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return await response.text();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(`cannot read the OpenAPI document ${location}: ${code ?? firstLine(err)}`);
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!.trim();
}

/**
 * The validator shows each problem in a code frame of the document as JSON (two-space
 * indent, $refs resolved), its line marked with ">". The JSON pointer of every line of that
 * rendering, to turn the marked line back into a place in the file.
 */
async function renderedLines(source: Parameters<typeof validate>[0], options: object): Promise<{ text: string; pointer: string }[]> {
  const api = await dereference(source, { ...options, dereference: { circular: 'ignore' } }).catch(() => null);
  if (!api) return [];
  const lines: { text: string; pointer: string }[] = [];
  const walk = (value: unknown, pointer: string, prefix: string, indent: string, last: boolean): void => {
    const comma = last ? '' : ',';
    const entries = Array.isArray(value)
      ? value.map((v, i) => [String(i), v, ''] as const)
      : value !== null && typeof value === 'object'
        ? Object.entries(value).filter(([, v]) => v !== undefined && typeof v !== 'function').map(([k, v]) => [k, v, `${JSON.stringify(k)}: `] as const)
        : null;
    if (entries === null || entries.length === 0) {
      lines.push({ text: `${indent}${prefix}${JSON.stringify(value) ?? 'null'}${comma}`, pointer });
      return;
    }
    const [open, close] = Array.isArray(value) ? ['[', ']'] : ['{', '}'];
    lines.push({ text: `${indent}${prefix}${open}`, pointer });
    entries.forEach(([key, v, keyPrefix], i) => walk(v, `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`, keyPrefix, `${indent}  `, i === entries.length - 1));
    lines.push({ text: `${indent}${close}${comma}`, pointer });
  };
  walk(api, '', '', '', true);
  return lines;
}

/** One validation problem as `file:line:col: /json/pointer: message` (as much of it as can be told). */
function locate(message: string, rendered: { text: string; pointer: string }[], doc: Document, at: (offset: number) => string, location: string): string {
  const [first = '', ...frame] = message.split('\n');
  const what = first.replace(/^[A-Z_]+ /, '').trim();
  const marked = frame.map((line) => /^>\s*(\d+) \| (.*)$/.exec(line)).find((m) => m !== null);
  const line = marked ? rendered[Number(marked[1]) - 1] : undefined;
  // Only a line whose text is the one the validator showed: else the renderings differ and the pointer would mislead.
  if (line && marked && line.text.trimEnd() === marked[2]!.trimEnd()) {
    const offset = sourceOffset(doc, line.pointer);
    return `${offset === null ? location : at(offset)}: ${line.pointer || '/'}: ${what}`;
  }
  const missing = /Missing \$ref pointer "([^"]+)"/.exec(first);
  const offset = missing ? scalarOffset(doc, missing[1]!) : null;
  return `${offset === null ? location : at(offset)}: ${what}`;
}

/**
 * Where the deepest node on `pointer` that the file itself holds is written (a map entry:
 * its key); a $ref it resolves through ends the walk.
 */
function sourceOffset(doc: Document, pointer: string): number | null {
  const path = pointer.split('/').slice(1).map((key) => key.replace(/~1/g, '/').replace(/~0/g, '~'));
  let node: unknown = doc.contents;
  let offset: number | null = isNode(node) && node.range ? node.range[0] : null;
  for (const key of path) {
    if (isMap(node)) {
      if (node.has('$ref')) break;
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === key);
      if (!pair || !isScalar(pair.key) || !pair.key.range) break;
      offset = pair.key.range[0];
      node = pair.value;
    } else if (isSeq(node)) {
      const item: unknown = node.items[Number(key)];
      if (!isNode(item) || !item.range) break;
      offset = item.range[0];
      node = item;
    } else break;
  }
  return offset;
}

/** Where a string value (a $ref that points nowhere) is first written. */
function scalarOffset(doc: Document, value: string): number | null {
  let offset: number | null = null;
  visit(doc, {
    Scalar(_key, node) {
      if (offset === null && isScalar(node) && node.value === value && node.range) {
        offset = node.range[0];
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return offset;
}

// An OpenAPI document's operations as MCP tools: one tool per operation (those the route's
// include/exclude select), named from its operationId (else from its method and path),
// described by its summary and description, with an inputSchema of its path, query, header
// and cookie parameters and its request body, and an outputSchema from its 2xx response's
// JSON schema. Each tool keeps what turning a call into an HTTP request needs.
import { ConfigError, type OperationSelection } from '../../config/config.js';
import type { Json } from './document.js';

export type ParameterLocation = 'path' | 'query' | 'header' | 'cookie';

/** A parameter of an operation, with its serialization settled (the spec's defaults applied). */
export interface Parameter {
  name: string;
  in: ParameterLocation;
  /** Its property in the tool's arguments: its name, or `<in>_<name>` when another parameter (or `body`) has that name. */
  argument: string;
  required: boolean;
  style: string;
  explode: boolean;
  allowReserved: boolean;
  /** Sent as JSON text (a parameter described by `content` rather than `schema`). */
  json: boolean;
}

/** How the tool's `body` argument is sent. */
export interface RequestBody {
  mediaType: string;
  required: boolean;
}

export interface Tool {
  name: string;
  description: string;
  inputSchema: Json;
  outputSchema?: Json;
}

export interface Operation {
  tool: Tool;
  method: string;
  /** The path template as the document writes it: `/pets/{id}`. */
  path: string;
  operationId: string | null;
  tags: string[];
  parameters: Parameter[];
  body: RequestBody | null;
  /** The 2xx JSON schema is not an object: the answer is `structuredContent.result`. */
  wrapsOutput: boolean;
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
const LOCATIONS: readonly string[] = ['path', 'query', 'header', 'cookie'];
/** The media types a request body can be sent as, best first. */
const BODY_TYPES = [/^application\/json$/i, /^application\/[\w.+-]+\+json$/i, /^application\/x-www-form-urlencoded$/i, /^text\/plain$/i];
/** Tool names as LLM providers accept them (OpenAI: ^[a-zA-Z0-9_-]{1,64}$), a subset of what MCP allows. */
const NAME_LENGTH = 64;
const BODY_ARGUMENT = 'body';

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** What an operation left out, and why (logged at start). */
export interface Skipped {
  operation: string;
  reason: string;
}

/**
 * The tools of `api`, in document order, with the operations left out because their request
 * body has no media type tapwire can send. `include`/`exclude` name operations (by
 * operationId or tool name), tags, or paths; a name that matches nothing is a ConfigError.
 */
export function operationsOf(api: Json, route: string, include?: OperationSelection, exclude?: OperationSelection): { operations: Operation[]; skipped: Skipped[] } {
  const all: Operation[] = [];
  const skipped: Skipped[] = [];
  const used = new Set<string>();
  const paths = isObject(api.paths) ? api.paths : {};
  for (const [path, item] of Object.entries(paths)) {
    if (!isObject(item)) continue;
    const shared = Array.isArray(item.parameters) ? item.parameters.filter(isObject) : [];
    for (const method of METHODS) {
      const op = item[method];
      if (!isObject(op)) continue;
      const operationId = typeof op.operationId === 'string' ? op.operationId : null;
      const name = uniqueName(toolName(operationId ?? `${method} ${path}`), used);
      const body = requestBody(op.requestBody);
      if (body === 'unsupported') {
        skipped.push({ operation: operationId ?? `${method.toUpperCase()} ${path}`, reason: `its request body has no media type tapwire sends (JSON, form or text): ${Object.keys((op.requestBody as Json).content as Json).join(', ')}` });
        continue;
      }
      all.push(operation(name, method, path, operationId, op, [...shared], body));
    }
  }
  checkSelection(all, route, 'include', include);
  checkSelection(all, route, 'exclude', exclude);
  const operations = all.filter((op) => (!include || selects(include, op)) && !(exclude && selects(exclude, op)));
  return { operations, skipped };
}

/** A valid, stable tool name: the characters providers refuse become "_", cut to 64. */
function toolName(raw: string): string {
  const name = raw
    .replace(/[{}]/g, '')
    .replace(/[^A-Za-z0-9_-]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, NAME_LENGTH);
  return name || 'operation';
}

function uniqueName(name: string, used: Set<string>): string {
  let unique = name;
  for (let n = 2; used.has(unique); n++) unique = `${name.slice(0, NAME_LENGTH - String(n).length - 1)}_${n}`;
  used.add(unique);
  return unique;
}

function requestBody(value: unknown): RequestBody | null | 'unsupported' {
  if (!isObject(value) || !isObject(value.content)) return null;
  const types = Object.keys(value.content);
  for (const wanted of BODY_TYPES) {
    const mediaType = types.find((t) => wanted.test(t));
    if (mediaType) return { mediaType, required: value.required === true };
  }
  return types.length === 0 ? null : 'unsupported';
}

function operation(name: string, method: string, path: string, operationId: string | null, op: Json, shared: Json[], body: RequestBody | null): Operation {
  // An operation's own parameter replaces a path-level one of the same name and location.
  const own = Array.isArray(op.parameters) ? op.parameters.filter(isObject) : [];
  const declared = [...shared.filter((s) => !own.some((o) => o.name === s.name && o.in === s.in)), ...own].filter(
    (p) => typeof p.name === 'string' && typeof p.in === 'string' && LOCATIONS.includes(p.in),
  );
  const taken = new Set<string>(body ? [BODY_ARGUMENT] : []);
  const properties: Json = {};
  const required: string[] = [];
  const parameters: Parameter[] = declared.map((p) => {
    const location = p.in as ParameterLocation;
    const argument = taken.has(p.name as string) ? `${location}_${p.name as string}` : (p.name as string);
    taken.add(argument);
    const style = typeof p.style === 'string' ? p.style : location === 'query' || location === 'cookie' ? 'form' : 'simple';
    const contentSchema = isObject(p.content) ? Object.values(p.content).find(isObject)?.schema : undefined;
    const schema = isObject(p.schema) ? p.schema : isObject(contentSchema) ? contentSchema : {};
    properties[argument] = withDescription(schema, p.description);
    const isRequired = location === 'path' || p.required === true;
    if (isRequired) required.push(argument);
    return {
      name: p.name as string,
      in: location,
      argument,
      required: isRequired,
      style,
      explode: typeof p.explode === 'boolean' ? p.explode : style === 'form',
      allowReserved: p.allowReserved === true,
      json: !isObject(p.schema) && isObject(p.content),
    };
  });
  if (body) {
    const content = (op.requestBody as Json).content as Json;
    const media = content[body.mediaType];
    properties[BODY_ARGUMENT] = withDescription(isObject(media) && isObject(media.schema) ? media.schema : {}, (op.requestBody as Json).description);
    if (body.required) required.push(BODY_ARGUMENT);
  }
  const inputSchema: Json = { type: 'object', properties, ...(required.length > 0 ? { required } : {}) };
  const output = successSchema(op.responses);
  const wrapsOutput = output !== null && !objectLike(output);
  const tool: Tool = {
    name,
    description: [op.summary, op.description].filter((t): t is string => typeof t === 'string' && t.trim() !== '').join('\n\n') || `${method.toUpperCase()} ${path}`,
    inputSchema,
    ...(output === null ? {} : { outputSchema: wrapsOutput ? { type: 'object', properties: { result: output }, required: ['result'] } : { type: 'object', ...output } }),
  };
  const tags = Array.isArray(op.tags) ? op.tags.filter((t): t is string => typeof t === 'string') : [];
  return { tool, method: method.toUpperCase(), path, operationId, tags, parameters, body, wrapsOutput };
}

function withDescription(schema: Json, description: unknown): Json {
  return typeof description === 'string' && schema.description === undefined ? { ...schema, description } : schema;
}

/** The JSON schema of the first 2xx response that has one (200 before 201, 2XX last). */
function successSchema(responses: unknown): Json | null {
  if (!isObject(responses)) return null;
  const codes = Object.keys(responses)
    .filter((code) => /^2(\d\d|XX)$/i.test(code))
    .sort();
  for (const code of codes) {
    const response = responses[code];
    const content = isObject(response) && isObject(response.content) ? response.content : {};
    const json = Object.entries(content).find(([type]) => /^application\/(json|[\w.+-]+\+json)$/i.test(type))?.[1];
    if (isObject(json) && isObject(json.schema)) return json.schema;
  }
  return null;
}

/** True when every value the schema accepts is a JSON object (so it can be structuredContent as it is). */
function objectLike(schema: Json): boolean {
  if (schema.type === 'object') return true;
  if (schema.type !== undefined) return false;
  if (Array.isArray(schema.allOf) && schema.allOf.some((s) => isObject(s) && objectLike(s))) return true;
  for (const key of ['oneOf', 'anyOf'] as const) {
    const options = schema[key];
    if (Array.isArray(options) && options.length > 0) return options.every((s) => isObject(s) && objectLike(s));
  }
  return isObject(schema.properties);
}

/** True when `selection` names the operation: its operationId or tool name, one of its tags, or its path. */
function selects(selection: OperationSelection, op: Operation): boolean {
  return (
    (selection.operations ?? []).some((name) => name === op.operationId || name === op.tool.name) ||
    (selection.tags ?? []).some((tag) => op.tags.includes(tag)) ||
    (selection.paths ?? []).some((path) => (path.endsWith('*') ? op.path.startsWith(path.slice(0, -1)) : op.path === path))
  );
}

/** A name in include/exclude that matches no operation is a mistake: said at start, with what there is. */
function checkSelection(all: Operation[], route: string, field: 'include' | 'exclude', selection: OperationSelection | undefined): void {
  if (!selection) return;
  const problems: string[] = [];
  (selection.operations ?? []).forEach((name, i) => {
    if (!all.some((op) => selects({ operations: [name] }, op))) problems.push(`routes.${route}.${field}.operations[${i}]: no operation ${name}; operations: ${all.map((op) => op.operationId ?? op.tool.name).join(', ')}`);
  });
  (selection.tags ?? []).forEach((tag, i) => {
    if (!all.some((op) => op.tags.includes(tag))) problems.push(`routes.${route}.${field}.tags[${i}]: no operation has the tag ${tag}`);
  });
  (selection.paths ?? []).forEach((path, i) => {
    if (!all.some((op) => selects({ paths: [path] }, op))) problems.push(`routes.${route}.${field}.paths[${i}]: no operation has the path ${path}`);
  });
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
}

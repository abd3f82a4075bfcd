// Transform rules (`action: transform`): a policy rewrites a call before it is forwarded,
// in every protocol: `set_headers` (a header → a CEL expression's text), `remove_headers`,
// and `set` (a JSON path under the request body → a CEL expression's value). This file
// holds their part of the rule schema, their load-time check (paths, header names, the
// kind of value each expression gives), and the run: rules applied in file and rule order,
// each seeing the call as the rules before it left it; the changes listed for the record.
import { isCelList, isCelMap, isCelUint } from '@bufbuild/cel';
import { z } from 'zod';
import { jsonValue } from '../core/json-body.js';
import { isCelError, phaseProblem, type Bindings, type CompiledExpression } from './cel.js';
import { appliesTo, type Decision, type Finding } from './decision.js';
import type { CompiledRule, PolicyFile } from './file.js';
import { describeJson, setPath, TransformError, type Change, type RequestRewrite } from './rewrite.js';

/** The transform fields of a rule (policies/file.ts spreads them into its rule schema). */
export const TRANSFORM_FIELDS = {
  set_headers: z.record(z.string(), z.string().min(1)).optional(),
  remove_headers: z.array(z.string()).optional(),
  set: z.record(z.string(), z.string().min(1)).optional(),
};

/** A rule's transform fields as the schema parsed them. */
export interface TransformFields {
  set_headers?: Record<string, string> | undefined;
  remove_headers?: string[] | undefined;
  set?: Record<string, string> | undefined;
}

export interface TransformSpec {
  /** Lower-cased header names, each with the expression whose text it gets. */
  readonly setHeaders: readonly { name: string; value: CompiledExpression }[];
  readonly removeHeaders: readonly string[];
  /** Body paths as written ("body.metadata.team") and split after "body", each with its expression. */
  readonly set: readonly { path: string; keys: readonly string[]; value: CompiledExpression }[];
}

/** An HTTP header name (RFC 9110 token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** A body path: "body", then field names (or list indexes) joined by dots. */
const BODY_PATH = /^body(\.[A-Za-z0-9_$@-]+)+$/;

/**
 * Headers tapwire itself sets for the next hop (the body's length and coding, the
 * connection's own headers): a policy cannot change them.
 */
const FIXED_HEADERS = new Set([
  'host', 'content-length', 'content-encoding', 'transfer-encoding', 'connection', 'keep-alive', 'proxy-connection',
  'te', 'trailer', 'upgrade', 'expect', 'http2-settings', 'traceparent',
]);

/** Value kinds a JSON body cannot hold. */
const NOT_JSON = new Set(['timestamp', 'duration', 'bytes', 'type', 'object']);

type Compile = (field: (string | number)[], expression: string) => CompiledExpression | null;
type ProblemAt = (field: (string | number)[], message: string) => void;

function kindText(kind: string): string {
  return `${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind}`;
}

function headerProblem(name: string): string | null {
  if (!HEADER_NAME.test(name)) return `"${name}" is not an HTTP header name`;
  if (FIXED_HEADERS.has(name.toLowerCase())) return `${name} is set by tapwire itself for the next hop; a policy cannot change it`;
  return null;
}

/**
 * Compiles a rule's transform fields; null when it is not a transform rule. Each problem is
 * reported at its field (`problem`), an expression's at its column (`compile`).
 */
export function compileTransform(action: string, fields: TransformFields, compile: Compile, problem: ProblemAt): TransformSpec | null {
  const given = (['set_headers', 'remove_headers', 'set'] as const).filter((f) => fields[f] !== undefined);
  if (action !== 'transform') {
    for (const field of given) problem([field], `${field}: only transform rules have ${field}`);
    return null;
  }
  if (given.length === 0) {
    problem(['action'], 'a transform rule needs set_headers, remove_headers or set (a body path such as body.max_tokens → a CEL expression)');
    return null;
  }
  const setHeaders: { name: string; value: CompiledExpression }[] = [];
  for (const [name, source] of Object.entries(fields.set_headers ?? {})) {
    const bad = headerProblem(name);
    if (bad) {
      problem(['set_headers', name], `set_headers: ${bad}`);
      continue;
    }
    const value = compile(['set_headers', name], source);
    if (!value) continue;
    if (value.kind !== 'string' && value.kind !== 'dyn') {
      problem(['set_headers', name], `set_headers.${name}: a header's value is text, and this expression gives ${kindText(value.kind)}: wrap it in string(...)`);
      continue;
    }
    const phase = phaseProblem(value, 'request');
    if (phase) problem(['set_headers', name], `set_headers.${name}: ${phase.replace(/: add "phase: response"$/, '')}: transforms run before the call is forwarded`);
    setHeaders.push({ name: name.toLowerCase(), value });
  }
  const removeHeaders: string[] = [];
  (fields.remove_headers ?? []).forEach((name, i) => {
    const bad = headerProblem(name);
    if (bad) problem(['remove_headers', i], `remove_headers[${i}]: ${bad}`);
    else if (setHeaders.some((h) => h.name === name.toLowerCase())) problem(['remove_headers', i], `remove_headers[${i}]: ${name} is in set_headers too; a rule either sets or removes a header`);
    else removeHeaders.push(name.toLowerCase());
  });
  const set: { path: string; keys: string[]; value: CompiledExpression }[] = [];
  for (const [path, source] of Object.entries(fields.set ?? {})) {
    if (!BODY_PATH.test(path)) {
      problem(['set', path], `set: "${path}" is not a body path: write body, then field names joined by dots (body.max_tokens, body.metadata.team, body.params.arguments.path)`);
      continue;
    }
    const value = compile(['set', path], source);
    if (!value) continue;
    if (NOT_JSON.has(value.kind)) {
      problem(['set', path], `set.${path}: this expression gives ${kindText(value.kind)}, which a JSON body cannot hold: convert it with string(...)`);
      continue;
    }
    const phase = phaseProblem(value, 'request');
    if (phase) problem(['set', path], `set.${path}: ${phase.replace(/: add "phase: response"$/, '')}: transforms run before the call is forwarded`);
    set.push({ path, keys: path.split('.').slice(1), value });
  }
  return { setHeaders, removeHeaders, set };
}

export type TransformOutcome = { refused: Decision } | { rewrite: RequestRewrite | null; findings: Finding[] };

export type HeaderValues = Readonly<Record<string, string | string[] | undefined>>;

/** The call as the transforms find it, and how its CEL context is built from a changed version. */
export interface TransformInput {
  protocol: string;
  headers: HeaderValues;
  /** The body as the upstream reads it (decoded). */
  body: Buffer | null;
  context(headers: HeaderValues, body: Buffer | null): Bindings;
  /** The context of the call as it came, when the caller has it already (the request-phase decision's). */
  bindings?: Bindings;
  /** A header's value as the record may keep it (credentials masked). */
  recorded(name: string, value: string): string;
}

/** True when some transform rule could apply to `protocol`. */
export function transforms(files: readonly PolicyFile[], protocol: string): boolean {
  return files.some((f) => f.rules.some((r) => r.transform !== null && appliesTo(r, protocol)));
}

/**
 * Runs the transform rules on a call the request-phase rules let through: each rule whose
 * `when` is true is applied in order, its expressions evaluated on the call as the rules
 * before it left it. A rule that cannot be evaluated or applied refuses the call (the
 * file's on_error: deny) or is recorded and passed over (skip); a monitor-mode file's
 * changes are recorded, not made.
 */
export function transformRequest(files: readonly PolicyFile[], input: TransformInput): TransformOutcome {
  const headers: Record<string, string | string[] | undefined> = { ...input.headers };
  let body = input.body;
  let json: unknown = null;
  let parsed = false;
  // True when a rule set body paths since `body` was last made from `json`: it is made again
  // only when a later rule needs the context, never for the forwarded body (rewrittenBody makes that).
  let bodyBehind = false;
  let bindings: Bindings | null = input.bindings ?? null;
  const changedHeaders = new Map<string, string | null>();
  const bodySets: { keys: readonly string[]; value: unknown }[] = [];
  const changes: Change[] = [];
  const findings: Finding[] = [];
  let first: CompiledRule | null = null;
  for (const file of files) {
    for (const rule of file.rules) {
      const spec = rule.transform;
      if (!spec || !appliesTo(rule, input.protocol)) continue;
      if (!bindings) {
        if (bodyBehind) body = Buffer.from(JSON.stringify(json));
        bodyBehind = false;
        bindings = input.context(headers, body);
      }
      const context = bindings;
      const evaluate = (expr: CompiledExpression, what: string): unknown => {
        const result = expr.evaluate(context);
        if (isCelError(result)) throw new TransformError(`${what} could not be evaluated: ${result.message}`);
        return result;
      };
      let planned: { headers: [string, string | null][]; sets: { path: string; keys: readonly string[]; value: unknown }[] };
      try {
        if (evaluate(rule.when, 'when') !== true) continue;
        planned = {
          headers: [
            ...spec.setHeaders.map(({ name, value }): [string, string] => {
              const text = evaluate(value, `set_headers.${name}`);
              if (typeof text !== 'string') throw new TransformError(`set_headers.${name} gave ${describe(text)}, not text`);
              return [name, text];
            }),
            ...spec.removeHeaders.map((name): [string, null] => [name, null]),
          ],
          sets: spec.set.map(({ path, keys, value }) => ({ path, keys, value: jsonOf(evaluate(value, `set.${path}`), `set.${path}`) })),
        };
        if (planned.sets.length > 0) {
          if (!parsed) json = body && body.length > 0 ? structuredClone(jsonValue(body) ?? null) : null;
          parsed = true;
          if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new TransformError('the request body is not a JSON object, so set has nothing to write into');
        }
      } catch (err) {
        if (!(err instanceof TransformError)) throw err;
        const reason = `rule ${rule.name} could not transform this call: ${err.message}`;
        if (file.onError === 'skip') findings.push({ rule: rule.name, action: 'error', reason });
        else if (file.mode === 'monitor') findings.push({ rule: rule.name, action: 'would_deny', reason });
        else return { refused: { outcome: 'deny', rule: rule.name, reason, retryAfterSeconds: null, findings } };
        continue;
      }
      const apply = file.mode !== 'monitor';
      const would = apply ? {} : { would: true as const };
      const before = changes.length;
      for (const [name, value] of planned.headers) {
        const old = headers[name];
        if (value === null) {
          if (old === undefined) continue;
          changes.push({ rule: rule.name, remove_header: name, ...would });
        } else {
          if (old === value) continue;
          changes.push({ rule: rule.name, set_header: name, to: input.recorded(name, value), ...would });
        }
        if (!apply) continue;
        if (value === null) delete headers[name];
        else headers[name] = value;
        changedHeaders.set(name, value);
      }
      const target = apply ? json : structuredClone(json);
      for (const { path, keys, value } of planned.sets) {
        let old: unknown;
        try {
          old = setPath(target as Record<string, unknown>, keys, value);
        } catch (err) {
          if (!(err instanceof TransformError)) throw err;
          const reason = `rule ${rule.name} could not transform this call: ${path}: ${err.message}`;
          if (file.onError === 'skip') findings.push({ rule: rule.name, action: 'error', reason });
          else if (!apply) findings.push({ rule: rule.name, action: 'would_deny', reason });
          else return { refused: { outcome: 'deny', rule: rule.name, reason, retryAfterSeconds: null, findings } };
          continue;
        }
        if (JSON.stringify(old) === JSON.stringify(value)) continue;
        changes.push({ rule: rule.name, set: path, ...(old === undefined ? {} : { from: old }), to: value, ...would });
        if (apply) bodySets.push({ keys, value });
      }
      if (changes.length === before) continue;
      first ??= rule;
      if (!apply) continue;
      // The next rule sees the call as this one left it.
      if (planned.sets.length > 0) bodyBehind = true;
      bindings = null;
    }
  }
  if (!first) return { rewrite: null, findings };
  const rewrite = { headers: changedHeaders, bodySets, changes, rule: first.name, reason: first.message ?? `transformed by rule ${first.name}` };
  return { rewrite, findings };
}

/** What kind of value a CEL expression gave, for an error (CEL's lists and maps included). */
function describe(value: unknown): string {
  if (isCelList(value)) return 'a list';
  if (isCelMap(value)) return 'a map';
  return describeJson(value);
}

/** A CEL value as JSON: ints as numbers (within the exact range), lists and maps as arrays and objects. */
function jsonOf(value: unknown, what: string): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TransformError(`${what} gave ${value}, which JSON cannot hold`);
    return value;
  }
  if (typeof value === 'bigint' || isCelUint(value)) {
    const int = typeof value === 'bigint' ? value : value.value;
    if (int > BigInt(Number.MAX_SAFE_INTEGER) || int < BigInt(Number.MIN_SAFE_INTEGER)) throw new TransformError(`${what} gave ${int}, beyond the integers a JSON number holds exactly`);
    return Number(int);
  }
  if (isCelList(value) || Array.isArray(value)) return [...(value as Iterable<unknown>)].map((item) => jsonOf(item, what));
  if (isCelMap(value) || value instanceof Map) {
    return Object.fromEntries([...(value as ReadonlyMap<unknown, unknown>)].map(([k, v]) => [isCelUint(k) ? String(k.value) : String(k), jsonOf(v, what)]));
  }
  throw new TransformError(`${what} gave ${describe(value)}: convert it with string(...)`);
}

// Policy files: YAML with rules (evaluated in order) and inline tests, validated with zod,
// every CEL expression compiled and checked once at load. Errors name the file, the line
// and column inside it (pointing into the expression itself), the rule and what is wrong.
import { readFileSync } from 'node:fs';
import { isNode, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { RE2JS } from 're2js';
import { formatPath } from '../config/config.js';
import { compileExpression, ExpressionError, phaseProblem, type CompiledExpression } from './cel.js';
import { compileTransform, TRANSFORM_FIELDS, type TransformSpec } from './transform.js';
import { PolicyError, type Problem } from './policy-error.js';
import type { Phase } from './vocabulary.js';

const ACTIONS = ['allow', 'deny', 'audit', 'limit', 'redact', 'transform', 'approve'] as const;

export type Action = (typeof ACTIONS)[number];

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "30s", "1m", "1h", "7d" in milliseconds, or null. */
export function parseDuration(text: string): number | null {
  const m = DURATION.exec(text.trim());
  return m ? Number(m[1]) * UNIT_MS[m[2]!]! : null;
}

const durationSchema = z.string().regex(DURATION, 'a duration such as 30s, 1m, 1h or 1d');

/** An approve rule's own fields: how long a held call waits for a person, and how long an approval covers the same call again. */
const approveSchema = z.strictObject({
  timeout: durationSchema.optional(),
  remember: durationSchema.optional(),
});

/** How long a call held for approval waits when its rule gives no timeout. */
export const DEFAULT_APPROVAL_TIMEOUT_MS = 5 * 60_000;

const ruleSchema = z.strictObject({
  name: z.string().min(1),
  when: z.string().min(1),
  phase: z.enum(['request', 'response']).optional(),
  action: z.enum(ACTIONS),
  message: z.string().optional(),
  limit: z
    .strictObject({
      requests: z.number().int().positive().optional(),
      tokens: z.number().int().positive().optional(),
      per: durationSchema,
      key: z.string().min(1).optional(),
    })
    .optional(),
  redact: z
    .strictObject({
      fields: z.array(z.string().regex(/^(request|response)\.body(\.[^.]+)+$/, 'a body field path such as request.body.messages')).default([]),
      patterns: z.array(z.string().min(1)).default([]),
    })
    .optional(),
  approve: approveSchema.optional(),
  ...TRANSFORM_FIELDS,
});

const testSchema = z.strictObject({
  name: z.string().min(1),
  exchange: z.record(z.string(), z.unknown()),
  expect: z.enum(ACTIONS),
  rule: z.string().optional(),
});

const fileSchema = z.strictObject({
  default: z.enum(['allow', 'deny']).default('allow'),
  mode: z.enum(['enforce', 'monitor']).default('enforce'),
  on_error: z.enum(['deny', 'skip']).default('deny'),
  rules: z.array(ruleSchema).default([]),
  tests: z.array(testSchema).default([]),
});

export interface LimitSpec {
  kind: 'requests' | 'tokens';
  amount: number;
  windowMs: number;
  key: CompiledExpression | null;
}

export interface RedactSpec {
  /** Paths under request.body / response.body, split: ["request", "messages"]. */
  fields: string[][];
  /** RE2 patterns (linear-time matching: a policy's pattern cannot stall the sidecar). */
  patterns: RE2JS[];
}

export interface ApproveSpec {
  /** How long a held call waits before it is denied. */
  timeoutMs: number;
  /** How long an approval also covers the same tool (or model) with the same arguments; null: this call only. */
  rememberMs: number | null;
}

export interface CompiledRule {
  /** "file.yaml#rule-name": unique across files. */
  readonly id: string;
  readonly name: string;
  readonly file: string;
  readonly phase: Phase;
  readonly action: Action;
  readonly message: string | null;
  readonly when: CompiledExpression;
  readonly limit: LimitSpec | null;
  readonly redact: RedactSpec | null;
  readonly approve: ApproveSpec | null;
  /** A transform rule's changes (policies/transform.ts). */
  readonly transform: TransformSpec | null;
}

export interface PolicyTest {
  name: string;
  exchange: Record<string, unknown>;
  expect: Action;
  rule: string | null;
  /** "file:line:col" of the test, for reports. */
  at: string;
}

export interface PolicyFile {
  readonly path: string;
  readonly default: 'allow' | 'deny';
  readonly mode: 'enforce' | 'monitor';
  readonly onError: 'deny' | 'skip';
  readonly rules: readonly CompiledRule[];
  readonly tests: readonly PolicyTest[];
}

/** Locates nodes of a parsed document as file:line:col. */
class Locator {
  constructor(
    private readonly source: string,
    private readonly text: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}
  private format(offset: number): string {
    const pos = this.lines.linePos(offset);
    return `${this.source}:${pos.line}:${pos.col}`;
  }
  /** The deepest existing node on `path`. */
  at(path: readonly PropertyKey[]): string {
    for (let depth = path.length; depth >= 0; depth--) {
      const node: unknown = this.doc.getIn(path.slice(0, depth) as unknown[], true);
      if (isNode(node) && node.range) return this.format(node.range[0]);
    }
    return this.source;
  }
  /** The text written in the file for the scalar at `path`, or null. */
  sourceOf(path: readonly PropertyKey[]): string | null {
    const node: unknown = this.doc.getIn(path as unknown[], true);
    return isScalar(node) && node.range ? this.text.slice(node.range[0], node.range[1]) : null;
  }
  /** The position inside the file of `offset` inside the expression held by the scalar at `path`. */
  inExpression(path: readonly PropertyKey[], expression: string, offset: number): string {
    const node: unknown = this.doc.getIn(path as unknown[], true);
    if (!isScalar(node) || !node.range) return this.at(path);
    const before = expression.slice(0, offset).split('\n');
    const lineIndex = before.length - 1;
    const column = before[lineIndex]!.length;
    // Find each of the expression's lines in the file in turn (plain, quoted and block scalars alike).
    const exprLines = expression.split('\n');
    let from = node.range[0];
    for (let i = 0; i <= lineIndex; i++) {
      const line = exprLines[i]!;
      const trimmed = line.trimStart();
      const found = trimmed === '' ? -1 : this.text.indexOf(trimmed, from);
      if (found === -1 || found > node.range[2]) return this.at(path);
      if (i === lineIndex) return this.format(found + Math.max(0, column - (line.length - trimmed.length)));
      from = found + trimmed.length;
    }
    return this.at(path);
  }
}

/** A caret line under the expression, pointing at `offset`. */
function pointer(expression: string, offset: number): string {
  const before = expression.slice(0, offset).split('\n');
  const line = expression.split('\n')[before.length - 1] ?? '';
  return `    ${line}\n    ${' '.repeat(before[before.length - 1]!.length)}^`;
}

/** Compiles the expression at rules[index].field; on a problem, notes it (with a pointer into the expression) and returns null. */
function compileIn(locate: Locator, index: number, label: string, field: (string | number)[], expression: string, problems: Problem[]): CompiledExpression | null {
  try {
    return compileExpression(expression);
  } catch (err) {
    if (!(err instanceof ExpressionError)) throw err;
    const at = locate.inExpression(['rules', index, ...field], expression, err.offset);
    problems.push({ line: `${at}: ${label}: ${formatPath(field)}: column ${err.offset + 1} of the expression: ${err.message}`, pointer: pointer(expression, err.offset) });
    return null;
  }
}

/** The rules of a file that failed its schema, as far as they are objects. */
function rawRules(raw: unknown): Record<string, unknown>[] {
  const rules = (raw as { rules?: unknown } | null)?.rules;
  if (!Array.isArray(rules)) return [];
  return rules.map((rule: unknown) => (rule !== null && typeof rule === 'object' ? (rule as Record<string, unknown>) : {}));
}

/** A schema issue as problems; a YAML boolean or number where text is expected gets a hint to quote it. */
function schemaProblems(issue: z.core.$ZodIssue, locate: Locator): Problem[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ line: `${locate.at([...issue.path, key])}: ${formatPath([...issue.path, key])}: unknown key` }));
  }
  let message = issue.message;
  const key = issue.path.at(-1);
  if (issue.code === 'invalid_type' && issue.expected === 'string' && typeof key === 'string') {
    const written = locate.sourceOf(issue.path);
    if (written !== null && /received (boolean|number)/.test(message)) message += `; YAML reads ${written} as a ${/received (\w+)/.exec(message)![1]}: quote it: ${key}: "${written.replace(/["\\]/g, '\\$&')}"`;
  }
  return [{ line: `${locate.at(issue.path)}: ${formatPath(issue.path) || '(top level)'}: ${message}` }];
}

/** Problems sorted by their line and column in the file (each starts with file:line:col). */
function inFileOrder(problems: Problem[]): Problem[] {
  const position = (p: Problem): [number, number] => {
    const m = /:(\d+):(\d+): /.exec(p.line);
    return m ? [Number(m[1]), Number(m[2])] : [0, 0];
  };
  return problems
    .map((p, i) => ({ p, i, at: position(p) }))
    .sort((a, b) => a.at[0] - b.at[0] || a.at[1] - b.at[1] || a.i - b.i)
    .map(({ p }) => p);
}

/** Parses and compiles a policy file's text; `source` names it in errors. */
export function parsePolicyFile(text: string, source: string): PolicyFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new PolicyError(
      doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return `${source}:${pos.line}:${pos.col}: invalid YAML: ${e.message.split('\n')[0]}`;
      }),
    );
  }
  const locate = new Locator(source, text, doc, lineCounter);
  const raw: unknown = doc.toJS() ?? {};
  const result = fileSchema.safeParse(raw);
  if (!result.success) {
    // Report the expressions' problems with the schema's, so one run shows everything.
    const problems: Problem[] = result.error.issues.flatMap((issue) => schemaProblems(issue, locate));
    rawRules(raw).forEach((rule, index) => {
      const label = `rules[${index}]${typeof rule.name === 'string' ? ` (${rule.name})` : ''}`;
      if (typeof rule.when === 'string') compileIn(locate, index, label, ['when'], rule.when, problems);
      const key = (rule.limit as Record<string, unknown> | undefined)?.key;
      if (typeof key === 'string') compileIn(locate, index, label, ['limit', 'key'], key, problems);
      for (const field of ['set_headers', 'set']) {
        const entries = rule[field];
        if (entries === null || typeof entries !== 'object') continue;
        for (const [name, expression] of Object.entries(entries)) if (typeof expression === 'string') compileIn(locate, index, label, [field, name], expression, problems);
      }
    });
    throw new PolicyError(inFileOrder(problems));
  }
  const data = result.data;
  const problems: Problem[] = [];
  const rules: CompiledRule[] = [];
  const names = new Set<string>();
  data.rules.forEach((rule, index) => {
    const label = `rules[${index}] (${rule.name})`;
    const problem = (field: string, message: string): void => {
      problems.push({ line: `${locate.at(['rules', index, field])}: ${label}: ${field}: ${message}` });
    };
    if (names.has(rule.name)) problem('name', `another rule is already named "${rule.name}"`);
    names.add(rule.name);
    const compile = (field: (string | number)[], expression: string): CompiledExpression | null => compileIn(locate, index, label, field, expression, problems);
    const when = compile(['when'], rule.when);
    const phase: Phase = rule.phase ?? (when?.needsResponse ? 'response' : 'request');
    if (when) {
      const wrongPhase = phaseProblem(when, phase);
      if (wrongPhase) problem('when', wrongPhase);
    }
    let limit: LimitSpec | null = null;
    if (rule.action === 'limit') {
      const spec = rule.limit;
      if (!spec) problem('limit', 'a limit rule needs limit: { requests: N or tokens: N, per: 1m, key: <CEL> }');
      else if ((spec.requests === undefined) === (spec.tokens === undefined)) problem('limit', 'give exactly one of requests or tokens');
      else {
        const key = spec.key ? compile(['limit', 'key'], spec.key) : null;
        if (spec.tokens !== undefined && phase === 'response') problem('phase', 'a token budget is checked before the call and charged after it: leave phase out');
        limit = { kind: spec.requests !== undefined ? 'requests' : 'tokens', amount: spec.requests ?? spec.tokens!, windowMs: parseDuration(spec.per)!, key };
      }
    } else if (rule.limit) problem('limit', 'only limit rules have limit');
    let redact: RedactSpec | null = null;
    if (rule.action === 'redact') {
      if (!rule.redact || (rule.redact.fields.length === 0 && rule.redact.patterns.length === 0)) {
        problem('redact', 'a redact rule needs redact: { fields: [...], patterns: [...] }');
      } else {
        const patterns: RE2JS[] = [];
        rule.redact.patterns.forEach((pattern, i) => {
          try {
            patterns.push(RE2JS.compile(pattern));
          } catch (err) {
            problems.push({ line: `${locate.at(['rules', index, 'redact', 'patterns', i])}: ${label}: redact.patterns[${i}]: ${(err as Error).message}` });
          }
        });
        redact = { fields: rule.redact.fields.map((f) => f.split('.').filter((_, i) => i !== 1)), patterns };
      }
    } else if (rule.redact) problem('redact', 'only redact rules have redact');
    const problemAt = (field: (string | number)[], message: string): void => {
      problems.push({ line: `${locate.at(['rules', index, ...field])}: ${label}: ${message}` });
    };
    const transform = compileTransform(rule.action, rule, compile, problemAt);
    if (transform && rule.phase === 'response') problem('phase', 'a transform rule rewrites the request before it is forwarded: leave phase out');
    else if (transform && phase === 'response') problem('when', 'names response or usage, which a transform rule cannot see: it runs before the call is forwarded');
    const approve = approveSpec(rule, phase, problem);
    if (when) {
      rules.push({ id: `${source}#${rule.name}`, name: rule.name, file: source, phase, action: rule.action, message: rule.message ?? null, when, limit, redact, transform, approve });
    }
  });
  if (problems.length > 0) throw new PolicyError(inFileOrder(problems));
  const tests = data.tests.map((t, i) => ({ name: t.name, exchange: t.exchange, expect: t.expect, rule: t.rule ?? null, at: locate.at(['tests', i]) }));
  return { path: source, default: data.default, mode: data.mode, onError: data.on_error, rules, tests };
}

/** An approve rule's timeout and remember, checked (a call is held before it is forwarded: request phase only); null for other rules. */
function approveSpec(rule: z.infer<typeof ruleSchema>, phase: Phase, problem: (field: string, message: string) => void): ApproveSpec | null {
  if (rule.action !== 'approve') {
    if (rule.approve) problem('approve', 'only approve rules have approve');
    return null;
  }
  if (phase === 'response') problem('phase', 'a call is held for approval before it is forwarded: an approve rule is a request-phase rule (leave phase out, and judge the request only)');
  const timeoutMs = rule.approve?.timeout ? parseDuration(rule.approve.timeout)! : DEFAULT_APPROVAL_TIMEOUT_MS;
  const rememberMs = rule.approve?.remember ? parseDuration(rule.approve.remember)! : null;
  if (timeoutMs === 0) problem('approve', 'timeout: a call needs some time to be approved in (e.g. 5m)');
  return { timeoutMs, rememberMs };
}

/** Reads and compiles a policy file. */
export function loadPolicyFile(path: string): PolicyFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new PolicyError([`${path}: cannot read policy file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
  return parsePolicyFile(text, path);
}

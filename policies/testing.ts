// Running a policy against exchanges without a live call: the inline tests of a file (an
// exchange written in the vocabulary's own shape, and the action expected), and the
// strongest action a policy set takes on a context (deny > limit > approve > audit > redact > transform > allow).
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import type { Bindings } from './cel.js';
import { buildContext, contextRoots, type ProtocolContexts } from './context.js';
import { toCel } from './context-values.js';
import { PolicySet } from './engine.js';
import { appliesTo, type Decision, type Finding } from './decision.js';
import type { Action, PolicyFile, PolicyTest } from './file.js';
import { VOCABULARY, type Field } from './vocabulary.js';

const STRENGTH: Record<Action, number> = { deny: 6, limit: 5, approve: 4, audit: 3, redact: 2, transform: 1, allow: 0 };

export interface Verdict {
  action: Action;
  rule: string | null;
  reason: string;
}

/** The action a finding stands for: what a monitor-mode file would have done, the audit or redaction itself; null for an error. */
export function findingAction(finding: Finding): Action | null {
  switch (finding.action) {
    case 'would_deny':
      return 'deny';
    case 'would_limit':
      return 'limit';
    case 'would_approve':
      return 'approve';
    case 'error':
      return null;
    default:
      return finding.action;
  }
}

/** The strongest action in a decision, counting what monitor-mode files would have done. */
export function verdictOf(decision: Decision): Verdict {
  let best: Verdict = { action: 'allow', rule: decision.rule, reason: decision.reason };
  if (decision.outcome !== 'allow') best = { action: decision.outcome, rule: decision.rule, reason: decision.reason };
  for (const f of decision.findings) {
    const action = findingAction(f);
    if (action && STRENGTH[action] > STRENGTH[best.action]) best = { action, rule: f.rule, reason: f.reason };
  }
  return best;
}

/** Both phases of a call: the request phase, then, unless refused, the response phase. */
export function judge(set: PolicySet, bindings: Bindings, now: number, count = false): { request: Decision; response: Decision | null } {
  const request = set.decide('request', bindings, now, count);
  if (request.outcome !== 'allow') return { request, response: null };
  return { request, response: set.decide('response', bindings, now, count) };
}

function strongest(a: Verdict, b: Verdict | null): Verdict {
  return b && STRENGTH[b.action] > STRENGTH[a.action] ? b : a;
}

export function verdictOfCall(set: PolicySet, bindings: Bindings, now: number): Verdict {
  const { request, response } = judge(set, bindings, now);
  const transformed = request.outcome === 'allow' ? transformVerdict(set, bindings) : null;
  return strongest(strongest(verdictOf(request), transformed), response ? verdictOf(response) : null);
}

/** The first transform rule that would rewrite the call, as a verdict. */
function transformVerdict(set: PolicySet, bindings: Bindings): Verdict | null {
  const protocol = String(bindings.protocol);
  for (const rule of set.files.flatMap((f) => f.rules)) {
    if (!rule.transform || !appliesTo(rule, protocol)) continue;
    if (rule.when.evaluate(bindings) === true) return { action: 'transform', rule: rule.name, reason: rule.message ?? `transformed by rule ${rule.name}` };
  }
  return null;
}

/** Sets `values` (YAML as written in a test) over the fields of `target`, typed by the vocabulary. */
function overlay(target: Map<string, unknown>, values: Record<string, unknown>, fields: Readonly<Record<string, Field>>, path: string): void {
  for (const [name, value] of Object.entries(values)) {
    const field = fields[name];
    const at = path ? `${path}.${name}` : name;
    if (field === undefined) throw new Error(`${at}: not in the vocabulary (fields here: ${Object.keys(fields).join(', ')})`);
    if (typeof field === 'object') {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${at}: expected a map of its fields`);
      overlay(target.get(name) as Map<string, unknown>, value as Record<string, unknown>, field, at);
      continue;
    }
    switch (field) {
      case 'int':
        if (typeof value !== 'number' || !Number.isInteger(value)) throw new Error(`${at}: expected an integer`);
        target.set(name, BigInt(value));
        break;
      case 'double':
        if (typeof value !== 'number') throw new Error(`${at}: expected a number`);
        target.set(name, value);
        break;
      case 'bool':
        if (typeof value !== 'boolean') throw new Error(`${at}: expected true or false`);
        target.set(name, value);
        break;
      case 'string':
        target.set(name, String(value));
        break;
      case 'timestamp': {
        const ms = typeof value === 'string' ? Date.parse(value) : NaN;
        if (Number.isNaN(ms)) throw new Error(`${at}: expected a date-time such as 2026-01-01T00:00:00Z`);
        target.set(name, timestampFromMs(ms));
        break;
      }
      default:
        target.set(name, toCel(value));
    }
  }
}

/** The context a test describes: every field empty except those it sets (`protocols`: what each protocol adds, protocols/registry.ts). */
export function testContext(exchange: Record<string, unknown>, protocols: ProtocolContexts): Bindings {
  const protocol = typeof exchange.protocol === 'string' ? exchange.protocol : 'http';
  if (!['llm', 'mcp', 'a2a', 'http'].includes(protocol)) throw new Error(`protocol: expected llm, mcp, a2a or http`);
  const bindings = buildContext({ exchange: { protocol: protocol as 'llm', agent: 'agent', route: 'test', started_at: Date.parse('2026-01-01T00:00:00Z') }, protocols });
  const { direction, now, ...rest } = exchange;
  delete rest.protocol;
  if (typeof direction === 'string') bindings.direction = direction;
  const root = contextRoots(bindings);
  overlay(root, { ...rest, ...(now !== undefined ? { now } : {}) }, VOCABULARY, '');
  return Object.fromEntries(root);
}

export interface TestResult {
  test: PolicyTest;
  file: string;
  passed: boolean;
  got: Verdict | null;
  error: string | null;
}

/** Runs a file's inline tests, each against that file alone with fresh limits. */
export function runInlineTests(file: PolicyFile, protocols: ProtocolContexts): TestResult[] {
  return file.tests.map((test) => {
    let bindings: Bindings;
    try {
      bindings = testContext(test.exchange, protocols);
    } catch (err) {
      return { test, file: file.path, passed: false, got: null, error: `exchange.${(err as Error).message}` };
    }
    const got = verdictOfCall(new PolicySet([file]), bindings, Date.parse('2026-01-01T00:00:00Z'));
    const passed = got.action === test.expect && (test.rule === null || test.rule === got.rule);
    return { test, file: file.path, passed, got, error: null };
  });
}

// Decisions: the rules of every policy file evaluated against an exchange's CEL context.
// Within a file, rules run in order and the first allow, deny or approve that matches decides
// (approve: the call is held until a person decides, unless another file refuses it);
// audit and redact rules that match are noted and evaluation goes on; limit rules refuse
// while their window is full. Every file must let a call through (a file with `default:
// deny` refuses what none of its rules allows); a file in `mode: monitor` only records what
// it would have done. A rule matches only when its expression is exactly true; one that
// fails to evaluate denies (or, with `on_error: skip`, is recorded and passed over).
import type { ExchangeRecord } from '../core/exchange.js';
import { isCelError, type Bindings } from './cel.js';
import { buildContext, type ContextSource } from './context.js';
import { ALLOW, appliesTo, stamp, type Decision, type Finding } from './decision.js';
import type { CompiledRule, PolicyFile, RedactSpec } from './file.js';
import { localCounters, type LimitCounter, type LimitCounters } from './limits.js';
import { redactRecord } from './redact.js';
import type { RuleSet } from './rule-set.js';
import { transformRequest, transforms, type TransformInput, type TransformOutcome } from './transform.js';
import type { Phase } from './vocabulary.js';

/** The policy_rule recorded on a request refused because tapwire could not read it. */
const UNREADABLE_RULE = 'unreadable';

function period(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

function keyText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'bigint' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  return value === null ? 'null' : JSON.stringify(value, (_k, v: unknown): unknown => (typeof v === 'bigint' ? String(v) : v instanceof Map ? Object.fromEntries(v as Map<string, unknown>) : v));
}

/** Counts PolicySets made in this process: an approval holds for the rules it was given under. */
let generations = 0;

export class PolicySet implements RuleSet {
  /** This set's generation: a reload makes a new one, and held calls are bound to theirs. */
  readonly version = ++generations;
  private readonly windows = new Map<string, LimitCounter>();
  /** Rules evaluated when a record is written: token budgets to charge, audits, redactions, unenforced response rules. */
  private readonly reviewed: boolean;

  /**
   * `previous`: the set this one replaces (a reload); limit rules with the same name, file and
   * window keep their counts. `counters`: where limit rules count (limits.redis: the fleet's Redis).
   */
  constructor(
    readonly files: readonly PolicyFile[],
    previous?: PolicySet,
    counters: LimitCounters = localCounters,
  ) {
    const before = new Map(previous?.rules().map((r) => [r.id, r]));
    for (const rule of this.rules()) {
      if (!rule.limit) continue;
      const old = before.get(rule.id);
      const kept = old?.limit?.windowMs === rule.limit.windowMs && old.limit.kind === rule.limit.kind ? previous!.windows.get(rule.id) : undefined;
      this.windows.set(rule.id, kept ?? counters({ name: rule.name, kind: rule.limit.kind, windowMs: rule.limit.windowMs }));
    }
    this.reviewed = this.rules().some((r) => r.action === 'audit' || r.action === 'redact' || r.limit?.kind === 'tokens' || r.phase === 'response');
  }

  private rules(): CompiledRule[] {
    return this.files.flatMap((f) => f.rules);
  }

  /** True when some rule of `phase` could apply to `protocol`: callers skip building a context otherwise. */
  applies(phase: Phase, protocol: string): boolean {
    return this.files.some((f) => (phase === 'request' && f.default === 'deny') || f.rules.some((r) => r.phase === phase && appliesTo(r, protocol)));
  }

  /** The CEL context of an exchange, as these rules see it. */
  context(source: ContextSource): Bindings {
    return buildContext(source);
  }

  /** True when some transform rule could apply to `protocol`. */
  transforms(protocol: string): boolean {
    return transforms(this.files, protocol);
  }

  /** Runs the transform rules on a call the request-phase rules let through (policies/transform.ts). */
  transform(input: TransformInput): TransformOutcome {
    return transformRequest(this.files, input);
  }

  /**
   * The decision on a request (or, with `phase` response, an answer) tapwire cannot read,
   * which no rule can then judge (fail closed): refused when an enforcing file has rules of
   * that phase that decide (allow, deny, limit) for `protocol`, or for a request `default:
   * deny`; recorded as would_deny when only monitor-mode files do; let through when none
   * does (audit and redact rules refuse nothing).
   */
  unreadable(protocol: string, why: string, phase: Phase = 'request'): Decision {
    const judging = this.files.filter(
      (f) => (phase === 'request' && f.default === 'deny') || f.rules.some((r) => r.phase === phase && r.action !== 'audit' && r.action !== 'redact' && appliesTo(r, protocol)),
    );
    if (judging.length === 0) return ALLOW;
    const reason = `tapwire cannot read this ${phase === 'request' ? 'request' : 'answer'}, so no policy can judge it: ${why}`;
    if (judging.some((f) => f.mode !== 'monitor')) return { outcome: 'deny', rule: UNREADABLE_RULE, reason, retryAfterSeconds: null, findings: [] };
    return { ...ALLOW, findings: [{ rule: UNREADABLE_RULE, action: 'would_deny', reason }] };
  }

  /**
   * Decides a call in `phase`. With `count` (the default), a call let through is counted
   * against the request-rate limits that matched it.
   */
  decide(phase: Phase, bindings: Bindings, now: number, count = true): Decision {
    const protocol = String(bindings.protocol);
    const findings: Finding[] = [];
    const counted: { windows: LimitCounter; key: string }[] = [];
    let firstAllow: string | null = null;
    // A file that holds the call for approval: it is held only if no later file refuses it.
    let held: Decision | null = null;
    for (const file of this.files) {
      let decided: Omit<Decision, 'findings'> | null = null;
      for (const rule of file.rules) {
        // Transform rules decide nothing: they run on what the others let through (policies/transform.ts).
        if (rule.phase !== phase || !appliesTo(rule, protocol) || rule.action === 'transform') continue;
        const result = rule.when.evaluate(bindings);
        if (isCelError(result)) {
          const reason = `rule ${rule.name} could not be evaluated: ${result.message}`;
          if (file.onError === 'deny') {
            decided = { outcome: 'deny', rule: rule.name, reason, retryAfterSeconds: null };
            break;
          }
          findings.push({ rule: rule.name, action: 'error', reason });
          continue;
        }
        if (result !== true) continue;
        const reason = rule.message ?? `${rule.action === 'allow' ? 'allowed' : rule.action === 'deny' ? 'denied' : rule.action === 'audit' ? 'flagged' : 'matched'} by rule ${rule.name}`;
        if (rule.action === 'allow' || rule.action === 'deny') {
          decided = { outcome: rule.action, rule: rule.name, reason, retryAfterSeconds: null };
          break;
        }
        if (rule.action === 'approve') {
          const why = rule.message ?? `rule ${rule.name} needs a person's approval`;
          decided = { outcome: 'approve', rule: rule.name, reason: why, retryAfterSeconds: null, approve: rule.approve! };
          break;
        }
        if (rule.action === 'audit' || rule.action === 'redact') {
          findings.push({ rule: rule.name, action: rule.action, reason });
          continue;
        }
        const limit = rule.limit!;
        const keyResult = limit.key ? limit.key.evaluate(bindings) : '';
        if (isCelError(keyResult)) {
          const why = `rule ${rule.name}: its limit key could not be evaluated: ${keyResult.message}`;
          if (file.onError === 'deny') {
            decided = { outcome: 'deny', rule: rule.name, reason: why, retryAfterSeconds: null };
            break;
          }
          findings.push({ rule: rule.name, action: 'error', reason: why });
          continue;
        }
        const key = keyText(keyResult);
        const windows = this.windows.get(rule.id)!;
        const retry = windows.retryAfter(key, now, limit.amount, 1);
        if (retry !== null) {
          const what = limit.kind === 'requests' ? `${limit.amount} requests` : `${limit.amount} tokens`;
          decided = {
            outcome: 'limit',
            rule: rule.name,
            reason: rule.message ?? `limited by rule ${rule.name}: ${what} per ${period(limit.windowMs)}${limit.key ? ` for ${key}` : ''}; retry in ${retry}s`,
            retryAfterSeconds: retry,
          };
          break;
        }
        if (limit.kind === 'requests') counted.push({ windows, key });
      }
      if (!decided && file.default === 'deny' && phase === 'request') {
        decided = { outcome: 'deny', rule: `${file.path}#default`, reason: `no rule of ${file.path} allows this call (default: deny)`, retryAfterSeconds: null };
      }
      if (!decided) continue;
      if (decided.outcome === 'allow') {
        firstAllow ??= decided.rule;
        continue;
      }
      if (file.mode === 'monitor') {
        findings.push({ rule: decided.rule!, action: decided.outcome === 'deny' ? 'would_deny' : decided.outcome === 'approve' ? 'would_approve' : 'would_limit', reason: decided.reason });
        continue;
      }
      if (decided.outcome === 'approve') {
        held ??= { ...decided, findings };
        continue;
      }
      return { ...decided, findings };
    }
    if (count) for (const { windows, key } of counted) windows.add(key, now, 1);
    if (held) return { ...held, findings };
    if (findings.length === 0 && firstAllow === null) return ALLOW;
    return { outcome: 'allow', rule: firstAllow, reason: firstAllow ? `allowed by rule ${firstAllow}` : '', retryAfterSeconds: null, findings };
  }

  /**
   * The part of a decision that happens when the record is written: token budgets charged
   * with the call's real usage, audits and unenforced response rules noted, redactions
   * applied. `source` describes the finished exchange.
   */
  review(record: ExchangeRecord, source: Omit<ContextSource, 'exchange' | 'request' | 'response' | 'events'>): void {
    if (!this.reviewed) return;
    const e = record.exchange;
    if (!this.files.some((f) => f.rules.some((r) => appliesTo(r, e.protocol)))) return;
    const bindings = buildContext({ ...source, exchange: e, request: record.request, response: record.response, events: record.events });
    const redactions: RedactSpec[] = [];
    const notes: Finding[] = [];
    for (const file of this.files) {
      for (const rule of file.rules) {
        if (!appliesTo(rule, e.protocol)) continue;
        const budget = rule.limit?.kind === 'tokens';
        const recordTime = rule.action === 'audit' || rule.action === 'redact' || budget || (rule.phase === 'response' && rule.action === 'deny');
        if (!recordTime) continue;
        if (rule.when.evaluate(bindings) !== true) continue;
        if (rule.action === 'redact') redactions.push(rule.redact!);
        else if (rule.action === 'audit') notes.push({ rule: rule.name, action: 'audit', reason: rule.message ?? `flagged by rule ${rule.name}` });
        else if (rule.action === 'deny') notes.push({ rule: rule.name, action: 'would_deny', reason: `${rule.message ?? `denied by rule ${rule.name}`} (not enforced: the response had already been sent)` });
        else if (budget && e.status !== 'denied') {
          const key = rule.limit.key ? keyText(rule.limit.key.evaluate(bindings)) : '';
          this.windows.get(rule.id)!.add(key, e.ended_at ?? e.started_at, (e.input_tokens ?? 0) + (e.output_tokens ?? 0));
        }
      }
    }
    if ((e.policy_rule === null || e.policy_action === 'redact') && notes.length > 0) stamp(e, { ...ALLOW, findings: notes });
    if (redactions.length > 0) redactRecord(record, redactions);
  }
}

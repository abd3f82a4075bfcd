// What the transform rules did to a call, apart from the CEL that decided it: the changes
// (as the record keeps them), the body forwarded with the paths they set, and the record's
// note of them. The proxy and the protocols use these with no policy files loaded, so this
// file loads no CEL (issue 23); policies/transform.ts runs the rules.
import type { Exchange } from '../core/exchange.js';
import { jsonValue } from '../core/json-body.js';
import { stamp, type Finding } from './decision.js';

/** A transform that cannot be applied: the rule refuses the call or is passed over (its file's on_error). */
export class TransformError extends Error {}

/** One change a transform rule made (or, in monitor mode, would have made), as the record keeps it. */
export type Change = { rule: string; would?: true } & (
  | { set: string; from?: unknown; to: unknown }
  | { set_header: string; to: string }
  | { remove_header: string }
);

/** What the transforms do to a call let through: the changes to forward it with, and the list the record keeps. */
export interface RequestRewrite {
  /** Each header changed, lower-cased: its new value, or null when it is removed. */
  readonly headers: ReadonlyMap<string, string | null>;
  /** The body paths set, in order, with their values (replayed on the body as forwarded). */
  readonly bodySets: readonly { keys: readonly string[]; value: unknown }[];
  /** Every change, in order, including those only monitor-mode files would have made. */
  readonly changes: readonly Change[];
  /** The first rule that changed something (applied or not). */
  readonly rule: string;
  readonly reason: string;
}

/**
 * The body forwarded: `base` (the body as the upstream would have read it unchanged) with
 * the rewrite's paths set; null when the rewrite sets none.
 */
export function rewrittenBody(rewrite: RequestRewrite, base: Buffer | null): Buffer | null {
  if (rewrite.bodySets.length === 0 || !base) return null;
  const json = structuredClone(jsonValue(base)) as Record<string, unknown>;
  for (const { keys, value } of rewrite.bodySets) setPath(json, keys, value);
  return Buffer.from(JSON.stringify(json));
}

/** Puts what the transforms did on the call's record: the changes, and the rule when no other rule is named there. */
export function recordTransform(exchange: Exchange, outcome: { rewrite: RequestRewrite | null; findings: readonly Finding[] }): void {
  const { rewrite, findings } = outcome;
  if (findings.length > 0 && exchange.policy_rule === null) stamp(exchange, { outcome: 'allow', rule: null, reason: '', retryAfterSeconds: null, findings: [...findings] });
  if (!rewrite) return;
  exchange.transform = JSON.stringify(rewrite.changes);
  if (exchange.policy_rule !== null) return;
  exchange.policy_rule = rewrite.rule;
  exchange.policy_action = rewrite.changes.every((c) => c.would) ? 'would_transform' : 'transform';
  exchange.policy_reason = rewrite.reason;
}

/**
 * Sets `value` at `keys` under `target`, making the objects on the way that are missing;
 * returns the value it replaced (undefined: none). A list is indexed by a number within it.
 */
export function setPath(target: Record<string, unknown>, keys: readonly string[], value: unknown): unknown {
  let holder: Record<string, unknown> | unknown[] = target;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const last = i === keys.length - 1;
    if (Array.isArray(holder)) {
      const index = /^\d+$/.test(key) ? Number(key) : -1;
      if (index < 0 || index >= holder.length) throw new TransformError(`${keys.slice(0, i).join('.') || 'the body'} is a list of ${holder.length}, and "${key}" is not an index in it`);
      if (last) {
        const old: unknown = holder[index];
        holder[index] = value;
        return old;
      }
      holder = descend(holder[index], keys, i);
      continue;
    }
    if (last) {
      const old = Object.hasOwn(holder, key) ? holder[key] : undefined;
      holder[key] = value;
      return old;
    }
    if (!Object.hasOwn(holder, key) || holder[key] === null) holder[key] = {};
    holder = descend(holder[key], keys, i);
  }
  return undefined;
}

function descend(value: unknown, keys: readonly string[], i: number): Record<string, unknown> | unknown[] {
  if (value !== null && typeof value === 'object') return value as Record<string, unknown> | unknown[];
  throw new TransformError(`body.${keys.slice(0, i + 1).join('.')} is ${describeJson(value)}, which has no fields`);
}

/** What kind of JSON value `value` is, for an error. */
export function describeJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'bigint' || typeof value === 'number') return 'a number';
  if (typeof value === 'boolean') return 'a bool';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Map) return 'a map';
  return 'a value JSON cannot hold';
}


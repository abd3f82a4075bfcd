// What the policy gate asks of the rules in force, as an interface: PolicySet
// (policies/engine.ts) implements it with CEL, and NO_RULES is the set of a sidecar whose
// config names no policy files, so such a sidecar loads no CEL at all (issue 23). The
// protocols reach the CEL context and the transform rules only through it.
import type { Bindings } from './cel.js';
import type { ContextSource } from './context.js';
import { ALLOW, type Decision } from './decision.js';
import type { TransformInput, TransformOutcome } from './transform.js';
import type { Phase } from './vocabulary.js';

export interface RuleSet {
  /** Its generation: a reload makes a new one, and held calls are bound to theirs. */
  readonly version: number;
  /** True when some rule of `phase` could apply to `protocol`: callers skip building a context otherwise. */
  applies(phase: Phase, protocol: string): boolean;
  /** The decision on a request (or answer) tapwire cannot read (PolicySet.unreadable). */
  unreadable(protocol: string, why: string, phase?: Phase): Decision;
  /** Decides a call in `phase` (PolicySet.decide). */
  decide(phase: Phase, bindings: Bindings, now: number, count?: boolean): Decision;
  /** The CEL context of an exchange (policies/context.ts), asked for only when some rule applies. */
  context(source: ContextSource): Bindings;
  /** True when some transform rule could apply to `protocol`. */
  transforms(protocol: string): boolean;
  /** Runs the transform rules on a call let through (policies/transform.ts). */
  transform(input: TransformInput): TransformOutcome;
}

/** The rules of a config without policy files: none applies, nothing is refused or changed. */
export const NO_RULES: RuleSet = {
  version: 0,
  applies: () => false,
  unreadable: () => ALLOW,
  decide: () => ALLOW,
  context: () => {
    throw new Error('no policy rules apply, so no CEL context is built');
  },
  transforms: () => false,
  transform: () => ({ rewrite: null, findings: [] }),
};

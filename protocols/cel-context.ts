// The CEL context of an exchange with every protocol's variables, for what judges records
// outside the policy gate (`policy test`, --filter, the TUI's filter). Apart from
// registry.ts, which the sidecar loads without CEL (issue 23).
import type { Bindings } from '../policies/cel.js';
import { buildContext as bindContext, type ContextSource } from '../policies/context.js';
import { PROTOCOL_CONTEXTS } from './registry.js';

/** The CEL bindings of an exchange (policies/context.ts), with every protocol's variables. */
export function buildContext(source: Omit<ContextSource, 'protocols'>): Bindings {
  return bindContext({ ...source, protocols: PROTOCOL_CONTEXTS });
}

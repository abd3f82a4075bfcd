// A transform rule's change to a call as one line of text, as `tapwire policy test` reports
// it and the TUI's Policy tab lists it.
import type { Change } from '../policies/rewrite.js';

/** A body value as JSON; `undefined` (a field the body did not have) as "(none)". */
export function valueText(value: unknown): string {
  return value === undefined ? '(none)' : JSON.stringify(value);
}

/**
 * `body.path: from → to`, `header name: value` or `header name removed`. `value` shows body
 * values (default valueText); `headerValue` a header's new value (default: as it is).
 */
export function changeText(change: Change, value: (v: unknown) => string = valueText, headerValue: (to: string) => string = (to) => to): string {
  if ('set' in change) return `${change.set}: ${value(change.from)} → ${value(change.to)}`;
  if ('set_header' in change) return `header ${change.set_header}: ${headerValue(change.to)}`;
  return `header ${change.remove_header} removed`;
}

// Calls held for a person's approval (`action: approve`): the list a person decides from (the
// TUI, `tapwire approvals`, through the admin endpoint), each call bound to its rule, the
// policy version it was judged under and its arguments' hash, settled once: approved, denied,
// expired (the rule's timeout), stopped (the sidecar stopping) or abandoned (the agent gone).
// An approval covers that call only, unless its rule remembers it: then, for that long, the
// same rule, route, tool (or model) and arguments under the same policies pass without asking.
// It lives in policies/ because the gate (protocols/) holds calls and the proxy's admin
// endpoint settles them: the lowest layer both may import.
import { createHash } from 'node:crypto';
import type { ApprovalVerdict, Decision } from './decision.js';
import type { ApproveSpec } from './file.js';

/** What a person sees of a held call, and what binds an approval to it. */
export interface HeldCall {
  route: string;
  protocol: string;
  /** The JSON-RPC method, or the HTTP method and path. */
  method: string | null;
  /** The tool, model, resource or skill. */
  target: string | null;
  /** The call's arguments as the agent sent them (a tool's arguments, an LLM request's body). */
  arguments: unknown;
  /** The rule that holds it, and why. */
  rule: string;
  reason: string;
  /** The PolicySet version it was judged under. */
  policyVersion: number;
}

/** A held call as the admin endpoint lists it. */
export interface PendingApproval extends HeldCall {
  /** The held call's id (its HTTP call's exchange id); the record keeps it in details.approval.id. */
  id: string;
  /** sha256 of the arguments' JSON text. */
  arguments_hash: string;
  held_at: number;
  expires_at: number;
}

/** A person's decision on a held call. */
export interface Settlement {
  decision: 'approve' | 'deny';
  by: string;
  note: string | null;
}

interface Held {
  entry: PendingApproval;
  spec: ApproveSpec;
  settle: (verdict: ApprovalVerdict) => void;
  timer: NodeJS.Timeout;
}

/** How many remembered approvals are kept at most; the oldest goes first. */
export const MAX_REMEMBERED = 1000;

export class Approvals {
  private readonly held = new Map<string, Held>();
  /** Remembered approvals by call key (insertion order: oldest first): until when, and the verdict that made them. */
  private readonly remembered = new Map<string, { until: number; verdict: ApprovalVerdict }>();
  private stopped = false;

  constructor(
    private readonly maxRemembered = MAX_REMEMBERED,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Holds the call `id` until it is settled, its rule's timeout passes, or `gone` aborts (the
   * agent went away). A call an earlier approval still covers is approved at once.
   */
  hold(id: string, call: HeldCall, spec: ApproveSpec, gone?: AbortSignal): Promise<ApprovalVerdict> {
    const at = this.now();
    const argumentsHash = hashOf(call.arguments);
    const key = rememberKey(call, argumentsHash);
    const earlier = this.remembered.get(key);
    if (earlier && earlier.until > at) return Promise.resolve({ ...earlier.verdict, id, at, wait_ms: 0, remembered: true });
    if (this.stopped) return Promise.resolve(verdict(id, 'stopped', null, null, at, 0));
    const entry: PendingApproval = { ...call, id, arguments_hash: argumentsHash, held_at: at, expires_at: at + spec.timeoutMs };
    return new Promise((resolve) => {
      const settle = (v: ApprovalVerdict): void => {
        if (!this.held.delete(id)) return;
        clearTimeout(timer);
        gone?.removeEventListener('abort', onGone);
        if (v.decision === 'approved' && spec.rememberMs !== null) this.remember(key, v, v.at + spec.rememberMs);
        resolve(v);
      };
      const settleAs = (decision: ApprovalVerdict['decision']): void => {
        const now = this.now();
        settle(verdict(id, decision, null, null, now, now - at));
      };
      const onGone = (): void => settleAs('abandoned');
      const timer = setTimeout(() => settleAs('expired'), spec.timeoutMs);
      // A held call keeps its agent's connection open, and with it the process: the timer need not.
      timer.unref();
      this.held.set(id, { entry, spec, settle, timer });
      if (gone?.aborted) onGone();
      else gone?.addEventListener('abort', onGone, { once: true });
    });
  }

  /** The calls held now, oldest first. */
  list(): PendingApproval[] {
    return [...this.held.values()].map((h) => h.entry);
  }

  /** Settles a held call; a problem (an id no call is held under) otherwise. */
  settle(id: string, settlement: Settlement): { verdict: ApprovalVerdict } | { problem: string } {
    const held = this.held.get(id);
    if (!held) return { problem: `no call is held for approval under id ${id} (it was settled, expired, or never held)` };
    const at = this.now();
    const v = verdict(id, settlement.decision === 'approve' ? 'approved' : 'denied', settlement.by, settlement.note, at, at - held.entry.held_at);
    held.settle(v);
    return { verdict: v };
  }

  /** The sidecar is stopping: every held call is denied (recorded as stopped), and none is held from now on. */
  stop(): void {
    this.stopped = true;
    const at = this.now();
    for (const held of [...this.held.values()]) held.settle(verdict(held.entry.id, 'stopped', null, null, at, at - held.entry.held_at));
  }

  private remember(key: string, v: ApprovalVerdict, until: number): void {
    this.remembered.delete(key);
    this.remembered.set(key, { until, verdict: v });
    const now = this.now();
    for (const [k, r] of this.remembered) {
      if (this.remembered.size <= this.maxRemembered && r.until > now) break;
      this.remembered.delete(k);
    }
  }
}

function verdict(id: string, decision: ApprovalVerdict['decision'], by: string | null, note: string | null, at: number, waitMs: number): ApprovalVerdict {
  return { id, decision, by, at, note, wait_ms: waitMs, remembered: false };
}

function hashOf(value: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(value) ?? '')
    .digest('hex');
}

/** What a remembered approval covers: the same rule under the same policies, on the same route, target and arguments. */
function rememberKey(call: HeldCall, argumentsHash: string): string {
  return JSON.stringify([call.rule, call.policyVersion, call.route, call.target, argumentsHash]);
}

/** The decision a held call goes on with: allowed when approved, else denied, saying why; its verdict attached for the record. */
export function settledDecision(held: Decision, v: ApprovalVerdict): Decision {
  const reason = settledReason(held.rule, v, held.approve?.timeoutMs ?? 0);
  return { outcome: v.decision === 'approved' ? 'allow' : 'deny', rule: held.rule, reason, retryAfterSeconds: null, findings: held.findings, approval: v };
}

/** A call an approve rule matched where tapwire cannot hold it (`where`): refused, fail closed. */
export function unheld(held: Decision, where: string): Decision {
  return { ...held, outcome: 'deny', reason: `${held.reason}; tapwire cannot hold a call for approval ${where}, so it is refused`, approve: undefined };
}

function settledReason(rule: string | null, v: ApprovalVerdict, timeoutMs: number): string {
  const note = v.note ? `: ${v.note}` : '';
  switch (v.decision) {
    case 'approved':
      return v.remembered ? `approved earlier by ${v.by ?? 'someone'} (remembered by rule ${rule ?? ''})` : `approved by ${v.by ?? 'someone'}${note}`;
    case 'denied':
      return `denied by ${v.by ?? 'someone'}${note}`;
    case 'expired':
      return `nobody approved this call within ${Math.round(timeoutMs / 1000)}s`;
    case 'stopped':
      return 'tapwire stopped while this call waited for approval';
    case 'abandoned':
      return 'the agent went away while this call waited for approval';
  }
}

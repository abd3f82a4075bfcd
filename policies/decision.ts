// A policy decision and how it is recorded on an exchange (stamp, the approval in its
// details), apart from the CEL that reaches it: the protocols and the proxy stamp and read
// decisions with no policy files loaded, so this file loads no CEL (issue 23).
import type { Exchange } from '../core/exchange.js';
import type { ApproveSpec, CompiledRule } from './file.js';

export type Outcome = 'allow' | 'deny' | 'limit' | 'approve';

/** A rule that matched without deciding: an audit, a redaction, a monitor-mode refusal or hold, a skipped error. */
export interface Finding {
  rule: string;
  action: 'audit' | 'redact' | 'would_deny' | 'would_limit' | 'would_approve' | 'error';
  reason: string;
}

/** How a person (or the clock) settled a call held for approval; recorded in the exchange's details as `approval`. */
export interface ApprovalVerdict {
  /** The held call's id, as `tapwire approvals` lists it. */
  id: string;
  /** approved, denied; expired: the rule's timeout passed; stopped: the sidecar stopped; abandoned: the agent went away. */
  decision: 'approved' | 'denied' | 'expired' | 'stopped' | 'abandoned';
  /** Who decided (the TUI's user, the CLI's --as, the admin caller); null when nobody did. */
  by: string | null;
  /** When it was decided, unix ms. */
  at: number;
  note: string | null;
  /** How long the call was held, ms (0 when an earlier approval it remembers let it through). */
  wait_ms: number;
  /** True when the call was let through by an earlier approval of the same call (the rule's remember). */
  remembered: boolean;
}

export interface Decision {
  outcome: Outcome;
  /** The rule that refused the call (or the first allow that let it through); "file#default" for a default deny. */
  rule: string | null;
  reason: string;
  /** Limits: when the call may be tried again. */
  retryAfterSeconds: number | null;
  findings: Finding[];
  /** Outcome approve: the rule's timeout and remember. */
  approve?: ApproveSpec;
  /** A call that was held for approval: how it was settled. */
  approval?: ApprovalVerdict;
}

/** The decision that lets a call through with nothing to note. */
export const ALLOW: Decision = { outcome: 'allow', rule: null, reason: '', retryAfterSeconds: null, findings: [] };

/** True when `rule` can apply to exchanges of `protocol` (its expression names no other protocol's variables). */
export function appliesTo(rule: CompiledRule, protocol: string): boolean {
  return rule.when.protocols === null || rule.when.protocols.has(protocol);
}

/** Records a decision on the exchange: policy_rule, policy_action, policy_reason (and status denied when it refused). */
export function stamp(exchange: Exchange, decision: Decision): void {
  if (decision.approval) return stampApproval(exchange, decision, decision.approval);
  if (decision.outcome !== 'allow') {
    exchange.status = 'denied';
    exchange.policy_rule = decision.rule;
    exchange.policy_action = decision.outcome;
    exchange.policy_reason = decision.reason;
    return;
  }
  // What a reader of the record most needs first: a refusal monitor mode held back, then an
  // audit or a rule error; a redaction shows in the bodies themselves.
  const finding =
    decision.findings.find((f) => f.action === 'would_deny' || f.action === 'would_limit') ??
    decision.findings.find((f) => f.action !== 'redact') ??
    decision.findings[0];
  if (finding) {
    exchange.policy_rule = finding.rule;
    exchange.policy_action = finding.action;
    exchange.policy_reason = finding.reason;
  } else if (decision.rule) {
    exchange.policy_rule = decision.rule;
    exchange.policy_action = 'allow';
    exchange.policy_reason = decision.reason;
  }
}

/**
 * Records how a held call was settled: policy_action is the verdict (approved, denied,
 * expired, stopped, abandoned), and the details' `approval` keeps who, when, the note and the
 * wait, beside what the protocol keeps there.
 */
function stampApproval(exchange: Exchange, decision: Decision, verdict: ApprovalVerdict): void {
  if (verdict.decision !== 'approved') exchange.status = 'denied';
  exchange.policy_rule = decision.rule;
  exchange.policy_action = verdict.decision;
  exchange.policy_reason = decision.reason;
  exchange.details = withApproval(exchange.details, verdict);
}

/** An exchange's details (JSON object text, or null) with `approval` set. */
function withApproval(details: string | null, verdict: ApprovalVerdict): string {
  return JSON.stringify({ ...detailsObject(details), approval: verdict });
}

/** The approval stamped in an exchange's details, if any (a protocol rewriting its details keeps it). */
export function approvalIn(details: string | null): ApprovalVerdict | null {
  const approval = detailsObject(details).approval;
  return approval !== null && typeof approval === 'object' ? (approval as ApprovalVerdict) : null;
}

function detailsObject(details: string | null): Record<string, unknown> {
  try {
    const parsed: unknown = details ? JSON.parse(details) : null;
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // Details tapwire did not write as a JSON object hold no approval.
  }
  return {};
}

// `tapwire policy test FILE... [--db FILE] [--since 7d]`: runs the files' inline tests, then,
// with a database, replays the recorded exchanges through the policy (limits simulated in
// recorded time) and reports, per rule, what it would have denied, limited or flagged,
// with example exchange ids, and for transform rules what they would have changed in those.
import { openRecordReader, printableLocation } from '../../store/open.js';
import { eachRow } from '../../store/record-store.js';
import { PolicySet } from '../../policies/engine.js';
import { parseDuration, type Action } from '../../policies/file.js';
import { PolicyError } from '../../policies/policy-error.js';
import { loadPolicyFiles } from '../../policies/load.js';
import { findingAction, runInlineTests } from '../../policies/testing.js';
import { transformRequest } from '../../policies/transform.js';
import { changeText } from '../../tools/change-text.js';
import { recordedBody } from '../../store/bodies.js';
import { DEFAULT_REDACTED, redactHeaders } from '../../core/headers.js';

const CREDENTIAL_HEADERS: ReadonlySet<string> = new Set(DEFAULT_REDACTED);
import { PROTOCOL_CONTEXTS } from '../../protocols/registry.js';
import { buildContext } from '../../protocols/cel-context.js';

export interface PolicyTestOptions {
  db?: string;
  since?: string;
  /** Labels of the agent, for rules that read agent.labels (none: those recorded with each exchange). */
  agentLabels?: Record<string, string>;
}

const EXAMPLES = 3;

interface RuleTally {
  count: number;
  examples: string[];
}

/** Returns the exit code: 0 when every inline test passes, 1 when one fails, 2 for bad input. */
export async function policyTest(patterns: readonly string[], options: PolicyTestOptions, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  // Bad flags are refused before any test runs or any file is read.
  const sinceMs = options.since === undefined ? null : parseDuration(options.since);
  if (options.since !== undefined && sinceMs === null) {
    err.write(`tapwire: --since ${JSON.stringify(options.since)}: expected a duration such as 30m, 12h or 7d\n`);
    return 2;
  }
  let files;
  try {
    files = loadPolicyFiles(patterns);
  } catch (e) {
    if (!(e instanceof PolicyError)) throw e;
    err.write(`${e.explained.join('\n')}\n`);
    return 2;
  }
  let failures = 0;
  for (const file of files) {
    for (const result of runInlineTests(file, PROTOCOL_CONTEXTS)) {
      if (result.passed) out.write(`pass ${file.path}: ${result.test.name}\n`);
      else {
        failures++;
        const got = result.error ?? `got ${result.got!.action}${result.got!.rule ? ` (rule ${result.got!.rule})` : ''}`;
        out.write(`FAIL ${result.test.at}: ${result.test.name}: expected ${result.test.expect}${result.test.rule ? ` (rule ${result.test.rule})` : ''}, ${got}\n`);
      }
    }
  }
  const testCount = files.reduce((n, f) => n + f.tests.length, 0);
  out.write(`${testCount - failures}/${testCount} tests passed\n`);
  if (options.db) {
    await replayDatabase(new PolicySet(files), options.db, sinceMs === null ? 0 : Date.now() - sinceMs, options.agentLabels, out);
  }
  return failures > 0 ? 1 : 0;
}

async function replayDatabase(set: PolicySet, path: string, since: number, agentLabels: Record<string, string> | undefined, out: NodeJS.WritableStream): Promise<void> {
  const reader = await openRecordReader(path);
  try {
    let judged = 0;
    const tallies = new Map<string, Map<Action, RuleTally>>();
    /** Per transform rule, what it would have changed in its example exchanges. */
    const changed = new Map<string, string[]>();
    const note = (rule: string | null, action: Action, id: string): void => {
      const name = rule ?? '(default)';
      let byAction = tallies.get(name);
      if (!byAction) tallies.set(name, (byAction = new Map<Action, RuleTally>()));
      let tally = byAction.get(action);
      if (!tally) byAction.set(action, (tally = { count: 0, examples: [] }));
      tally.count++;
      if (tally.examples.length < EXAMPLES) tally.examples.push(id);
    };
    for await (const { id } of eachRow(reader, { op: '>=', field: 'exchange.started_at', value: since })) {
      judged++;
      const record = (await reader.get(id))!;
      // Judged as if no policy had run when it was recorded.
      const exchange = { ...record.exchange, policy_rule: null, policy_action: null, policy_reason: null };
      if (exchange.status === 'denied') exchange.status = 'ok';
      const bindings = buildContext({ exchange, request: record.request, response: record.response, events: record.events, agentLabels });
      const request = set.decide('request', bindings, exchange.started_at);
      if (request.outcome === 'allow') {
        // What the transform rules would have changed in what the agent sent (the record keeps that).
        const transformed = transformRequest(set.files, {
          protocol: exchange.protocol,
          headers: record.request?.headers ?? {},
          body: recordedBody(record.request)?.bytes ?? null,
          context: (headers, body) => buildContext({ exchange, request: { headers, body }, response: record.response, events: record.events, agentLabels }),
          // A credential a rule would set is not printed either.
          recorded: (name, value) => String(redactHeaders({ [name]: value }, CREDENTIAL_HEADERS)[name]),
        });
        const changes = 'rewrite' in transformed ? (transformed.rewrite?.changes ?? []) : [];
        if ('refused' in transformed) note(transformed.refused.rule, 'deny', id);
        for (const rule of new Set(changes.map((c) => c.rule))) {
          note(rule, 'transform', id);
          const shown = changed.get(rule) ?? [];
          if (shown.length < EXAMPLES) shown.push(`${id}: ${changes.filter((c) => c.rule === rule).map((c) => changeText(c)).join('; ')}`);
          changed.set(rule, shown);
        }
      }
      const decisions = request.outcome === 'allow' ? [request, set.decide('response', bindings, exchange.started_at)] : [request];
      for (const decision of decisions) {
        if (decision.outcome !== 'allow') note(decision.rule, decision.outcome, id);
        for (const f of decision.findings) {
          const action = findingAction(f);
          if (action) note(f.rule, action, id);
        }
      }
      // Token budgets are charged with what the call really used.
      set.review({ ...record, exchange }, { agentLabels, protocols: PROTOCOL_CONTEXTS });
    }
    out.write(`\n${judged} recorded exchanges${since > 0 ? ` since ${new Date(since).toISOString()}` : ''} from ${printableLocation(path)}:\n`);
    if (tallies.size === 0) out.write('  no rule would have denied, limited, flagged or transformed any of them\n');
    for (const [rule, byAction] of tallies) {
      for (const [action, tally] of byAction) {
        const verb = action === 'deny' ? 'denied' : action === 'limit' ? 'limited' : action === 'audit' ? 'flagged' : action === 'redact' ? 'redacted' : action === 'transform' ? 'transformed' : action === 'approve' ? 'held for approval' : 'allowed';
        out.write(`  ${rule}: would have ${verb} ${tally.count} (e.g. ${tally.examples.join(', ')})\n`);
        if (action === 'transform') for (const line of changed.get(rule) ?? []) out.write(`    ${line}\n`);
      }
    }
  } finally {
    await reader.close();
  }
}

// `tapwire wrap`: an MCP client launches tapwire in place of a stdio server. tapwire spawns
// the server, relays both directions byte for byte, passes the server's stderr through,
// records every message, answers the client's pending requests with errors when the server
// dies, flushes the record and reports the server's exit status as its own. stdout is the
// protocol channel: tapwire itself only ever writes there what the server wrote, plus those
// error answers. With the config's policies, each client request is decided as on an HTTP
// route (a refused one never reaches the server; its answer goes to stdout), and answers
// to list requests are filtered: the relays then move whole lines.
import { randomUUID } from 'node:crypto';
import type { Writable } from 'node:stream';
import { PolicyGate } from '../protocols/policy-gate.js';
import { PROTOCOL_CONTEXTS } from '../protocols/registry.js';
import { AnswerReviews } from '../protocols/mcp/answer-review.js';
import { admitMessage, admitUnreadable } from '../protocols/mcp/gate.js';
import { ConfigError, eventLimitsOf, type Config } from '../config/config.js';
import { redactHeaders } from '../core/headers.js';
import { CONNECTION_CLOSED, errorResponse, INVALID_REQUEST, parseJsonRpc } from '../core/jsonrpc.js';
import type { Logger } from '../core/log.js';
import { Recording } from './recording.js';
import type { Line } from '../core/lines.js';
import { readLine, trackLine } from '../protocols/mcp/stdio-lines.js';
import { describeExit, exitStatus, StdioServerProcess, type ProcessExit, type StdioCommand } from '../protocols/mcp/stdio-process.js';
import { relayLines, type LineFate } from '../protocols/mcp/stdio-relay.js';
import { McpTracker, type McpDecisions, type McpSession } from '../protocols/mcp/tracker.js';

const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/**
 * What `tapwire wrap --route NAME [-- command...]` runs: the command after `--`, else the
 * route's own `command` and `args`. The route must be an mcp route; its `env` is added to
 * tapwire's own environment (the client chose what to give the server) and `cwd` applies.
 */
export function wrapCommand(config: Config, routeName: string, commandLine: readonly string[], env: NodeJS.ProcessEnv = process.env): StdioCommand {
  const route = config.routes[routeName];
  if (!route) {
    throw new ConfigError(`no route "${routeName}" in the config; routes: ${Object.keys(config.routes).join(', ') || '(none)'}`);
  }
  if (route.protocol !== 'mcp') throw new ConfigError(`route "${routeName}" has protocol ${route.protocol}; wrap needs an mcp route`);
  const [command, ...args] = commandLine.length > 0 ? commandLine : route.command ? [route.command, ...(route.args ?? [])] : [];
  if (!command) throw new ConfigError(`route "${routeName}" has no command: give the server's command after --`);
  return { command, args, env: { ...env, ...route.env }, cwd: route.cwd };
}

export interface WrapOptions {
  config: Config;
  routeName: string;
  command: StdioCommand;
  /** tapwire's own messages: to stderr, never stdout. */
  log: Logger;
}

/** Runs the wrapped server to its end and returns the exit status tapwire should exit with. */
export async function runWrap({ config, routeName, command, log }: WrapOptions): Promise<number> {
  const route = config.routes[routeName]!;
  // Spans and metrics, when an OTLP endpoint is configured (tapwire.yaml or OTEL_*), built
  // like the sidecar's from the record after the policies' review (and so their redactions).
  const recording = await Recording.open(config, log, process.env, { telemetry: { wrapRoute: routeName } });
  const { policies, telemetry, sink } = recording;
  const gate = policies ? new PolicyGate(() => policies.current, { agentLabels: config.agent.labels, identity: null, redact: (headers) => redactHeaders(headers, recording.redacted), sink, protocols: PROTOCOL_CONTEXTS }) : null;
  const tracker = new McpTracker({
    agent: config.agent.name,
    route: routeName,
    sink,
    eventLimits: eventLimitsOf(config),
    pendingTimeoutMs: route.timeouts.response_ms,
    onError: (err) => log.error({ err }, 'could not complete an MCP record'),
    traces: telemetry.traces,
  });
  const session = tracker.session(randomUUID());
  const stdout = process.stdout;
  // A client that stops reading is the client's business; the server's exit still ends tapwire.
  stdout.on('error', () => undefined);

  const server = StdioServerProcess.start(command, 'inherit');
  const forwardSignal = (signal: NodeJS.Signals): void => server.signal(signal);
  for (const signal of FORWARDED_SIGNALS) process.on(signal, forwardSignal);
  const reviews = new AnswerReviews();
  const fromClient = (line: Line): LineFate => {
    const read = readLine(line);
    /** The policies' decisions on the line, recorded with it. */
    let decisions: McpDecisions | null = null;
    if (gate && read.kind === 'message' && read.message.kind === 'request') {
      const request = read.message;
      const admission = admitMessage(gate, { agent: config.agent.name, route: routeName, sessionId: session.sessionId, request, body: line.bytes, headers: {}, httpStatus: null });
      if ('refusal' in admission) {
        // Written between two whole lines of the server's: the server-to-client relay holds partial ones.
        if (!stdout.destroyed) stdout.write(`${JSON.stringify(admission.refusal)}\n`);
        return null;
      }
      if (admission.review) reviews.expect(request.id, admission.review);
      decisions = admission.decisions;
    }
    const batch = gate && read.kind === 'invalid' ? parseJsonRpc(line.bytes.toString('utf8')) : null;
    if (gate && read.kind === 'invalid' && !(batch?.ok && batch.batch)) {
      // A line tapwire cannot read (not JSON, nested too deep, too long): no rule can judge
      // it, so with request-phase rules it never reaches the server.
      const admitted = admitUnreadable(gate, { agent: config.agent.name, route: routeName, sessionId: session.sessionId, body: line.bytes, headers: {}, httpStatus: null }, read.reason);
      if ('refusal' in admitted) {
        if (!stdout.destroyed) stdout.write(`${JSON.stringify(admitted.refusal)}\n`);
        return null;
      }
      decisions = admitted.decisions;
    }
    trackLine(tracker, session, 'client_to_server', read, { headers: {}, bytes: line.bytes, decisions });
    if (batch?.ok && batch.batch) {
      // Stdio MCP has no batches, and a batch cannot be judged as one message: under
      // policies its requests are answered with an error instead of reaching the server.
      for (const member of batch.messages) {
        if (member.kind !== 'request' || stdout.destroyed) continue;
        stdout.write(`${JSON.stringify(errorResponse(member.id, INVALID_REQUEST, 'tapwire: stdio MCP carries no JSON-RPC batches; with policies on, they are not forwarded'))}\n`);
      }
      return null;
    }
    return undefined;
  };
  const fromServer = (line: Line): LineFate => {
    const read = readLine(line);
    const replacement = read.kind === 'message' ? reviews.answer(read.message.raw) : null;
    const sent: Line = replacement === null ? line : { bytes: Buffer.from(replacement.text), overflowed: false };
    // A refusal is recorded as the client receives it: what a response-phase rule blocked is stored nowhere.
    const recorded = replacement?.refused ? sent : line;
    trackLine(tracker, session, 'server_to_client', recorded === line ? read : readLine(recorded), { headers: {}, bytes: recorded.bytes });
    return replacement === null ? undefined : sent.bytes;
  };
  void relayLines(process.stdin, server.stdin, fromClient, gate !== null).then(() => server.stdin.end());
  void relayLines(server.stdout, stdout, fromServer, gate !== null);

  // The handlers stay until the record is flushed: a signal now must not cut the flush short.
  const exit = await server.exited;
  process.stdin.destroy();
  if (exit.kind === 'not_started') log.error({ command: command.command, err: exit.error.message }, 'cannot start the MCP server');
  answerPending(tracker, session, exit, stdout);
  await tracker.close();
  // Spans and metrics go last, with every record in them; an endpoint down or hanging delays the exit by at most 2 s.
  await recording.close(2000);
  const { failed } = recording.recorder.getStats();
  if (failed > 0) log.error({ failed }, 'some records could not be written');
  log.flush();
  await drained(stdout);
  for (const signal of FORWARDED_SIGNALS) process.off(signal, forwardSignal);
  return exitStatus(exit);
}

/**
 * The server is gone: each client request it left unanswered gets a JSON-RPC error on
 * stdout, so the client does not wait forever, and is recorded with error_code server_exited.
 */
function answerPending(tracker: McpTracker, session: McpSession, exit: ProcessExit, stdout: Writable): void {
  const message = `the MCP server ${describeExit(exit)} before answering`;
  const data = {
    tapwire_error: 'server_exited',
    exit_code: exit.kind === 'exited' ? exit.code : null,
    signal: exit.kind === 'signalled' ? exit.signal : null,
  };
  const answers: Buffer[] = [];
  tracker.failPending(session, 'client_to_server', 'server_exited', message, (id) => {
    const answer = Buffer.from(JSON.stringify(errorResponse(id, CONNECTION_CLOSED, `tapwire: ${message}`, data)));
    answers.push(answer, Buffer.from('\n'));
    return answer;
  });
  if (answers.length > 0 && !stdout.destroyed) stdout.write(Buffer.concat(answers));
  // Requests the server sent and the client never answered end with it.
  tracker.endSession(session.key, 'server_exited', `the MCP server ${describeExit(exit)}`);
}

function drained(stream: Writable): Promise<void> {
  if (stream.destroyed || !stream.writable) return Promise.resolve();
  return new Promise((resolve) => stream.write('', () => resolve()));
}

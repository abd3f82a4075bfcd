// The peers the comparative bench puts between the load generator and the mock upstream:
// nothing (direct), the bare Node pass-through, nginx, the Portkey gateway (LLM route only)
// and tapwire twice: with everything on (recording, 10 policy rules, OTLP export to a local
// endpoint that accepts and discards) and recording only (the defaults: no policies, no
// export). tapwire is started fresh for each scenario, so each scenario's database holds
// exactly that scenario's requests; the others live for the run.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MCP_PATH } from './mcp-fixtures.js';
import { startNginx } from './nginx.js';
import { benchPolicyYaml } from './policy-rules.js';
import { portkeyHeaders, startPortkey } from './portkey.js';
import { forkListening, stopChild, type SidecarOptions, type SidecarProcess, type UpstreamProcess } from './processes.js';

export const PEER_NAMES = ['direct', 'node', 'nginx', 'portkey', 'tapwire', 'recording'] as const;
export type PeerName = (typeof PEER_NAMES)[number];
/** The two ways the bench runs tapwire: everything on, and recording only. */
export type TapwireVariant = 'tapwire' | 'recording';
export const TAPWIRE_VARIANTS: readonly TapwireVariant[] = ['tapwire', 'recording'];
/** How the logs and record checks name each variant. */
export const VARIANT_LABELS: Record<TapwireVariant, string> = { tapwire: 'everything on', recording: 'recording only' };

export const PEER_LABELS: Record<PeerName, string> = {
  direct: 'direct',
  node: 'bare Node pass-through',
  nginx: 'nginx',
  portkey: 'Portkey gateway',
  tapwire: 'tapwire, everything on',
  recording: 'tapwire, recording only',
};

export const CHAT_PATH = '/v1/chat/completions';

export interface Peer {
  name: PeerName;
  origin: string;
  llmPath: string;
  /** null: the peer has no MCP route (Portkey). */
  mcpPath: string | null;
  /** Added to LLM requests. */
  headers: Record<string, string>;
  /** The proxy's process (CPU, memory); undefined for direct. */
  pid: number | undefined;
}

/** The long-lived peers: direct, the bare pass-through, nginx and Portkey. */
export interface StandingPeers {
  peers: Record<Exclude<PeerName, TapwireVariant>, Peer>;
  processes: UpstreamProcess[];
}

export async function startStandingPeers(dir: string, upstreamOrigin: string): Promise<StandingPeers> {
  const node = await forkListening('./passthrough.js', [upstreamOrigin], 'bare Node pass-through');
  const nginx = await startNginx(join(dir, 'nginx'), upstreamOrigin);
  const portkey = await startPortkey();
  const peer = (name: PeerName, process: UpstreamProcess | null, mcp: boolean, headers: Record<string, string> = {}): Peer => ({
    name,
    origin: process?.origin ?? upstreamOrigin,
    llmPath: CHAT_PATH,
    mcpPath: mcp ? MCP_PATH : null,
    headers,
    pid: process?.child.pid,
  });
  return {
    peers: {
      direct: peer('direct', null, true),
      node: peer('node', node, true),
      nginx: peer('nginx', nginx, true),
      portkey: peer('portkey', portkey, false, portkeyHeaders(upstreamOrigin)),
    },
    processes: [node, nginx, portkey],
  };
}

export interface TapwirePeer extends Peer {
  name: TapwireVariant;
  sidecar: SidecarProcess;
}

/** tapwire's options with everything on, its files in `dir`. */
export function everythingOn(dir: string, upstreamOrigin: string, otlpUrl: string, nodeFlags: string[] = []): SidecarOptions {
  mkdirSync(dir, { recursive: true });
  return {
    dir,
    upstreamOrigin,
    logLevel: undefined,
    nodeFlags,
    env: {},
    otlpEndpoint: otlpUrl,
    mcpUpstream: `${upstreamOrigin}${MCP_PATH}`,
    policyYaml: benchPolicyYaml(),
  };
}

/** tapwire's options recording only, its files in `dir`: the defaults (no policies, no export; the Prometheus endpoint on, as by default). */
export function recordingOnly(dir: string, upstreamOrigin: string, nodeFlags: string[] = []): SidecarOptions {
  mkdirSync(dir, { recursive: true });
  return { dir, upstreamOrigin, logLevel: undefined, nodeFlags, env: {}, mcpUpstream: `${upstreamOrigin}${MCP_PATH}` };
}

export function tapwirePeer(sidecar: SidecarProcess, variant: TapwireVariant = 'tapwire'): TapwirePeer {
  return { name: variant, origin: sidecar.origin, llmPath: `/openai${CHAT_PATH}`, mcpPath: MCP_PATH, headers: {}, pid: sidecar.child.pid, sidecar };
}

/** What a stopped tapwire's database holds against what it was sent. */
export interface RecordCheck {
  scenario: string;
  sent: number;
  recorded: number;
  /** Exchanges recorded with status ok. */
  ok: number;
  exitCode: number | null;
  /** One exchange per request, and a clean stop. */
  passed: boolean;
  dbPath: string;
}

/**
 * Stops tapwire gracefully (every queued record is flushed) and counts its exchanges: there
 * must be exactly one per request sent. Whether each was answered right is the load
 * generator's check; `ok` counts those recorded with status ok (a request the client gave up
 * on is recorded aborted). With `cutAtEnd` (wrk, which closes its connections when its time
 * is up and counts only the answers it read), `sent` is what the client completed, and up to
 * `cutAtEnd` more may be recorded: requests tapwire carried whose answer was no longer read.
 */
export async function stopAndCheck(tapwire: TapwirePeer, scenario: string, sent: number, cutAtEnd = 0): Promise<RecordCheck> {
  const exitCode = await stopChild(tapwire.sidecar.child, 'SIGTERM', 20_000);
  const row = countRecorded(tapwire.sidecar.dbPath);
  const exact = cutAtEnd === 0 ? row.recorded === sent : row.recorded >= sent && row.recorded <= sent + cutAtEnd;
  const named = tapwire.name === 'recording' ? `${scenario}, ${VARIANT_LABELS.recording}` : scenario;
  return { scenario: named, sent, recorded: row.recorded, ok: row.ok, exitCode, passed: exitCode === 0 && exact, dbPath: tapwire.sidecar.dbPath };
}

/**
 * The exchanges a tapwire database holds, and those with status ok, counted with plain SQL on
 * the file (read-only) rather than through the record reader: bench:builds checks another
 * build's database too, whose schema version may be older than this checkout's reader takes.
 */
function countRecorded(dbPath: string): { recorded: number; ok: number } {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare("SELECT count(*) AS recorded, coalesce(sum(status = 'ok'), 0) AS ok FROM exchanges").get() as { recorded: number; ok: number };
    return row;
  } finally {
    db.close();
  }
}

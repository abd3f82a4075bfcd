// Summarises V8 .cpuprofile files (as written by `node --cpu-prof`, e.g. from
// `BENCH_PROFILE=<dir> npm run bench`): the functions with the most self time, and the
// files/packages with the most self and total (inclusive) time, and the busy time by what
// tapwire was doing (its features, the HTTP work every proxy does, GC). The features are told
// by file, so they need a profile of the unbundled build (BENCH_TAPWIRE_CLI=dist/cli/cli.js).
// Usage: node dist/bench/cpuprofile-summary.js <file.cpuprofile> [top=30] [--skip <seconds>]
// (--skip leaves out the first seconds of the profile, e.g. start-up before the load began).
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** "node_modules/undici/…" -> "undici", "dist/proxy/forward.js" -> "proxy/forward.js", "node:internal/…" stays. */
function place(url: string): string {
  if (!url) return '(native/vm)';
  const modules = url.lastIndexOf('node_modules/');
  if (modules !== -1) return url.slice(modules + 'node_modules/'.length).split('/').slice(0, url.includes('/@', modules) ? 2 : 1).join('/');
  const dist = url.indexOf('/dist/');
  if (dist !== -1) return url.slice(dist + '/dist/'.length);
  return url;
}

/** tapwire's own compiled code: tsc's layer folders, or the bundle (whose chunks hold inlined packages too). */
const OURS = /\/dist\/(core|config|policies|store|telemetry|protocols|proxy|tools|tui|demo|cli|bundle)\//;

/**
 * What a sample's CPU went to, first match wins: a feature anywhere on the stack claims the
 * sample (a socket write made by the span exporter is the spans' cost), then the proxying
 * every pass-through does, then the runtime.
 */
const FEATURES: [feature: string, frame: RegExp][] = [
  ['spans (building, batching, OTLP export)', /\/dist\/telemetry\/(spans|attributes|content)\.js|@opentelemetry\/(sdk-trace|exporter-trace|otlp-transformer|otlp-exporter-base|core|resources)/],
  ['metrics', /\/dist\/telemetry\/(metrics|local-instruments|otlp-metric-reader|prometheus-reader)\.js|@opentelemetry\/(sdk-metrics|exporter-metrics|exporter-prometheus)/],
  ['policies (CEL rules, limits, redaction)', /\/dist\/policies\/|@bufbuild\/cel|\/dist\/protocols\/(policy-gate|[a-z0-9]+\/gate)\.js/],
  ['exchange log line (pino)', /node_modules\/(pino|sonic-boom|fast-redact|quick-format-unescaped)\/|\/dist\/core\/log\.js/],
  ['hand-off to the SQLite writer thread', /\/dist\/store\/|node:internal\/worker/],
  ['the record stages (proxy/recording.js)', /\/dist\/proxy\/recording\.js/],
  ['reading the call and answer (JSON, SSE, usage, cost)', /\/dist\/(core|protocols)\//],
  ['routing and request handling (proxy/sidecar.js and its stages)', /\/dist\/proxy\/(sidecar|routes|wrap|inbound|request-body|responses)\.js/],
  ['forwarding: upstream client (undici) and the proxy\'s own forwarding', /node_modules\/undici\/|\/dist\/proxy\/(forward|listener)\.js/],
  ['HTTP server and sockets (node:http, node:net)', /^node:(_http|net|internal\/(streams|stream_base_commons|http))|^node:events/],
];

function featureOf(id: number, byId: Map<number, ProfileNode>, parent: Map<number, number>): string {
  const name = byId.get(id)!.callFrame.functionName;
  if (name === '(garbage collector)') return 'garbage collection';
  const urls: string[] = [];
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) urls.push(byId.get(at)!.callFrame.url);
  for (const [feature, frame] of FEATURES) if (urls.some((url) => frame.test(url))) return feature;
  return name === '(program)' ? '(program): V8 and native work outside JS' : 'other (Node internals, timers, microtasks)';
}

function summarise(path: string, top: number, skipSeconds: number): void {
  const profile = withoutFirst(JSON.parse(readFileSync(path, 'utf8')) as CpuProfile, skipSeconds);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const totalUs = profile.endTime - profile.startTime;

  const fnSelf = new Map<string, number>();
  const byFeature = new Map<string, number>();
  const placeSelf = new Map<string, number>();
  const placeTotal = new Map<string, number>();
  const oursTotal = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    const key = `${frame.functionName || '(anonymous)'} ${place(frame.url)}:${frame.lineNumber + 1}`;
    fnSelf.set(key, (fnSelf.get(key) ?? 0) + us);
    if (frame.functionName !== '(idle)') {
      const feature = featureOf(id, byId, parent);
      byFeature.set(feature, (byFeature.get(feature) ?? 0) + us);
    }
    placeSelf.set(place(frame.url), (placeSelf.get(place(frame.url)) ?? 0) + us);
    // Inclusive time: each place (and each tapwire function) on the stack counts once per sample.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const atFrame = byId.get(at)!.callFrame;
      const p = place(atFrame.url);
      if (!seen.has(p)) {
        seen.add(p);
        placeTotal.set(p, (placeTotal.get(p) ?? 0) + us);
      }
      const fn = `${atFrame.functionName || '(anonymous)'} ${p}:${atFrame.lineNumber + 1}`;
      if (OURS.test(atFrame.url) && !seen.has(fn)) {
        seen.add(fn);
        oursTotal.set(fn, (oursTotal.get(fn) ?? 0) + us);
      }
    }
  }
  const pct = (us: number): string => `${((us / totalUs) * 100).toFixed(1).padStart(5)}%`;
  const print = (title: string, rows: Map<string, number>, n: number): void => {
    console.log(`\n${title}`);
    for (const [key, us] of [...rows].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`  ${pct(us)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${key}`);
  };
  console.log(`${path}: ${(totalUs / 1e6).toFixed(1)} s profiled`);
  print('self time by function', fnSelf, top);
  print('self time by file/package', placeSelf, 20);
  print('total (inclusive) time by file/package', placeTotal, 20);
  print('total (inclusive) time by tapwire function', oursTotal, top);
  const busyUs = [...byFeature.values()].reduce((a, b) => a + b, 0);
  console.log(`\nbusy time by what it went to (${(busyUs / 1000).toFixed(0)} ms busy; share of busy time)`);
  for (const [feature, us] of [...byFeature].sort((a, b) => b[1] - a[1])) console.log(`  ${((us / busyUs) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${feature}`);
  printLongTasks(profile, byId, parent, 10);
}

/** The profile from `seconds` after its start on (samples and their deltas; startTime moved there). */
function withoutFirst(profile: CpuProfile, seconds: number): CpuProfile {
  if (seconds <= 0) return profile;
  const from = profile.startTime + seconds * 1e6;
  let at = profile.startTime;
  let first = profile.samples.length;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    if (at >= from) {
      first = i;
      break;
    }
  }
  return { ...profile, startTime: Math.min(at, profile.endTime), samples: profile.samples.slice(first), timeDeltas: [0, ...profile.timeDeltas.slice(first + 1)] };
}

/**
 * The longest stretches of back-to-back busy samples (no idle sample between): what held the
 * event loop when latency spiked. For each, the functions that took most of it, by self time
 * and by the sidecar/store function on the stack.
 */
function printLongTasks(profile: CpuProfile, byId: Map<number, ProfileNode>, parent: Map<number, number>, n: number): void {
  const isIdle = (id: number): boolean => {
    const name = byId.get(id)!.callFrame.functionName;
    return name === '(idle)' || name === '(program)';
  };
  const tasks: { startUs: number; us: number; samples: number[] }[] = [];
  let at = profile.startTime;
  let current: { startUs: number; us: number; samples: number[] } | null = null;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (isIdle(id)) {
      if (current) tasks.push(current);
      current = null;
      return;
    }
    current ??= { startUs: at - profile.startTime, us: 0, samples: [] };
    current.us += delta;
    current.samples.push(id);
  });
  if (current) tasks.push(current);
  console.log(`\nlongest busy stretches (no idle sample between), of ${tasks.length}:`);
  for (const task of tasks.sort((a, b) => b.us - a.us).slice(0, n)) {
    const self = new Map<string, number>();
    const ours = new Map<string, number>();
    for (const id of task.samples) {
      const frame = byId.get(id)!.callFrame;
      const key = `${frame.functionName || '(anonymous)'} ${place(frame.url)}`;
      self.set(key, (self.get(key) ?? 0) + 1);
      for (let up: number | undefined = id; up !== undefined; up = parent.get(up)) {
        const f = byId.get(up)!.callFrame;
        if (OURS.test(f.url)) {
          const k = `${f.functionName || '(anonymous)'} ${place(f.url)}`;
          ours.set(k, (ours.get(k) ?? 0) + 1);
          break;
        }
      }
    }
    const top = (m: Map<string, number>): string =>
      [...m].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([k, c]) => `${k} ×${c}`).join(', ');
    console.log(`  ${(task.us / 1000).toFixed(1).padStart(6)} ms at ${(task.startUs / 1e6).toFixed(2)} s: ${task.samples.length} samples; self: ${top(self)}`);
    if (ours.size > 0) console.log(`         innermost tapwire frame: ${top(ours)}`);
  }
}

const args = process.argv.slice(2);
const skipAt = args.indexOf('--skip');
const skipSeconds = skipAt === -1 ? 0 : Number(args.splice(skipAt, 2)[1]);
const [file, topText] = args;
if (!file || !Number.isFinite(skipSeconds) || (topText !== undefined && !Number.isInteger(Number(topText)))) {
  console.error('usage: node dist/bench/cpuprofile-summary.js <file.cpuprofile> [top=30] [--skip <seconds>]');
  process.exitCode = 2;
} else {
  summarise(file, Number(topText ?? '30'), skipSeconds);
}

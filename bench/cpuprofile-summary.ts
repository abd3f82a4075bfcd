// Summarises V8 .cpuprofile files (as written by `node --cpu-prof`, e.g. from
// `BENCH_PROFILE=<dir> npm run bench`): the functions with the most self time, and the
// files/packages with the most self and total (inclusive) time.
// Usage: node dist/bench/cpuprofile-summary.js <file.cpuprofile> [top=30]
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

function summarise(path: string, top: number): void {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const totalUs = profile.endTime - profile.startTime;

  const fnSelf = new Map<string, number>();
  const placeSelf = new Map<string, number>();
  const placeTotal = new Map<string, number>();
  const oursTotal = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    const key = `${frame.functionName || '(anonymous)'} ${place(frame.url)}:${frame.lineNumber + 1}`;
    fnSelf.set(key, (fnSelf.get(key) ?? 0) + us);
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
  printLongTasks(profile, byId, parent, 10);
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

const [file, topText] = process.argv.slice(2);
if (!file) {
  console.error('usage: node dist/bench/cpuprofile-summary.js <file.cpuprofile> [top]');
  process.exitCode = 2;
} else {
  summarise(file, Number(topText ?? '30'));
}

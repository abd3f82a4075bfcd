// The frame every bench command runs in: its work directory (BENCH_KEEP_DIR keeps it at that
// path; otherwise a temporary one, removed when the run succeeds or is interrupted and kept
// for inspection when it fails), a failure printed instead of thrown, and every child process
// and target it started stopped at the end; and where every bench writes its results.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAllChildren, removeOnInterrupt } from './processes.js';

/** bench/results of this checkout, or BENCH_RESULTS_DIR. */
export const RESULTS_DIR = process.env.BENCH_RESULTS_DIR || fileURLToPath(new URL('../../bench/results', import.meta.url));

export interface BenchWork {
  dir: string;
  /** True when BENCH_KEEP_DIR named the directory: it stays, databases and all. */
  kept: boolean;
  log: (line: string) => void;
  /** Runs `stop` when the run ends, whether it succeeded or not. */
  atEnd: (stop: () => Promise<void> | void) => void;
}

/** Runs `bench` in its work directory; resolves its exit code: 0 when it returned true, 1 when it returned false or threw. */
export async function benchMain(what: string, tempPrefix: string, bench: (work: BenchWork) => Promise<boolean>): Promise<number> {
  const keepDir = process.env.BENCH_KEEP_DIR ? resolve(process.env.BENCH_KEEP_DIR) : null;
  if (keepDir) mkdirSync(keepDir, { recursive: true });
  const dir = keepDir ?? mkdtempSync(join(tmpdir(), tempPrefix));
  if (!keepDir) removeOnInterrupt(dir);
  const stops: (() => Promise<void> | void)[] = [];
  let succeeded = false;
  try {
    succeeded = await bench({ dir, kept: keepDir !== null, log: (line) => console.log(line), atEnd: (stop) => stops.push(stop) });
    return succeeded ? 0 : 1;
  } catch (err) {
    console.error(`\n${what} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return 1;
  } finally {
    killAllChildren();
    for (const stop of stops.reverse()) await stop();
    if (!keepDir && succeeded) rmSync(dir, { recursive: true, force: true });
    else if (!keepDir) console.error(`work dir kept for inspection: ${dir}`);
  }
}

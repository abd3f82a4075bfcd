// Test harness for breaking tapwire's store while it runs: a size-limited tmpfs mounted by
// the test (tests run as root in a container), a file that fills it, the immutable flag
// (chattr +i: refused writes even through open descriptors and even for root), a second
// SQLite connection holding the write lock, a logger whose lines the test reads, and
// readers for the Prometheus metrics and the database's integrity.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { createLogger, type Logger } from '../../core/log.js';

/** A tmpfs of `sizeBytes` mounted on a fresh directory; unmount() removes it. */
export function mountTmpfs(sizeBytes: number): { dir: string; unmount(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`this test mounts a size-limited tmpfs to fill a disk, and needs root (CAP_SYS_ADMIN): ${stderr ?? String(err)}`);
  }
  return {
    dir,
    unmount(): void {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Writes a file in `dir` until the filesystem has no space left; returns its path. */
export function fillDisk(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, block);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    // The last partial pages: a filesystem is only full when even small writes fail.
    try {
      for (;;) writeSync(fd, block, 0, 512);
    } catch {
      // full
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

/** Sets (`+i`) or clears (`-i`) the immutable flag, which refuses writes through descriptors already open. */
export function chattr(flag: '+i' | '-i', files: string[]): void {
  execFileSync('chattr', [flag, ...files], { stdio: 'pipe' });
}

/** Another process's lock: a second connection in an exclusive transaction until release(). */
export function lockDatabase(path: string): { release(): void } {
  const db = new Database(path);
  db.exec('BEGIN EXCLUSIVE');
  return {
    /** Commits and closes; a second call does nothing. */
    release(): void {
      if (!db.open) return;
      db.exec('COMMIT');
      db.close();
    },
  };
}

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** A logger at `info` whose lines land in `lines`, parsed. */
export function capturingLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done): void {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  return { log: createLogger('info', sink), lines };
}

/** The value of the first sample of `name` on the sidecar's Prometheus endpoint (0 when absent). */
export async function metricValue(sidecarUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${sidecarUrl}/_tapwire/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

/** SQLite's own check of the whole file: "ok" when the database is sound. */
export function integrityCheck(path: string): string {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db.pragma('integrity_check', { simple: true }) as string;
  } finally {
    db.close();
  }
}

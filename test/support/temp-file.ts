// Test helper: a file (a config, a policy) that lives as long as one test.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

/** Writes `text` to `name` in a directory of its own, removed when `t` ends; returns the file's path. */
export function tempFile(t: Pick<TestContext, 'after'>, name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-test-file-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

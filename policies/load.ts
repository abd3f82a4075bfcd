// Finds and loads the policy files a config names: each entry is a path whose file name may
// hold `*` and `?` wildcards (policies/*.yaml); files load in the order given, and matches
// of one pattern in name order.
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { loadPolicyFile, PolicyError, type PolicyFile } from './file.js';

/** A file-name pattern (`*`, `?`) as a regular expression over names. */
export function wildcard(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${escaped}$`);
}

/** The files a pattern names; a pattern without wildcards names its file even when missing (the load says so). */
export function expandPattern(pattern: string): string[] {
  const name = basename(pattern);
  if (!/[*?]/.test(name)) return [pattern];
  if (/[*?]/.test(dirname(pattern))) throw new PolicyError([`${pattern}: wildcards are only allowed in the file name`]);
  const dir = dirname(pattern);
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (err) {
    throw new PolicyError([`${pattern}: cannot read directory ${dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
  const match = wildcard(name);
  return entries.filter((entry) => match.test(entry)).sort().map((entry) => join(dir, entry));
}

/** Loads every file the patterns name; all problems of all files are reported together. */
export function loadPolicyFiles(patterns: readonly string[]): PolicyFile[] {
  const files: PolicyFile[] = [];
  const problems: string[] = [];
  for (const path of patterns.flatMap(expandPattern)) {
    try {
      files.push(loadPolicyFile(path));
    } catch (err) {
      if (!(err instanceof PolicyError)) throw err;
      problems.push(...err.problems);
    }
  }
  if (problems.length > 0) throw new PolicyError(problems);
  return files;
}

// Finds and loads the policy files a config names: each entry is a path whose file name may
// hold `*` and `?` wildcards (policies/*.yaml), or a URL whose text the caller fetched
// (policies/remote.ts); files load in the order given, and matches of one pattern in name order.
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isPolicyUrl } from '../config/config.js';
import { loadPolicyFile, parsePolicyFile, type PolicyFile } from './file.js';
import { PolicyError } from './policy-error.js';
import type { RemotePolicy } from './remote.js';

/** A file-name pattern (`*`, `?`) as a regular expression over names. */
export function wildcard(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${escaped}$`);
}

/** The files a pattern names; a pattern without wildcards names its file even when missing (the load says so). */
export function expandPattern(pattern: string): string[] {
  if (isPolicyUrl(pattern)) return [pattern];
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

/**
 * Loads every file the patterns name, a URL's from `fetched`; all problems of all files are
 * reported together.
 */
export function loadPolicyFiles(patterns: readonly string[], fetched: ReadonlyMap<string, RemotePolicy> = new Map()): PolicyFile[] {
  const files: PolicyFile[] = [];
  const problems: string[] = [];
  for (const path of patterns.flatMap(expandPattern)) {
    try {
      files.push(isPolicyUrl(path) ? remoteFile(path, fetched) : loadPolicyFile(path));
    } catch (err) {
      if (!(err instanceof PolicyError)) throw err;
      problems.push(...err.problems);
    }
  }
  if (problems.length > 0) throw new PolicyError(problems);
  return files;
}

function remoteFile(url: string, fetched: ReadonlyMap<string, RemotePolicy>): PolicyFile {
  const remote = fetched.get(url);
  if (!remote) throw new PolicyError([`${url}: policy URLs are fetched by the sidecar (tapwire run, tapwire wrap); give this command the file`]);
  return parsePolicyFile(remote.text, url);
}

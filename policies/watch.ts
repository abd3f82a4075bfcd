// Hot reload of policy files: the directories holding them are watched, and a change to a
// file a pattern names loads every file again (other files there, such as tapwire.db and its
// WAL when the store sits next to the policies, change on every write and are ignored). A
// valid change takes effect for the next call (limit windows of rules kept unchanged carry
// over); an invalid one is rejected with its errors reported and the policies in force are kept.
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { PolicySet } from './engine.js';
import { PolicyError } from './file.js';
import { localCounters, type LimitCounters } from './limits.js';
import { loadPolicyFiles, wildcard } from './load.js';
import type { Logger } from '../core/log.js';

export type ReloadOutcome = { ok: true; files: string[] } | { ok: false; problems: string[] };

export class PolicyWatcher {
  private set: PolicySet;
  private readonly watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | null = null;

  /** Loads the files (throws PolicyError when they are invalid) and starts watching them. */
  constructor(
    private readonly patterns: readonly string[],
    private readonly onReload: (outcome: ReloadOutcome) => void,
    private readonly debounceMs = 50,
    /** Where limit rules count (limits.redis: the fleet's Redis). */
    private readonly counters: LimitCounters = localCounters,
  ) {
    this.set = new PolicySet(loadPolicyFiles(patterns), undefined, counters);
    for (const dir of new Set(patterns.map((p) => dirname(p)))) {
      const names = patterns.filter((p) => dirname(p) === dir).map((p) => wildcard(basename(p)));
      // Without a file name (some platforms give none), any change may be ours.
      const watcher = watch(dir, (_event, name) => {
        if (name === null || names.some((n) => n.test(name))) this.schedule();
      });
      watcher.on('error', () => undefined); // a directory removed later: nothing more to watch there
      this.watchers.push(watcher);
    }
  }

  /** The policies in force. */
  get current(): PolicySet {
    return this.set;
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.reload(), this.debounceMs);
    this.timer.unref();
  }

  /** Loads the files again; keeps the policies in force when they are now invalid. */
  reload(): ReloadOutcome {
    this.timer = null;
    let outcome: ReloadOutcome;
    try {
      const files = loadPolicyFiles(this.patterns);
      this.set = new PolicySet(files, this.set, this.counters);
      outcome = { ok: true, files: files.map((f) => f.path) };
    } catch (err) {
      if (!(err instanceof PolicyError)) throw err;
      outcome = { ok: false, problems: err.problems };
    }
    this.onReload(outcome);
    return outcome;
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const watcher of this.watchers) watcher.close();
  }
}

/**
 * The config's policy files, loaded (a bad one throws PolicyError) and watched, reloads
 * logged; null when the config names none. Used by `tapwire run` and `tapwire wrap`.
 */
export function watchPolicies(patterns: readonly string[], log: Logger, counters: LimitCounters = localCounters): PolicyWatcher | null {
  if (patterns.length === 0) return null;
  return new PolicyWatcher(
    patterns,
    (outcome) => {
      if (outcome.ok) log.info({ files: outcome.files }, 'policies reloaded');
      else log.error({ problems: outcome.problems }, 'policy change rejected: the policies in force are kept');
    },
    undefined,
    counters,
  );
}

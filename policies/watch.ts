// Hot reload of policies: the directories holding the files are watched, and a change to a
// file a pattern names loads every file again (other files there, such as tapwire.db and its
// WAL when the store sits next to the policies, change on every write and are ignored). Policy
// URLs are fetched at start and then asked for a change every policies_poll_ms (If-None-Match).
// A valid change takes effect for the next call (limit windows of rules kept unchanged carry
// over); an invalid one, or a URL that cannot be fetched, is reported and the policies in
// force are kept. A fleet points every sidecar at one URL.
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { isPolicyUrl } from '../config/config.js';
import { PolicySet } from './engine.js';
import { PolicyError } from './policy-error.js';
import { localCounters, type LimitCounters } from './limits.js';
import { loadPolicyFiles, wildcard } from './load.js';
import { fetchPolicy, type RemotePolicy } from './remote.js';
import type { Logger } from '../core/log.js';

/** A reload: the files now in force and each URL's version, or why the policies in force were kept. */
export type ReloadOutcome = { ok: true; files: string[]; versions: Record<string, string> } | { ok: false; problems: string[] };

export interface WatchOptions {
  /** Quiet time after a file change before reloading. */
  debounceMs?: number;
  /** Where limit rules count (limits.redis: the fleet's Redis). */
  counters?: LimitCounters;
  /** Each policy URL as fetched at start (PolicyWatcher.start fetches them). */
  fetched?: readonly RemotePolicy[];
  /** How often policy URLs are asked for a change. */
  pollMs?: number;
}

export class PolicyWatcher {
  private set: PolicySet;
  private readonly watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | null = null;
  private poller: NodeJS.Timeout | null = null;
  private readonly counters: LimitCounters;
  /** Each URL's text in force. */
  private readonly fetched: Map<string, RemotePolicy>;
  /** URL versions already rejected: a server that keeps serving one is not reported at every poll. */
  private readonly rejected = new Set<string>();
  private readonly urls: string[];

  /** Fetches the policy URLs (a failure throws PolicyError), then loads and watches everything. */
  static async start(patterns: readonly string[], onReload: (outcome: ReloadOutcome) => void, options: WatchOptions = {}): Promise<PolicyWatcher> {
    const fetched: RemotePolicy[] = [];
    const problems: string[] = [];
    for (const url of patterns.filter(isPolicyUrl)) {
      try {
        fetched.push((await fetchPolicy(url, null))!);
      } catch (err) {
        problems.push(`${url}: ${(err as Error).message}`);
      }
    }
    if (problems.length > 0) throw new PolicyError(problems);
    return new PolicyWatcher(patterns, onReload, { ...options, fetched });
  }

  /** Loads the files (throws PolicyError when they are invalid) and starts watching them; policy URLs need `fetched` (see start). */
  constructor(
    private readonly patterns: readonly string[],
    private readonly onReload: (outcome: ReloadOutcome) => void,
    private readonly options: WatchOptions = {},
  ) {
    this.counters = options.counters ?? localCounters;
    this.fetched = new Map(options.fetched?.map((remote) => [remote.url, remote]));
    this.set = new PolicySet(loadPolicyFiles(patterns, this.fetched), undefined, this.counters);
    const paths = patterns.filter((p) => !isPolicyUrl(p));
    this.urls = patterns.filter(isPolicyUrl);
    for (const dir of new Set(paths.map((p) => dirname(p)))) {
      const names = paths.filter((p) => dirname(p) === dir).map((p) => wildcard(basename(p)));
      // Without a file name (some platforms give none), any change may be ours.
      const watcher = watch(dir, (_event, name) => {
        if (name === null || names.some((n) => n.test(name))) this.schedule();
      });
      watcher.on('error', () => undefined); // a directory removed later: nothing more to watch there
      this.watchers.push(watcher);
    }
    if (this.urls.length > 0) this.schedulePoll();
  }

  /** The policies in force. */
  get current(): PolicySet {
    return this.set;
  }

  /** Each policy URL's version in force. */
  versions(): Record<string, string> {
    return Object.fromEntries([...this.fetched.values()].map((remote) => [remote.url, remote.version]));
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.reload(), this.options.debounceMs ?? 50);
    this.timer.unref();
  }

  private schedulePoll(): void {
    this.poller = setTimeout(() => void this.poll().finally(() => this.poller && this.schedulePoll()), this.options.pollMs ?? 30_000);
    this.poller.unref();
  }

  /** Asks every policy URL for a change; a changed one reloads the policies (kept as they are when it fails). */
  async poll(): Promise<ReloadOutcome | null> {
    const changed: RemotePolicy[] = [];
    const problems: string[] = [];
    for (const url of this.urls) {
      try {
        const remote = await fetchPolicy(url, this.fetched.get(url) ?? null);
        if (remote && !this.rejected.has(`${url} ${remote.version}`)) changed.push(remote);
      } catch (err) {
        problems.push(`${url}: ${(err as Error).message}`);
      }
    }
    if (problems.length > 0) {
      const outcome: ReloadOutcome = { ok: false, problems };
      this.onReload(outcome);
      return outcome;
    }
    return changed.length > 0 ? this.reload(changed) : null;
  }

  /** Loads the files again, with `changed` URLs' new texts; keeps the policies in force when they are now invalid. */
  reload(changed: readonly RemotePolicy[] = []): ReloadOutcome {
    this.timer = null;
    const fetched = new Map(this.fetched);
    for (const remote of changed) fetched.set(remote.url, remote);
    let outcome: ReloadOutcome;
    try {
      const files = loadPolicyFiles(this.patterns, fetched);
      this.set = new PolicySet(files, this.set, this.counters);
      for (const remote of changed) this.fetched.set(remote.url, remote);
      outcome = { ok: true, files: files.map((f) => f.path), versions: this.versions() };
    } catch (err) {
      if (!(err instanceof PolicyError)) throw err;
      for (const remote of changed) this.rejected.add(`${remote.url} ${remote.version}`);
      const versions = changed.map((remote) => `${remote.url} version ${remote.version}`);
      outcome = { ok: false, problems: [...(versions.length > 0 ? [`rejected: ${versions.join(', ')}`] : []), ...err.problems] };
    }
    this.onReload(outcome);
    return outcome;
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.poller) clearTimeout(this.poller);
    this.poller = null;
    for (const watcher of this.watchers) watcher.close();
  }
}

/**
 * The config's policy files and URLs, loaded (a bad one, or a URL that cannot be fetched,
 * throws PolicyError) and watched, reloads logged with each URL's version; null when the
 * config names none. Used by `tapwire run` and `tapwire wrap`.
 */
export async function watchPolicies(patterns: readonly string[], log: Logger, options: Omit<WatchOptions, 'fetched' | 'debounceMs'> = {}): Promise<PolicyWatcher | null> {
  if (patterns.length === 0) return null;
  const watcher = await PolicyWatcher.start(
    patterns,
    (outcome) => {
      if (outcome.ok) log.info({ files: outcome.files, versions: outcome.versions }, 'policies reloaded');
      else log.error({ problems: outcome.problems }, 'policy change rejected: the policies in force are kept');
    },
    options,
  );
  const versions = watcher.versions();
  if (Object.keys(versions).length > 0) log.info({ versions }, 'policies fetched');
  return watcher;
}

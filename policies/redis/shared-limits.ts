// The fleet's shared limit counters (limits.redis): request-rate limits and token budgets
// count in Redis, keyed by the rule and the value of its key expression, so every sidecar
// pointing at one Redis shares one allowance. A decision never waits on Redis: each sidecar
// checks against its mirror of a counter (the window's total as Redis last answered, plus its
// own counts still on their way) and fetches the counter again when that copy is older than
// sync_ms; every count is one atomic Lua script (EVALSHA), whose answer refreshes the mirror.
// While Redis cannot be reached (down, or a command not answered within timeout_ms) limits
// count in this process (on_unavailable: local) or refuse (deny); each change is logged once
// and counted. The overshoot this allows is bounded in docs/fleet.md.
import { randomUUID } from 'node:crypto';
import { Redis, type Result } from 'ioredis';
import type { RedisLimitsConfig } from '../../config/config.js';
import type { Logger } from '../../core/log.js';
import { SlidingWindows, type LimitCounter, type LimitCounters, type LimitIdentity } from '../limits.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** Adds `amount` (0: only reads) at `now` to a window; answers [total, oldest entry's time or -1]. */
    tapwireWindow(entries: string, total: string, now: number, windowMs: number, amount: number, member: string): Result<[number, number], Context>;
  }
}

/**
 * One window: a sorted set of "amount:id" members scored by time, and its running total.
 * Entries at or before now - window leave (as in SlidingWindows); both keys expire with the window.
 */
const WINDOW_SCRIPT = `
local now, window, amount = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local cutoff = now - window
local total = tonumber(redis.call('GET', KEYS[2]) or '0')
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', cutoff)) do
  total = total - tonumber(string.match(member, '^%d+'))
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', cutoff)
if amount > 0 then
  redis.call('ZADD', KEYS[1], now, ARGV[3] .. ':' .. ARGV[4])
  total = total + amount
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if oldest[2] == nil then
  redis.call('DEL', KEYS[1], KEYS[2])
  return {0, -1}
end
redis.call('SET', KEYS[2], total, 'PX', window)
redis.call('PEXPIRE', KEYS[1], window)
return {total, tonumber(oldest[2])}
`;

/** How often a lost connection is tried again, and an unanswering Redis probed. */
const RECONNECT_MS = 1000;
/** Retry-After of a call refused because Redis cannot be reached (on_unavailable: deny). */
const UNAVAILABLE_RETRY_S = 1;

type State = 'starting' | 'available' | 'unavailable';

export class SharedLimits {
  private readonly redis: Redis;
  private state: State = 'starting';
  private outages = 0;
  private probe: NodeJS.Timeout | null = null;
  /** Set by close(): the connection's end is then no outage. */
  private closed = false;
  private readonly windows = new Set<SharedWindows>();
  /** Where Redis is, for logs (no credentials). */
  private readonly where: string;

  private constructor(
    readonly config: RedisLimitsConfig,
    private readonly log: Logger,
  ) {
    this.where = new URL(config.url).host;
    this.redis = new Redis(config.url, {
      lazyConnect: true,
      // A command while disconnected fails at once instead of waiting in a queue.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: config.timeout_ms,
      connectTimeout: config.timeout_ms,
      retryStrategy: () => RECONNECT_MS,
    });
    this.redis.defineCommand('tapwireWindow', { numberOfKeys: 2, lua: WINDOW_SCRIPT });
    this.redis.on('ready', () => this.setAvailable(true, null));
    this.redis.on('close', () => this.setAvailable(false, 'connection closed'));
    // ioredis reports each failed attempt here; the state change above is what is logged.
    this.redis.on('error', () => undefined);
  }

  /** Connects (waiting at most timeout_ms); when Redis cannot be reached yet, starts with on_unavailable and keeps trying. */
  static async open(config: RedisLimitsConfig, log: Logger): Promise<SharedLimits> {
    const limits = new SharedLimits(config, log);
    await limits.redis.connect().catch((err: unknown) => limits.setAvailable(false, err instanceof Error ? err.message : String(err)));
    return limits;
  }

  /** Each limit rule's counter, in Redis. */
  readonly counters: LimitCounters = (rule) => {
    const windows = new SharedWindows(this, rule);
    this.windows.add(windows);
    return windows;
  };

  get available(): boolean {
    return this.state === 'available';
  }

  /** For the metrics: whether Redis is in use now, and how many times it stopped being. */
  stats(): { available: boolean; outages: number } {
    return { available: this.available, outages: this.outages };
  }

  /** One count (or, with `amount` 0, a read) of a rule's key; a failure marks Redis unavailable. */
  async count(rule: LimitIdentity, key: string, now: number, amount: number): Promise<{ total: number; oldest: number | null }> {
    // The hash tag keeps a window's two keys in one slot (Redis Cluster).
    const base = `${this.config.prefix}{${rule.name}:${rule.kind}:${rule.windowMs}:${key}}`;
    try {
      const [total, oldest] = await this.redis.tapwireWindow(`${base}:entries`, `${base}:total`, now, rule.windowMs, amount, randomUUID());
      this.setAvailable(true, null);
      return { total, oldest: oldest < 0 ? null : oldest };
    } catch (err) {
      this.setAvailable(false, err instanceof Error ? err.message : String(err));
      throw err;
    }
  }

  private setAvailable(up: boolean, why: string | null): void {
    const next: State = up ? 'available' : 'unavailable';
    if (this.state === next || this.closed) return;
    const first = this.state === 'starting';
    this.state = next;
    if (up) {
      if (this.probe) clearInterval(this.probe);
      this.probe = null;
      // Counts made locally meanwhile stay local; the mirrors are read again before they decide.
      for (const windows of this.windows) windows.forget();
      this.log.info({ redis: this.where }, first ? 'limits counted in Redis' : 'Redis reachable again: limits counted in Redis');
      return;
    }
    this.outages++;
    const fallback = this.config.on_unavailable === 'deny' ? 'calls under Redis limits are refused' : 'limits counted in this process';
    this.log.warn({ redis: this.where, err: why, on_unavailable: this.config.on_unavailable }, `Redis unavailable: ${fallback} until it is back`);
    // A Redis that stopped answering without closing the connection: ask it until it answers.
    this.probe ??= setInterval(() => {
      if (this.redis.status === 'ready') this.redis.ping().then(() => this.setAvailable(true, null), () => undefined);
    }, RECONNECT_MS);
    this.probe.unref();
  }

  /** Waits (at most timeout_ms) for the counts already sent, such as the last calls' tokens, then disconnects. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.probe) clearInterval(this.probe);
    this.probe = null;
    this.windows.clear();
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => undefined);
    this.redis.disconnect();
  }
}

/** A counter as this sidecar last read it from Redis. */
interface Mirror {
  total: number;
  /** When the window's oldest entry was counted (null: empty), for Retry-After. */
  oldest: number | null;
  /** This sidecar's counts sent and not yet answered. */
  pending: number;
  syncedAt: number;
  reading: boolean;
}

/** One limit rule's counters in Redis, decided from mirrors; SlidingWindows while Redis is unavailable. */
class SharedWindows implements LimitCounter {
  private readonly mirrors = new Map<string, Mirror>();
  private readonly local: SlidingWindows;

  constructor(
    private readonly shared: SharedLimits,
    private readonly rule: LimitIdentity,
  ) {
    this.local = new SlidingWindows(rule.windowMs);
  }

  retryAfter(key: string, now: number, allowance: number, next: number): number | null {
    if (!this.shared.available) {
      return this.shared.config.on_unavailable === 'deny' ? UNAVAILABLE_RETRY_S : this.local.retryAfter(key, now, allowance, next);
    }
    const mirror = this.mirror(key);
    if (!mirror.reading && Date.now() - mirror.syncedAt > this.shared.config.sync_ms) this.send(key, mirror, now, 0);
    if (mirror.total + mirror.pending + next <= allowance) return null;
    return Math.max(1, Math.ceil(((mirror.oldest ?? now) + this.rule.windowMs - now) / 1000));
  }

  add(key: string, now: number, amount: number): void {
    if (amount <= 0) return;
    if (!this.shared.available) return this.local.add(key, now, amount);
    const mirror = this.mirror(key);
    mirror.pending += amount;
    this.send(key, mirror, now, amount);
  }

  /** Drops every mirror: after an outage they are read again. */
  forget(): void {
    this.mirrors.clear();
  }

  private mirror(key: string): Mirror {
    let mirror = this.mirrors.get(key);
    if (!mirror) {
      mirror = { total: 0, oldest: null, pending: 0, syncedAt: 0, reading: false };
      this.mirrors.set(key, mirror);
    }
    return mirror;
  }

  /** Counts `amount` (0: reads) in Redis; the answer replaces the mirror's total. A count Redis did not take is kept locally. */
  private send(key: string, mirror: Mirror, now: number, amount: number): void {
    if (amount === 0) mirror.reading = true;
    this.shared.count(this.rule, key, now, amount).then(
      ({ total, oldest }) => {
        // Replies come in the order commands were sent: this total holds every earlier count of ours.
        mirror.pending -= amount;
        mirror.total = total;
        mirror.oldest = oldest;
        mirror.syncedAt = Date.now();
        if (amount === 0) mirror.reading = false;
      },
      () => {
        mirror.pending -= amount;
        if (amount === 0) mirror.reading = false;
        this.local.add(key, now, amount);
      },
    );
  }
}

// Sliding-window counters for limit rules: requests counted when a call is let through,
// tokens charged with the real usage when the response ends. A key is refused while the
// window holds its full allowance, and told when enough of it will have slid out. Each key
// keeps a running total, so a check costs the same however busy the window is. A rule counts
// through a LimitCounter: these windows in the process, or the fleet's shared ones (policies/redis/).

/** Where one limit rule counts its keys' use. Both calls are synchronous: a decision never waits on a counter. */
export interface LimitCounter {
  /** Null when a call that uses `next` more stays within `allowance`; otherwise the seconds (at least 1) to wait. */
  retryAfter(key: string, now: number, allowance: number, next: number): number | null;
  add(key: string, now: number, amount: number): void;
}

/** What identifies a limit rule's counter across sidecars: its name, what it counts and over how long. */
export interface LimitIdentity {
  name: string;
  kind: 'requests' | 'tokens';
  windowMs: number;
}

/** Makes each limit rule's counter (by default SlidingWindows in this process). */
export type LimitCounters = (rule: LimitIdentity) => LimitCounter;

export const localCounters: LimitCounters = (rule) => new SlidingWindows(rule.windowMs);

interface Entry {
  at: number;
  amount: number;
}

interface Window {
  entries: Entry[];
  /** Index of the oldest entry still in the window. */
  head: number;
  total: number;
}

export class SlidingWindows implements LimitCounter {
  private readonly windows = new Map<string, Window>();

  constructor(private readonly windowMs: number) {}

  private window(key: string, now: number): Window {
    let w = this.windows.get(key);
    if (!w) {
      w = { entries: [], head: 0, total: 0 };
      this.windows.set(key, w);
    }
    while (w.head < w.entries.length && w.entries[w.head]!.at <= now - this.windowMs) w.total -= w.entries[w.head++]!.amount;
    if (w.head > 1024 && w.head * 2 > w.entries.length) {
      w.entries = w.entries.slice(w.head);
      w.head = 0;
    }
    return w;
  }

  /** What `key` used within the window ending at `now`. */
  used(key: string, now: number): number {
    return this.window(key, now).total;
  }

  /**
   * Null when a call that uses `next` more stays within `allowance`; otherwise the seconds
   * (at least 1) until enough of the window has slid out for it.
   */
  retryAfter(key: string, now: number, allowance: number, next: number): number | null {
    const w = this.window(key, now);
    if (w.total + next <= allowance) return null;
    let used = w.total;
    for (let i = w.head; i < w.entries.length; i++) {
      const entry = w.entries[i]!;
      used -= entry.amount;
      if (used + next <= allowance) return Math.max(1, Math.ceil((entry.at + this.windowMs - now) / 1000));
    }
    return Math.max(1, Math.ceil(this.windowMs / 1000));
  }

  add(key: string, now: number, amount: number): void {
    if (amount <= 0) return;
    const w = this.window(key, now);
    w.entries.push({ at: now, amount });
    w.total += amount;
  }
}

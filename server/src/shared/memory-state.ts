import type {
  EventBus,
  KeyValueStore,
  Lock,
  LockManager,
  RateDecision,
  RateLimiter,
  SharedState,
} from "./shared-state.js";

/** In-process rate limiter: fixed windows per key. */
class MemoryRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, { start: number; used: number }>();
  constructor(
    private readonly points: number,
    private readonly durationMs: number,
  ) {}

  async consume(key: string, points = 1): Promise<RateDecision> {
    const now = Date.now();
    let window = this.windows.get(key);
    if (!window || now - window.start >= this.durationMs) {
      window = { start: now, used: 0 };
      this.windows.set(key, window);
      if (this.windows.size > 100_000) this.sweep(now);
    }
    if (window.used + points > this.points) {
      return {
        allowed: false,
        retryAfterMs: window.start + this.durationMs - now,
        remaining: this.points - window.used,
      };
    }
    window.used += points;
    return { allowed: true, retryAfterMs: 0, remaining: this.points - window.used };
  }

  private sweep(now: number): void {
    for (const [key, window] of this.windows) {
      if (now - window.start >= this.durationMs) this.windows.delete(key);
    }
  }
}

/** In-process locks with expiry. */
class MemoryLocks implements LockManager {
  private readonly held = new Map<string, { token: symbol; expires: number }>();

  async acquire(key: string, ttlMs: number, waitMs: number): Promise<Lock | undefined> {
    const until = Date.now() + waitMs;
    for (;;) {
      const now = Date.now();
      const current = this.held.get(key);
      if (!current || current.expires <= now) {
        const token = Symbol(key);
        this.held.set(key, { token, expires: now + ttlMs });
        return {
          release: async () => {
            if (this.held.get(key)?.token === token) this.held.delete(key);
          },
        };
      }
      if (now >= until) return undefined;
      await new Promise((r) => setTimeout(r, Math.min(25, until - now)));
    }
  }
}

/** In-process pub/sub. */
class MemoryEvents implements EventBus {
  private readonly handlers = new Map<string, Set<(event: unknown) => void>>();

  async publish(channel: string, event: unknown): Promise<number> {
    // A copy through JSON, as Redis would deliver it.
    const copy = JSON.parse(JSON.stringify(event)) as unknown;
    const handlers = this.handlers.get(channel) ?? new Set();
    for (const handler of handlers) {
      queueMicrotask(() => {
        try {
          handler(copy);
        } catch {
          // One failing subscriber must not take the others (or the process) down.
        }
      });
    }
    return handlers.size;
  }

  async subscribe(
    channel: string,
    handler: (event: unknown) => void,
  ): Promise<() => Promise<void>> {
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
    }
    set.add(handler);
    return async () => {
      set?.delete(handler);
      if (set?.size === 0) this.handlers.delete(channel);
    };
  }
}

/** In-process key/value store with TTLs. */
class MemoryKv implements KeyValueStore {
  private readonly values = new Map<string, { value: string; expires: number }>();

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.values.set(key, { value, expires: Date.now() + ttlMs });
  }

  async get(key: string): Promise<string | undefined> {
    const entry = this.values.get(key);
    if (!entry) return undefined;
    if (entry.expires <= Date.now()) {
      this.values.delete(key);
      return undefined;
    }
    return entry.value;
  }

  async delete(key: string): Promise<void> {
    this.values.delete(key);
  }
}

/** createMemorySharedState is SharedState for a single process (no Redis). */
export function createMemorySharedState(): SharedState {
  return {
    kind: "memory",
    rateLimiter: (_name, points, durationMs) => new MemoryRateLimiter(points, durationMs),
    locks: new MemoryLocks(),
    events: new MemoryEvents(),
    kv: new MemoryKv(),
    close: async () => {},
  };
}

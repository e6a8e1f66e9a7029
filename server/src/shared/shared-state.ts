/**
 * What API replicas must share, behind interfaces with two implementations: Redis (ioredis)
 * when REDIS_URL is set, in-process otherwise (a single-node install). Tests run both.
 */

/** The outcome of a rate-limit check. */
export interface RateDecision {
  /** Whether the call may proceed. */
  allowed: boolean;
  /** When refused: how long until a point frees up, ms. */
  retryAfterMs: number;
  /** Points left in the window. */
  remaining: number;
}

/** RateLimiter counts calls per key in a fixed window. */
export interface RateLimiter {
  /** consume takes `points` (default 1) for `key`; fails closed (refuses) if the store is down. */
  consume(key: string, points?: number): Promise<RateDecision>;
}

/** A held lock; release it in a finally. */
export interface Lock {
  /** release frees the lock if this holder still has it. */
  release(): Promise<void>;
}

/** LockManager hands out short-lived exclusive locks (auto-expiring). */
export interface LockManager {
  /** acquire waits up to waitMs for `key`; the lock expires after ttlMs if never released. Undefined when not acquired. */
  acquire(key: string, ttlMs: number, waitMs: number): Promise<Lock | undefined>;
}

/** EventBus publishes small JSON events to every replica (including this one). */
export interface EventBus {
  /**
   * publish sends an event on a channel and says how many receivers got it: replicas
   * subscribed to the channel on Redis (one connection each), subscriptions in process.
   */
  publish(channel: string, event: unknown): Promise<number>;
  /** subscribe calls handler for each event on the channel until the returned function is called. */
  subscribe(channel: string, handler: (event: unknown) => void): Promise<() => Promise<void>>;
}

/** KeyValueStore keeps short-lived values (e.g. signed-URL tokens) with a TTL. */
export interface KeyValueStore {
  /** set stores a value for ttlMs. */
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /** get returns the value, or undefined when missing or expired. */
  get(key: string): Promise<string | undefined>;
  /** delete removes a key. */
  delete(key: string): Promise<void>;
}

/** SharedState bundles the shared stores and how to close them. */
export interface SharedState {
  /** Which implementation: "redis" or "memory". */
  readonly kind: "redis" | "memory";
  /** rateLimiter makes a limiter with its own key space, `points` per `durationMs` window. */
  rateLimiter(name: string, points: number, durationMs: number): RateLimiter;
  /** Locks. */
  readonly locks: LockManager;
  /** Pub/sub. */
  readonly events: EventBus;
  /** Short-lived key/values. */
  readonly kv: KeyValueStore;
  /** close disconnects. */
  close(): Promise<void>;
}

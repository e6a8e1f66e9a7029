/**
 * SharedState on Redis (ioredis), for several API replicas: rate limits through
 * rate-limiter-flexible, locks as SET NX PX with a per-holder token, pub/sub on a dedicated
 * subscriber connection, and short-lived key/values with PX expiry.
 *
 * Outages: every command has an explicit deadline (connect, command, retries), so a down Redis
 * surfaces as an error in about a second instead of a hung request. The rate limiter then
 * fails closed (refuses); locks, events and key/values throw an UNAVAILABLE CoveError.
 */
import { randomBytes } from "node:crypto";
import { type CoveError, createLogger, type Logger, unavailable } from "@cove/common";
import { Redis, type RedisOptions } from "ioredis";
import { RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import type {
  EventBus,
  KeyValueStore,
  Lock,
  LockManager,
  RateDecision,
  RateLimiter,
  SharedState,
} from "./shared-state.js";

/** How long one connection attempt may take, ms. */
const CONNECT_TIMEOUT_MS = 2_000;
/** How long one command may take, including time queued while reconnecting, ms. */
const COMMAND_TIMEOUT_MS = 1_000;
/** Reconnect attempts a queued command waits through before it fails. */
const MAX_RETRIES_PER_REQUEST = 1;
/** The longest pause between reconnect attempts, ms (reconnecting never stops). */
const MAX_RECONNECT_DELAY_MS = 2_000;
/** What a refused-because-Redis-is-down caller is told to wait, ms. */
const OUTAGE_RETRY_AFTER_MS = 1_000;
/** At most one outage log line per this many ms per kind of failure. */
const OUTAGE_LOG_INTERVAL_MS = 10_000;

/**
 * The fixed-window counter, run by RateLimiterRedis in place of its own script. It adds the
 * points only when they fit, so a refused call takes nothing (as in the in-process limiter).
 * KEYS[1] counter; ARGV[1] points asked for; ARGV[2] window, s; ARGV[3] points per window.
 * Returns {points used if this call were counted, ms until the window ends}.
 */
const FIXED_WINDOW_SCRIPT = `
redis.call('set', KEYS[1], 0, 'EX', ARGV[2], 'NX')
local wanted = tonumber(redis.call('get', KEYS[1])) + tonumber(ARGV[1])
if wanted <= tonumber(ARGV[3]) then
  redis.call('incrby', KEYS[1], ARGV[1])
end
local ttl = redis.call('pttl', KEYS[1])
if ttl < 0 then
  redis.call('expire', KEYS[1], ARGV[2])
  ttl = 1000 * tonumber(ARGV[2])
end
return {wanted, ttl}
`;

/** Deletes KEYS[1] only while it still holds this holder's token ARGV[1]. */
const RELEASE_LOCK_SCRIPT = `
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
`;

/** Options for createRedisSharedState. */
export interface RedisSharedStateOptions {
  /** Where connection trouble, fail-closed refusals and handler errors are logged. */
  logger?: Logger;
  /** Prefix of every key and channel, so Cove can share a Redis; default "cove:". */
  keyPrefix?: string;
}

/** RedisSharedState is SharedState on Redis, plus a health check. */
export interface RedisSharedState extends SharedState {
  readonly kind: "redis";
  /** ping resolves when both connections answer PING; rejects on the first failure. */
  ping(): Promise<void>;
}

/** Logs a recurring failure once, then at most once per interval with a count of repeats. */
class ThrottledLog {
  private last = 0;
  private suppressed = 0;
  constructor(
    private readonly logger: Logger,
    private readonly level: "warn" | "error",
    private readonly message: string,
  ) {}

  log(fields: Record<string, unknown>): void {
    const now = Date.now();
    if (now - this.last < OUTAGE_LOG_INTERVAL_MS) {
      this.suppressed++;
      return;
    }
    this.logger[this.level](this.message, { ...fields, suppressedSinceLast: this.suppressed });
    this.last = now;
    this.suppressed = 0;
  }
}

/** storeDown wraps a Redis failure as UNAVAILABLE, keeping the original as cause. */
function storeDown(what: string, err: unknown): CoveError {
  const message = err instanceof Error ? err.message : String(err);
  const error = unavailable("INTERNAL", `shared state (Redis) unavailable: ${what}: ${message}`);
  return Object.assign(error, { cause: err });
}

/** Rate limiter on one RateLimiterRedis; refuses when Redis cannot answer. */
class RedisRateLimiter implements RateLimiter {
  private readonly limiter: RateLimiterRedis;
  constructor(
    client: Redis,
    private readonly name: string,
    private readonly points: number,
    durationMs: number,
    keyPrefix: string,
    private readonly outageLog: ThrottledLog,
  ) {
    this.limiter = new RateLimiterRedis({
      storeClient: client,
      keyPrefix,
      points,
      // rate-limiter-flexible counts windows in whole seconds: round up, never below one.
      duration: Math.max(1, Math.ceil(durationMs / 1000)),
      customIncrTtlLuaScript: FIXED_WINDOW_SCRIPT,
      // No insuranceLimiter: when Redis is down, consume() refuses rather than limit per replica.
    });
  }

  async consume(key: string, points = 1): Promise<RateDecision> {
    if (!Number.isInteger(points) || points < 1) {
      throw new RangeError(`rate limiter ${this.name}: points must be a positive integer`);
    }
    try {
      const res = await this.limiter.consume(key, points);
      return { allowed: true, retryAfterMs: 0, remaining: res.remainingPoints };
    } catch (err) {
      if (err instanceof RateLimiterRes) {
        // The script did not count this call: what is left is the limit minus what was used.
        const used = err.consumedPoints - points;
        return {
          allowed: false,
          retryAfterMs: Math.max(1, err.msBeforeNext),
          remaining: Math.max(0, this.points - used),
        };
      }
      this.outageLog.log({ limiter: this.name, err });
      return { allowed: false, retryAfterMs: OUTAGE_RETRY_AFTER_MS, remaining: 0 };
    }
  }
}

/** Locks as `SET key token NX PX ttl`, released by a compare-and-delete script. */
class RedisLocks implements LockManager {
  constructor(
    private readonly client: Redis,
    private readonly prefix: string,
    private readonly logger: Logger,
  ) {}

  async acquire(key: string, ttlMs: number, waitMs: number): Promise<Lock | undefined> {
    const redisKey = `${this.prefix}${key}`;
    const token = randomBytes(16).toString("hex");
    const px = Math.max(1, Math.ceil(ttlMs));
    const until = Date.now() + waitMs;
    let pause = 10;
    for (;;) {
      let reply: string | null;
      try {
        reply = await this.client.set(redisKey, token, "PX", px, "NX");
      } catch (err) {
        throw storeDown(`acquire lock ${key}`, err);
      }
      if (reply === "OK") return this.held(key, redisKey, token);
      const left = until - Date.now();
      if (left <= 0) return undefined;
      // Jittered backoff from 10 ms up to 100 ms, never past the deadline.
      await new Promise((r) => setTimeout(r, Math.min(left, pause / 2 + Math.random() * pause)));
      pause = Math.min(pause * 2, 100);
    }
  }

  private held(key: string, redisKey: string, token: string): Lock {
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        try {
          await this.client.eval(RELEASE_LOCK_SCRIPT, 1, redisKey, token);
        } catch (err) {
          // Not thrown: release runs in finally blocks, and the lock expires on its own.
          this.logger.warn("could not release lock; it will expire after its ttl", { key, err });
        }
      },
    };
  }
}

/** Pub/sub: PUBLISH on the command connection, SUBSCRIBE on a dedicated one. */
class RedisEvents implements EventBus {
  private readonly handlers = new Map<string, Set<(event: unknown) => void>>();
  /** The SUBSCRIBE in flight or done for each channel, so concurrent subscribers share it. */
  private readonly subscribed = new Map<string, Promise<unknown>>();

  constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    private readonly prefix: string,
    private readonly logger: Logger,
  ) {
    subscriber.on("message", (redisChannel: string, message: string) =>
      this.deliver(redisChannel, message),
    );
  }

  async publish(channel: string, event: unknown): Promise<number> {
    const payload = JSON.stringify(event);
    if (payload === undefined) throw new TypeError(`event on ${channel} is not JSON-serializable`);
    try {
      return await this.publisher.publish(`${this.prefix}${channel}`, payload);
    } catch (err) {
      throw storeDown(`publish on ${channel}`, err);
    }
  }

  async subscribe(
    channel: string,
    handler: (event: unknown) => void,
  ): Promise<() => Promise<void>> {
    const redisChannel = `${this.prefix}${channel}`;
    let set = this.handlers.get(redisChannel);
    if (!set) {
      set = new Set();
      this.handlers.set(redisChannel, set);
    }
    set.add(handler);
    let pending = this.subscribed.get(redisChannel);
    if (!pending) {
      pending = this.subscriber.subscribe(redisChannel);
      this.subscribed.set(redisChannel, pending);
    }
    try {
      await pending;
    } catch (err) {
      // No UNSUBSCRIBE here (Redis is failing): messages for a channel without handlers are dropped.
      if (set.delete(handler) && set.size === 0 && this.handlers.get(redisChannel) === set) {
        this.handlers.delete(redisChannel);
        if (this.subscribed.get(redisChannel) === pending) this.subscribed.delete(redisChannel);
      }
      throw storeDown(`subscribe to ${channel}`, err);
    }
    let active = true;
    return async () => {
      if (!active) return;
      active = false;
      await this.remove(redisChannel, handler);
    };
  }

  /** remove drops a handler, and the Redis subscription with the channel's last handler. */
  private async remove(redisChannel: string, handler: (event: unknown) => void): Promise<void> {
    const set = this.handlers.get(redisChannel);
    if (!set?.delete(handler) || set.size > 0) return;
    this.handlers.delete(redisChannel);
    this.subscribed.delete(redisChannel);
    try {
      await this.subscriber.unsubscribe(redisChannel);
    } catch (err) {
      // Messages for a channel without handlers are dropped, so a failed UNSUBSCRIBE is harmless.
      this.logger.warn("could not unsubscribe from event channel", { channel: redisChannel, err });
    }
  }

  private deliver(redisChannel: string, message: string): void {
    const set = this.handlers.get(redisChannel);
    if (!set || set.size === 0) return;
    let event: unknown;
    try {
      event = JSON.parse(message);
    } catch (err) {
      this.logger.warn("dropped an event that is not JSON", { channel: redisChannel, err });
      return;
    }
    for (const handler of [...set]) {
      try {
        const result = handler(event) as unknown;
        if (result instanceof Promise) result.catch((err) => this.handlerFailed(redisChannel, err));
      } catch (err) {
        this.handlerFailed(redisChannel, err);
      }
    }
  }

  private handlerFailed(channel: string, err: unknown): void {
    this.logger.error("event handler failed", { channel, err });
  }
}

/** Key/values as SET PX / GET / DEL. */
class RedisKv implements KeyValueStore {
  constructor(
    private readonly client: Redis,
    private readonly prefix: string,
  ) {}

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    try {
      await this.client.set(`${this.prefix}${key}`, value, "PX", Math.max(1, Math.ceil(ttlMs)));
    } catch (err) {
      throw storeDown("set key", err);
    }
  }

  async get(key: string): Promise<string | undefined> {
    try {
      return (await this.client.get(`${this.prefix}${key}`)) ?? undefined;
    } catch (err) {
      throw storeDown("get key", err);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.del(`${this.prefix}${key}`);
    } catch (err) {
      throw storeDown("delete key", err);
    }
  }
}

/** redactRedisUrl hides a password in a Redis URL, for logs and error messages. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, "//***@");
  }
}

/** quitOrDrop closes a connection politely when it is up, at once otherwise. */
async function quitOrDrop(client: Redis): Promise<void> {
  if (client.status === "end") return;
  if (client.status !== "ready") {
    client.disconnect();
    return;
  }
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}

/**
 * createRedisSharedState is SharedState on the Redis at `url` (redis:// or rediss://). It
 * connects in the background; use ping() (createSharedState does) to check Redis answers.
 */
export function createRedisSharedState(
  url: string,
  options: RedisSharedStateOptions = {},
): RedisSharedState {
  const logger = (options.logger ?? createLogger()).child({
    component: "shared-state",
    redis: redactRedisUrl(url),
  });
  const prefix = options.keyPrefix ?? "cove:";
  const redisOptions: RedisOptions = {
    connectTimeout: CONNECT_TIMEOUT_MS,
    commandTimeout: COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: MAX_RETRIES_PER_REQUEST,
    // Commands issued while (re)connecting wait in the queue, bounded by the two limits above.
    enableOfflineQueue: true,
    retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 6), MAX_RECONNECT_DELAY_MS),
  };
  const client = new Redis(url, redisOptions);
  const subscriber = client.duplicate();

  for (const [role, connection] of [
    ["commands", client],
    ["subscriber", subscriber],
  ] as const) {
    const errors = new ThrottledLog(logger, "warn", "redis connection error");
    let failing = false;
    connection.on("error", (err: unknown) => {
      failing = true;
      errors.log({ connection: role, err });
    });
    connection.on("ready", () => {
      if (failing) logger.info("redis connection restored", { connection: role });
      failing = false;
    });
  }

  const outageLog = new ThrottledLog(
    logger,
    "error",
    "rate limiter cannot reach Redis; refusing requests (fail closed)",
  );
  let closed = false;
  return {
    kind: "redis",
    rateLimiter: (name, points, durationMs) =>
      new RedisRateLimiter(client, name, points, durationMs, `${prefix}rl:${name}`, outageLog),
    locks: new RedisLocks(client, `${prefix}lock:`, logger),
    events: new RedisEvents(client, subscriber, `${prefix}events:`, logger),
    kv: new RedisKv(client, `${prefix}kv:`),
    ping: async () => {
      await Promise.all([client.ping(), subscriber.ping()]);
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await Promise.all([quitOrDrop(subscriber), quitOrDrop(client)]);
    },
  };
}

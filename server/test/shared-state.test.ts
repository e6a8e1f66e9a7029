// The SharedState contract, run against both implementations: in-process, and Redis (the
// private redis-server from jest-global-setup; skipped only when COVE_TEST_REDIS_URL is unset).
// Then what a Redis outage looks like: refusals and errors within seconds, never a hang.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import type { LogFields, Logger } from "@cove/common";
import { createSharedState } from "../src/shared/create-shared-state.js";
import { createMemorySharedState } from "../src/shared/memory-state.js";
import { createRedisSharedState } from "../src/shared/redis-state.js";
import type { SharedState } from "../src/shared/shared-state.js";

const redisUrl = process.env.COVE_TEST_REDIS_URL;

/** A logger that keeps its lines, so tests can assert on what an operator would read. */
function recordingLogger(): Logger & {
  lines: { level: string; msg: string; fields: LogFields }[];
} {
  const lines: { level: string; msg: string; fields: LogFields }[] = [];
  const at =
    (level: string) =>
    (msg: string, fields: LogFields = {}) =>
      lines.push({ level, msg, fields });
  const logger = {
    lines,
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    child: () => logger,
  };
  return logger;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Collects events from a subscription and waits for a count of them. */
function collector() {
  const events: unknown[] = [];
  let wake: (() => void) | undefined;
  return {
    events,
    handler: (event: unknown) => {
      events.push(event);
      wake?.();
    },
    async waitFor(count: number, timeoutMs = 2_000): Promise<unknown[]> {
      const until = Date.now() + timeoutMs;
      while (events.length < count) {
        if (Date.now() > until) throw new Error(`got ${events.length} of ${count} events`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 50);
        });
      }
      return events;
    },
  };
}

/** A loopback port that nothing listens on: bound, then closed again. */
async function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

async function elapsed<T>(work: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const start = Date.now();
  const result = await work();
  return { ms: Date.now() - start, result };
}

// ioredis leaves a failed command's 1 s timeout timer running after the command is rejected;
// let those lapse so jest exits without reporting open handles.
afterAll(() => sleep(1_100));

interface Implementation {
  name: string;
  available: boolean;
  /** Makes an instance; for Redis every instance is another replica on the same Redis. */
  make: () => SharedState;
  /** Whether two instances share state (Redis: yes; in-process: each is its own world). */
  shared: boolean;
}

const implementations: Implementation[] = [
  { name: "memory", available: true, make: () => createMemorySharedState(), shared: false },
  {
    name: "redis",
    available: redisUrl !== undefined,
    make: () => createRedisSharedState(redisUrl ?? "", { logger: recordingLogger() }),
    shared: true,
  },
];

describe.each(implementations)("$name shared state", (impl) => {
  const contract = impl.available ? test : test.skip;
  const acrossReplicas = impl.available && impl.shared ? test : test.skip;
  // The in-process bus lets a throwing handler escape (queueMicrotask), so this runs on Redis only.
  const handlerIsolation = impl.available && impl.name === "redis" ? test : test.skip;
  const opened: SharedState[] = [];
  const open = () => {
    const state = impl.make();
    opened.push(state);
    return state;
  };
  let state: SharedState;
  beforeEach(() => {
    if (impl.available) state = open();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });
  const unique = (what: string) => `${what}-${randomUUID()}`;

  contract("reports its kind", () => {
    expect(state.kind).toBe(impl.name);
  });

  contract(
    "a rate limiter allows N calls, refuses the next with a wait, and recovers after the window",
    async () => {
      const limiter = state.rateLimiter(unique("create"), 3, 1_000);
      const key = unique("org");
      const decisions = [];
      for (let i = 0; i < 3; i++) decisions.push(await limiter.consume(key));
      expect(decisions.map((d) => d.allowed)).toEqual([true, true, true]);
      expect(decisions.map((d) => d.remaining)).toEqual([2, 1, 0]);

      const refused = await limiter.consume(key);
      expect(refused.allowed).toBe(false);
      expect(refused.retryAfterMs).toBeGreaterThan(0);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(1_000);
      expect(refused.remaining).toBe(0);

      await sleep(refused.retryAfterMs + 50);
      const later = await limiter.consume(key);
      expect(later).toEqual({ allowed: true, retryAfterMs: 0, remaining: 2 });
    },
  );

  contract("a refused call takes no points", async () => {
    const limiter = state.rateLimiter(unique("upload"), 3, 1_000);
    const key = unique("org");
    expect((await limiter.consume(key, 2)).allowed).toBe(true);
    const refused = await limiter.consume(key, 2);
    expect(refused).toMatchObject({ allowed: false, remaining: 1 });
    expect(await limiter.consume(key, 1)).toMatchObject({ allowed: true, remaining: 0 });
  });

  contract("limiters with different names, and different keys, do not share points", async () => {
    const key = unique("org");
    const a = state.rateLimiter(unique("a"), 1, 5_000);
    const b = state.rateLimiter(unique("b"), 1, 5_000);
    expect((await a.consume(key)).allowed).toBe(true);
    expect((await a.consume(key)).allowed).toBe(false);
    expect((await b.consume(key)).allowed).toBe(true);
    expect((await a.consume(unique("other-org"))).allowed).toBe(true);
  });

  acrossReplicas("a limit is shared between replicas", async () => {
    const name = unique("shared");
    const key = unique("org");
    const replicaA = state.rateLimiter(name, 2, 5_000);
    const replicaB = open().rateLimiter(name, 2, 5_000);
    expect((await replicaA.consume(key)).allowed).toBe(true);
    expect((await replicaB.consume(key)).allowed).toBe(true);
    expect((await replicaA.consume(key)).allowed).toBe(false);
    expect((await replicaB.consume(key)).allowed).toBe(false);
  });

  contract("a lock is exclusive; a waiter gets it once it is released", async () => {
    const key = unique("sandbox");
    const first = await state.locks.acquire(key, 5_000, 0);
    expect(first).toBeDefined();
    expect(await state.locks.acquire(key, 5_000, 0)).toBeUndefined();
    expect(await state.locks.acquire(key, 5_000, 150)).toBeUndefined();

    let releasedAt = 0;
    const waiter = state.locks
      .acquire(key, 5_000, 3_000)
      .then((lock) => ({ lock, at: Date.now() }));
    await sleep(200);
    releasedAt = Date.now();
    await first?.release();
    const { lock, at } = await waiter;
    expect(lock).toBeDefined();
    expect(at).toBeGreaterThanOrEqual(releasedAt);
    await lock?.release();
    expect(await state.locks.acquire(key, 5_000, 0)).toBeDefined();
  });

  contract("a lock whose holder vanished frees itself after its ttl", async () => {
    const key = unique("sandbox");
    expect(await state.locks.acquire(key, 300, 0)).toBeDefined();
    expect(await state.locks.acquire(key, 5_000, 0)).toBeUndefined();
    const { ms, result } = await elapsed(() => state.locks.acquire(key, 5_000, 3_000));
    expect(result).toBeDefined();
    expect(ms).toBeLessThan(1_500);
  });

  contract("a stale holder's release does not free the next holder's lock", async () => {
    const key = unique("sandbox");
    const stale = await state.locks.acquire(key, 200, 0);
    await sleep(300);
    const current = await state.locks.acquire(key, 5_000, 0);
    expect(current).toBeDefined();
    await stale?.release();
    expect(await state.locks.acquire(key, 5_000, 0)).toBeUndefined();
    await current?.release();
    expect(await state.locks.acquire(key, 5_000, 0)).toBeDefined();
  });

  acrossReplicas("a lock is exclusive across replicas", async () => {
    const key = unique("sandbox");
    const other = open();
    const held = await state.locks.acquire(key, 5_000, 0);
    expect(held).toBeDefined();
    expect(await other.locks.acquire(key, 5_000, 0)).toBeUndefined();
    const waiter = other.locks.acquire(key, 5_000, 3_000);
    await sleep(100);
    await held?.release();
    expect(await waiter).toBeDefined();
  });

  contract("events reach every subscriber as JSON copies; unsubscribe stops delivery", async () => {
    const channel = unique("sandbox-events");
    const one = collector();
    const two = collector();
    const stopOne = await state.events.subscribe(channel, one.handler);
    await state.events.subscribe(channel, two.handler);
    const sent = { sandboxId: "sbx_1", state: "STARTED", at: new Date(0) };
    await state.events.publish(channel, sent);
    const expected = { sandboxId: "sbx_1", state: "STARTED", at: "1970-01-01T00:00:00.000Z" };
    expect(await one.waitFor(1)).toEqual([expected]);
    expect(await two.waitFor(1)).toEqual([expected]);

    await stopOne();
    await state.events.publish(channel, { n: 2 });
    expect(await two.waitFor(2)).toEqual([expected, { n: 2 }]);
    await sleep(100);
    expect(one.events).toHaveLength(1);
  });

  contract("events on another channel are not delivered", async () => {
    const mine = collector();
    const channel = unique("mine");
    await state.events.subscribe(channel, mine.handler);
    await state.events.publish(unique("theirs"), { x: 1 });
    await state.events.publish(channel, { x: 2 });
    expect(await mine.waitFor(1)).toEqual([{ x: 2 }]);
    await sleep(100);
    expect(mine.events).toEqual([{ x: 2 }]);
  });

  acrossReplicas(
    "events reach subscribers on every replica, including the publisher's",
    async () => {
      const channel = unique("sandbox-events");
      const other = open();
      const here = collector();
      const there = collector();
      await state.events.subscribe(channel, here.handler);
      const stopThere = await other.events.subscribe(channel, there.handler);
      await state.events.publish(channel, { from: "a" });
      await other.events.publish(channel, { from: "b" });
      expect(await here.waitFor(2)).toEqual([{ from: "a" }, { from: "b" }]);
      expect(await there.waitFor(2)).toEqual([{ from: "a" }, { from: "b" }]);

      await stopThere();
      await state.events.publish(channel, { from: "a", n: 2 });
      await here.waitFor(3);
      await sleep(100);
      expect(there.events).toHaveLength(2);
    },
  );

  handlerIsolation("a throwing event handler does not stop the others", async () => {
    const channel = unique("sandbox-events");
    const good = collector();
    await state.events.subscribe(channel, () => {
      throw new Error("handler bug");
    });
    await state.events.subscribe(channel, async () => {
      throw new Error("async handler bug");
    });
    await state.events.subscribe(channel, good.handler);
    await state.events.publish(channel, { n: 1 });
    await state.events.publish(channel, { n: 2 });
    expect(await good.waitFor(2)).toEqual([{ n: 1 }, { n: 2 }]);
  });

  contract("a key/value expires after its ttl; delete removes it", async () => {
    const key = unique("signed-url");
    await state.kv.set(key, "token-1", 300);
    expect(await state.kv.get(key)).toBe("token-1");
    await sleep(400);
    expect(await state.kv.get(key)).toBeUndefined();

    await state.kv.set(key, "token-2", 5_000);
    await state.kv.set(key, "token-3", 5_000);
    expect(await state.kv.get(key)).toBe("token-3");
    await state.kv.delete(key);
    expect(await state.kv.get(key)).toBeUndefined();
    expect(await state.kv.get(unique("never-set"))).toBeUndefined();
  });
});

describe("createSharedState", () => {
  test("without a Redis URL it is in-process", async () => {
    const state = await createSharedState({ logger: recordingLogger() });
    expect(state.kind).toBe("memory");
    await state.close();
  });

  (redisUrl ? test : test.skip)("with a Redis URL that answers it is Redis", async () => {
    const state = await createSharedState({ redisUrl, logger: recordingLogger() });
    expect(state.kind).toBe("redis");
    await state.close();
  });

  test("with a Redis URL that does not answer it throws, naming the URL without its password", async () => {
    const port = await closedPort();
    const { ms, result } = await elapsed(() =>
      createSharedState({
        redisUrl: `redis://:hunter2@127.0.0.1:${port}`,
        logger: recordingLogger(),
      }).then(
        () => undefined,
        (err: unknown) => err,
      ),
    );
    expect(result).toBeInstanceOf(Error);
    const message = (result as Error).message;
    expect(message).toContain(`127.0.0.1:${port}`);
    expect(message).not.toContain("hunter2");
    expect(ms).toBeLessThan(8_000);
  });
});

describe("redis outage", () => {
  test("with Redis unreachable, consume fails closed and the other stores error out, quickly", async () => {
    const port = await closedPort();
    const logger = recordingLogger();
    const state = createRedisSharedState(`redis://127.0.0.1:${port}`, { logger });
    try {
      const limiter = state.rateLimiter("create", 100, 1_000);
      const consumed = await elapsed(() => limiter.consume("org_1"));
      expect(consumed.result.allowed).toBe(false);
      expect(consumed.result.retryAfterMs).toBeGreaterThan(0);
      expect(consumed.ms).toBeLessThan(3_000);
      expect(logger.lines).toContainEqual(
        expect.objectContaining({ level: "error", msg: expect.stringMatching(/fail closed/) }),
      );

      const unavailable = expect.objectContaining({ code: "unavailable" });
      for (const work of [
        () => state.locks.acquire("sbx_1", 1_000, 10_000),
        () => state.kv.get("k"),
        () => state.kv.set("k", "v", 1_000),
        () => state.events.publish("c", { n: 1 }),
        () => state.events.subscribe("c", () => {}),
      ]) {
        const { ms, result } = await elapsed(() =>
          work().then(
            () => "resolved",
            (err) => err,
          ),
        );
        expect(result).toEqual(unavailable);
        expect(ms).toBeLessThan(3_000);
      }
    } finally {
      const closing = await elapsed(() => state.close());
      expect(closing.ms).toBeLessThan(1_000);
    }
  });

  const haveRedisServer = spawnSync("sh", ["-c", "command -v redis-server"]).status === 0;
  (haveRedisServer ? test : test.skip)(
    "when Redis dies and comes back, limits fail closed meanwhile and everything recovers",
    async () => {
      const port = await closedPort();
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cove-redis-outage-"));
      let server: ChildProcess | undefined;
      const startRedis = async () => {
        server = spawn(
          "redis-server",
          ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--dir", dir],
          { stdio: "ignore" },
        );
        const until = Date.now() + 10_000;
        for (;;) {
          const up = await new Promise<boolean>((resolve) => {
            const socket = net.connect(port, "127.0.0.1", () => {
              socket.destroy();
              resolve(true);
            });
            socket.once("error", () => resolve(false));
          });
          if (up) return;
          if (Date.now() > until) throw new Error("redis-server did not start");
          await sleep(50);
        }
      };
      const stopRedis = async () => {
        if (!server || server.exitCode !== null || server.signalCode !== null) return;
        const exited = new Promise((r) => server?.once("exit", r));
        server?.kill("SIGKILL");
        await exited;
      };
      await startRedis();
      const state = createRedisSharedState(`redis://127.0.0.1:${port}`, {
        logger: recordingLogger(),
      });
      try {
        const limiter = state.rateLimiter("create", 100, 10_000);
        const events = collector();
        await state.events.subscribe("sandbox", events.handler);
        expect((await limiter.consume("org_1")).allowed).toBe(true);

        await stopRedis();
        const during = await elapsed(() => limiter.consume("org_1"));
        expect(during.result.allowed).toBe(false);
        expect(during.ms).toBeLessThan(3_000);

        await startRedis();
        const until = Date.now() + 10_000;
        while (!(await limiter.consume("org_1")).allowed) {
          if (Date.now() > until) throw new Error("the limiter did not recover");
          await sleep(100);
        }
        // The subscriber connection resubscribes on its own after reconnecting.
        const resubscribed = Date.now() + 10_000;
        while (events.events.length === 0 && Date.now() < resubscribed) {
          await state.events.publish("sandbox", { back: true });
          await sleep(100);
        }
        expect(events.events[0]).toEqual({ back: true });
      } finally {
        await state.close();
        await stopRedis();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
    40_000,
  );
});

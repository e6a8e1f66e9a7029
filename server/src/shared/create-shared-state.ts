import type { Logger } from "@cove/common";
import { createMemorySharedState } from "./memory-state.js";
import { createRedisSharedState, redactRedisUrl } from "./redis-state.js";
import type { SharedState } from "./shared-state.js";

/** How long Redis has to answer PING at start-up, ms. */
const STARTUP_PING_DEADLINE_MS = 5_000;

/** Options for createSharedState. */
export interface SharedStateOptions {
  /** REDIS_URL: share state through this Redis; unset for a single node with in-process state. */
  redisUrl?: string;
  /** Where the chosen implementation and later Redis trouble are logged. */
  logger: Logger;
}

/**
 * createSharedState picks the implementation: Redis when a URL is given (and it answers PING
 * within a few seconds, else it throws naming the URL), in-process otherwise.
 */
export async function createSharedState(options: SharedStateOptions): Promise<SharedState> {
  const { redisUrl, logger } = options;
  if (!redisUrl) {
    logger.info("shared state in process (no REDIS_URL): run a single API replica");
    return createMemorySharedState();
  }
  const shown = redactRedisUrl(redisUrl);
  const state = createRedisSharedState(redisUrl, { logger });
  const until = Date.now() + STARTUP_PING_DEADLINE_MS;
  for (;;) {
    try {
      await state.ping();
      logger.info("shared state on Redis", { redis: shown });
      return state;
    } catch (err) {
      // Each PING fails within the command timeout; keep trying until the deadline.
      if (Date.now() + 250 >= until) {
        await state.close();
        const reason = err instanceof Error ? err.message : String(err);
        throw new Error(
          `Redis at ${shown} did not answer PING within ${STARTUP_PING_DEADLINE_MS / 1000} s ` +
            `(${reason}); check REDIS_URL, or unset it to run a single node without Redis`,
          { cause: err },
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

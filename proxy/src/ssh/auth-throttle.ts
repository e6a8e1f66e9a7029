/** Options for createAuthThrottle. */
export interface AuthThrottleOptions {
  /** Failed logins one client address may make per window before it is refused outright. */
  maxFailures: number;
  /** The window, in ms; an address's count starts over when its window has passed. */
  windowMs: number;
  /** Addresses tracked at once; the oldest are forgotten beyond it. Default 100 000. */
  maxTracked?: number;
  /** The clock, for tests. */
  now?: () => number;
}

/** AuthThrottle counts failed SSH logins per client address. */
export interface AuthThrottle {
  /** blocked says whether ip has used up its failures for the current window. */
  blocked(ip: string): boolean;
  /** recordFailure counts one failed login from ip. */
  recordFailure(ip: string): void;
}

/**
 * createAuthThrottle makes a fixed-window failure counter per address, so guessing tokens
 * costs a client one window per maxFailures guesses; memory stays bounded by maxTracked.
 */
export function createAuthThrottle(options: AuthThrottleOptions): AuthThrottle {
  const now = options.now ?? Date.now;
  const maxTracked = options.maxTracked ?? 100_000;
  /** ip → failures in the window that started at `since`; Map order is insertion order. */
  const counts = new Map<string, { since: number; failures: number }>();
  const current = (ip: string) => {
    const entry = counts.get(ip);
    if (entry !== undefined && now() - entry.since >= options.windowMs) {
      counts.delete(ip);
      return undefined;
    }
    return entry;
  };
  return {
    blocked(ip) {
      return (current(ip)?.failures ?? 0) >= options.maxFailures;
    },
    recordFailure(ip) {
      const entry = current(ip);
      if (entry !== undefined) {
        entry.failures += 1;
        return;
      }
      counts.set(ip, { since: now(), failures: 1 });
      while (counts.size > maxTracked) {
        const oldest = counts.keys().next().value;
        if (oldest === undefined) break;
        counts.delete(oldest);
      }
    },
  };
}

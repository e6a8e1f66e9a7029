// How the SDK makes calls: every unary call has a deadline and is retried (jittered exponential
// backoff) only on Unavailable / ResourceExhausted / Aborted and only when that is safe; every
// stream has an idle deadline (the daemon and the API send keepalives every 15 s) and is never
// retried mid-way. All failures leave here as CoveError subclasses.
import { Code, type Interceptor, type Transport } from "@connectrpc/connect";
import { type CoveError, isRejectedUpFront, isRetryable, sdkError, toCoveError } from "./errors.js";

/** What differs between Node and browsers; implemented by the two entry points only. */
export interface Platform {
  /** name is "node" or "web", for messages. */
  name: string;
  /** createTransport builds a transport for a base URL (one HTTP/2 connection pool per URL). */
  createTransport(baseUrl: string, interceptors: Interceptor[]): Transport;
  /** close releases the transports' connections (Node); a no-op in browsers. */
  close(): void;
  /** clientStreaming says whether client-streaming RPCs work (not in browsers). */
  clientStreaming: boolean;
  /** env reads a configuration variable (process.env in Node; nothing in browsers). */
  env(name: string): string | undefined;
}

/** The retry and deadline policy of one client. */
export interface CallPolicy {
  /** timeoutMs is the default deadline of a unary call. */
  timeoutMs: number;
  /** retries is the maximum number of retries of one call. */
  retries: number;
  /** idleTimeoutMs ends a stream that has received nothing (not even a keepalive) for this long. */
  idleTimeoutMs: number;
}

/** Options of one unary call. */
export interface UnaryOptions {
  /** timeoutMs overrides the deadline for the whole call, retries included. */
  timeoutMs?: number;
  /** idempotent allows retries of Unavailable/Aborted; others are retried only if rate limited. */
  idempotent: boolean;
  /** signal cancels the call. */
  signal?: AbortSignal;
  /** headers are added to the call (e.g. cove-sandbox-id). */
  headers?: Record<string, string>;
}

/** The per-attempt options handed to a Connect client method. */
export interface AttemptOptions {
  /** timeoutMs is what is left of the call's deadline. */
  timeoutMs: number;
  /** signal is the caller's signal. */
  signal?: AbortSignal;
  /** headers go on the request. */
  headers?: Record<string, string>;
}

const BACKOFF_BASE_MS = 100;
const BACKOFF_CAP_MS = 5_000;

/** backoffMs is the delay before retry number `attempt` (0-based): full jitter, capped. */
export function backoffMs(attempt: number, retryAfterMs?: number): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
  const jittered = Math.random() * ceiling;
  return retryAfterMs === undefined ? jittered : retryAfterMs + jittered / 4;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(sdkError(Code.Canceled, "the call was cancelled"));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(sdkError(Code.Canceled, "the call was cancelled"));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * unary runs one unary call under a deadline (options.timeoutMs or the policy's) that covers
 * every attempt, retrying retryable failures with jittered exponential backoff (at least the
 * server's RetryInfo delay). Non-idempotent calls are retried only when the server refused them
 * before acting (rate limits).
 */
export async function unary<T>(
  policy: CallPolicy,
  options: UnaryOptions,
  call: (attempt: AttemptOptions) => Promise<T>,
): Promise<T> {
  const budget = options.timeoutMs ?? policy.timeoutMs;
  const deadline = Date.now() + budget;
  for (let attempt = 0; ; attempt++) {
    const left = deadline - Date.now();
    try {
      return await call({
        timeoutMs: Math.max(1, left),
        signal: options.signal,
        headers: options.headers,
      });
    } catch (err) {
      const e: CoveError = toCoveError(err);
      const safe = options.idempotent || isRejectedUpFront(e);
      if (attempt >= policy.retries || !isRetryable(e) || !safe) throw e;
      const wait = backoffMs(attempt, e.retryAfterMs);
      if (Date.now() + wait >= deadline) throw e;
      await sleep(wait, options.signal);
    }
  }
}

/** Options of one watched stream. */
export interface StreamOptions {
  /** idleTimeoutMs overrides the policy's idle deadline. */
  idleTimeoutMs?: number;
  /** timeoutMs, when set, is a deadline for the whole stream. */
  timeoutMs?: number;
  /** signal cancels the stream. */
  signal?: AbortSignal;
  /** headers are added to the call. */
  headers?: Record<string, string>;
  /** what names the stream in timeout messages. */
  what: string;
}

/**
 * watched reads a server stream under an idle deadline: each received message (keepalives
 * included) resets it (time the consumer spends on a message does not count), and when it passes the call is cancelled and CoveTimeoutError thrown.
 * Breaking out of the loop cancels the call. Errors leave as CoveError subclasses.
 */
export async function* watched<T>(
  policy: CallPolicy,
  options: StreamOptions,
  open: (attempt: {
    signal: AbortSignal;
    headers?: Record<string, string>;
    timeoutMs?: number;
  }) => AsyncIterable<T>,
): AsyncGenerator<T, void, undefined> {
  const controller = new AbortController();
  const idleMs = options.idleTimeoutMs ?? policy.idleTimeoutMs;
  let idle = false;
  const onAbort = () => controller.abort(options.signal?.reason);
  if (options.signal?.aborted) throw sdkError(Code.Canceled, `${options.what}: cancelled`);
  options.signal?.addEventListener("abort", onAbort, { once: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      idle = true;
      controller.abort();
    }, idleMs);
  };
  try {
    arm();
    const stream = open({
      signal: controller.signal,
      headers: options.headers,
      timeoutMs: options.timeoutMs,
    });
    for await (const message of stream) {
      // The consumer's own time does not count as idleness.
      if (timer !== undefined) clearTimeout(timer);
      yield message;
      arm();
    }
  } catch (err) {
    if (idle) {
      throw sdkError(
        Code.DeadlineExceeded,
        `${options.what}: nothing received for ${idleMs} ms (not even a keepalive)`,
        { reason: "STREAM_IDLE", cause: err },
      );
    }
    throw toCoveError(err);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
    controller.abort();
  }
}

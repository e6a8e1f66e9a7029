import { CoveError } from "@cove/common";

/**
 * limitClientStream is the daemon's one idle limit on client streams (uploads, stdin streams):
 * it yields what `source` yields, ends the call with DEADLINE_EXCEEDED after `idleMs` without a
 * message, and stops as soon as `signal` aborts (a client that went away).
 */
export function limitClientStream<T>(
  source: AsyncIterable<T>,
  idleMs: number,
  signal?: AbortSignal,
): AsyncGenerator<T> {
  return withIdleTimeout(
    source,
    idleMs,
    () =>
      new CoveError(
        "deadlineExceeded",
        "CLIENT_STREAM_IDLE",
        `no message for ${idleMs / 1000} s; the stream was ended`,
        { idleSeconds: String(idleMs / 1000) },
      ),
    signal,
  );
}

/**
 * withIdleTimeout yields what `source` yields but throws `onIdle()` when it stays silent for
 * `idleMs`, or `onAbort()` as soon as `signal` aborts (a client that went away).
 */
export async function* withIdleTimeout<T>(
  source: AsyncIterable<T>,
  idleMs: number,
  onIdle: () => Error,
  signal?: AbortSignal,
): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const stop = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(onIdle()), idleMs);
      onAbort = () =>
        reject(new Error("the client cancelled the stream", { cause: signal?.reason }));
      if (signal?.aborted) onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
    });
    stop.catch(() => {});
    try {
      const r = await Promise.race([it.next(), stop]);
      if (r.done) return;
      yield r.value;
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener("abort", onAbort);
    }
  }
}

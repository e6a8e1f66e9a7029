/**
 * withKeepalive yields everything `source` yields and, whenever it stays silent for
 * `intervalMs`, a keepalive message, so idle streams are not cut by proxies and clients can
 * tell a quiet stream from a dead one. It ends when the source ends.
 */
export async function* withKeepalive<T>(
  source: AsyncIterable<T>,
  intervalMs: number,
  keepalive: () => T,
): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<T>> | undefined;
  try {
    for (;;) {
      pending ??= iterator.next();
      let timer: NodeJS.Timeout | undefined;
      const tick = new Promise<"tick">((resolve) => {
        timer = setTimeout(() => resolve("tick"), intervalMs);
      });
      const result = await Promise.race([pending, tick]);
      clearTimeout(timer);
      if (result === "tick") {
        yield keepalive();
        continue;
      }
      pending = undefined;
      if (result.done) return;
      yield result.value;
    }
  } finally {
    await iterator.return?.();
  }
}

/**
 * AsyncQueue is an unbounded-by-design hand-off between a producer and one async consumer;
 * callers bound it themselves (e.g. by the size of what they push). Iterating it yields pushed
 * items until close() and then ends, or throws the error given to fail().
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  private items: T[] = [];
  private waiting: (() => void) | undefined;
  private done = false;
  private error: unknown;

  /** push adds an item for the consumer. Ignored after close. */
  push(item: T): void {
    if (this.done) return;
    this.items.push(item);
    this.wake();
  }

  /** close ends the iteration once queued items are consumed. */
  close(): void {
    this.done = true;
    this.wake();
  }

  /** fail ends the iteration with an error once queued items are consumed. */
  fail(error: unknown): void {
    this.error = error;
    this.close();
  }

  /** size is the number of queued items. */
  get size(): number {
    return this.items.length;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      const item = this.items.shift();
      if (item !== undefined) {
        yield item;
        continue;
      }
      if (this.done) {
        if (this.error !== undefined) throw this.error;
        return;
      }
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
      });
    }
  }

  private wake(): void {
    const wake = this.waiting;
    this.waiting = undefined;
    wake?.();
  }
}

/** aborted resolves when the signal aborts (never, without a signal); for racing waits. */
export function aborted(signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return new Promise(() => {});
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(), { once: true }),
  );
}

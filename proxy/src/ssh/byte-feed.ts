/**
 * ByteFeed hands items from an event-driven producer (an SSH channel, SFTP WRITE packets) to
 * one async consumer (a client-streaming RPC), counting the bytes waiting between them. Above
 * highWaterBytes push returns false so the producer can pause; onRoom fires once the consumer
 * has taken the backlog below it again. Iterating yields items until close(), or throws fail().
 */
export class ByteFeed<T> implements AsyncIterable<T> {
  private readonly items: { item: T; bytes: number }[] = [];
  private pending = 0;
  private waiting: (() => void) | undefined;
  private roomWaiters: (() => void)[] = [];
  private done = false;
  private error: unknown;

  constructor(
    private readonly highWaterBytes: number,
    private readonly onRoom?: () => void,
  ) {}

  /** pendingBytes is what was pushed and not yet taken by the consumer. */
  get pendingBytes(): number {
    return this.pending;
  }

  /** closed says whether close or fail was called. */
  get closed(): boolean {
    return this.done;
  }

  /** push queues an item of `bytes` bytes; false means the producer should wait for room. */
  push(item: T, bytes: number): boolean {
    if (this.done) return true;
    this.items.push({ item, bytes });
    this.pending += bytes;
    this.wake();
    return this.pending < this.highWaterBytes;
  }

  /** room resolves once the backlog is below the high-water mark (or the feed is closed). */
  room(): Promise<void> {
    if (this.pending < this.highWaterBytes || this.done) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  /** close ends the iteration once queued items are consumed. */
  close(): void {
    this.done = true;
    this.wake();
    this.releaseRoom();
  }

  /** fail ends the iteration with error once queued items are consumed. */
  fail(error: unknown): void {
    this.error = error;
    this.close();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      const next = this.items.shift();
      if (next !== undefined) {
        const wasFull = this.pending >= this.highWaterBytes;
        this.pending -= next.bytes;
        if (wasFull && this.pending < this.highWaterBytes) {
          this.releaseRoom();
          this.onRoom?.();
        }
        yield next.item;
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

  private releaseRoom(): void {
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

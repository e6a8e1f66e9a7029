import type { ServerChannel } from "ssh2";

/** The per-channel write state ssh2 1.17 keeps while it waits for the client's window. */
interface StalledWrites {
  _chunk?: unknown;
  _chunkcb?: unknown;
  _chunkErr?: unknown;
  _chunkcbErr?: unknown;
}

/**
 * ChannelOutput writes a session's stdout and stderr to its SSH channel in order, one chunk at
 * a time, holding up to budgetBytes of backlog so the daemon's output streams (ring buffers
 * that skip slow readers) are drained promptly while the client is slow.
 *
 * One chunk at a time because ssh2 1.17 keeps a single "waiting for window" slot per channel
 * that it never clears: if stderr stalls after stdout once stalled, the next window adjust
 * resends the stale stdout bytes and calls a stale callback. With one write in flight the
 * slots are empty whenever a write completes, and are reset then.
 */
export class ChannelOutput {
  private readonly queue: { stderr: boolean; data: Uint8Array }[] = [];
  private queued = 0;
  private pumping = false;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly channel: ServerChannel,
    private readonly budgetBytes: number,
    private readonly signal: AbortSignal,
  ) {
    signal.addEventListener("abort", () => this.wake(), { once: true });
  }

  /** write queues bytes for stdout, or stderr (extended data). */
  write(stderr: boolean, data: Uint8Array | string): void {
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    if (bytes.length === 0 || this.signal.aborted) return;
    this.queue.push({ stderr, data: bytes });
    this.queued += bytes.length;
    void this.pump();
  }

  /** room resolves once the backlog is within the budget (or the channel is gone). */
  async room(): Promise<void> {
    while (this.queued > this.budgetBytes && !this.signal.aborted) await this.next();
  }

  /** drained resolves once every queued byte was handed to the SSH transport. */
  async drained(): Promise<void> {
    while ((this.queued > 0 || this.pumping) && !this.signal.aborted) await this.next();
  }

  private next(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (;;) {
        const item = this.queue.shift();
        if (item === undefined || this.signal.aborted) break;
        const stream = item.stderr ? this.channel.stderr : this.channel;
        await new Promise<void>((resolve) => {
          const onAbort = () => resolve();
          this.signal.addEventListener("abort", onAbort, { once: true });
          stream.write(item.data, () => {
            this.signal.removeEventListener("abort", onAbort);
            resolve();
          });
        });
        const slots = this.channel as unknown as StalledWrites;
        slots._chunk = slots._chunkcb = slots._chunkErr = slots._chunkcbErr = undefined;
        this.queued -= item.data.length;
        this.wake();
      }
    } finally {
      this.pumping = false;
      this.wake();
    }
  }
}

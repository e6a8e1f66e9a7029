/**
 * OutputLog keeps the most recent bytes of one output stream in a fixed-size ring, addressed by
 * absolute offsets counted from the stream's first byte. Readers pull from an offset at their
 * own pace; a reader that falls more than the ring's size behind skips ahead to the oldest
 * byte still held (the jump is visible in the offsets). Memory never exceeds `capacity`.
 */
export class OutputLog {
  private readonly ring: Buffer;
  private written = 0;
  private closed = false;
  private waiters: Array<() => void> = [];

  constructor(readonly capacity: number) {
    this.ring = Buffer.alloc(capacity);
  }

  /** The offset one past the last byte written. */
  get endOffset(): number {
    return this.written;
  }

  /** The offset of the oldest byte still held. */
  get startOffset(): number {
    return Math.max(0, this.written - this.capacity);
  }

  /** Whether the stream has ended (no more appends). */
  get isClosed(): boolean {
    return this.closed;
  }

  /** append adds bytes; only the last `capacity` bytes are kept. */
  append(chunk: Uint8Array): void {
    if (this.closed || chunk.length === 0) return;
    let data = chunk;
    if (data.length > this.capacity) data = data.subarray(data.length - this.capacity);
    const skipped = chunk.length - data.length;
    let pos = (this.written + skipped) % this.capacity;
    let rest = data;
    while (rest.length > 0) {
      const n = Math.min(rest.length, this.capacity - pos);
      this.ring.set(rest.subarray(0, n), pos);
      rest = rest.subarray(n);
      pos = (pos + n) % this.capacity;
    }
    this.written += chunk.length;
    this.wake();
  }

  /** close marks the end of the stream and wakes every waiting reader. */
  close(): void {
    this.closed = true;
    this.wake();
  }

  /**
   * read returns up to maxBytes from `offset` (clamped to startOffset) and the offset the data
   * starts at; empty when the reader is at the end.
   */
  read(offset: number, maxBytes: number): { offset: number; data: Buffer } {
    const from = Math.max(offset, this.startOffset);
    const n = Math.min(maxBytes, this.written - from);
    if (n <= 0) return { offset: from, data: Buffer.alloc(0) };
    const out = Buffer.allocUnsafe(n);
    const pos = from % this.capacity;
    const first = Math.min(n, this.capacity - pos);
    this.ring.copy(out, 0, pos, pos + first);
    if (first < n) this.ring.copy(out, first, 0, n - first);
    return { offset: from, data: out };
  }

  /** tail returns everything still held, oldest first, and whether bytes were dropped. */
  tail(): { data: Buffer; truncated: boolean } {
    return { data: this.read(this.startOffset, this.capacity).data, truncated: this.startOffset > 0 };
  }

  /** changed resolves at the next append or close (or at once if closed). */
  changed(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

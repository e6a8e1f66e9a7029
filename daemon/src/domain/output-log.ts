/**
 * OutputLog keeps the most recent bytes of one output stream, at most `capacity` of them,
 * addressed by absolute offsets counted from the stream's first byte. Readers pull from an
 * offset at their own pace; a reader that falls more than `capacity` behind skips ahead to the
 * oldest byte still held (the jump is visible in the offsets). Memory grows with what was
 * written, never beyond `capacity` (plus one chunk), so thousands of quiet logs cost little.
 */
export class OutputLog {
  private chunks: Buffer[] = [];
  private held = 0;
  private written = 0;
  private closed = false;
  private waiters: Array<() => void> = [];

  /**
   * @param capacity bytes to keep.
   * @param onChange called after every append and at close, e.g. to wake a process's readers.
   */
  constructor(
    readonly capacity: number,
    private readonly onChange?: () => void,
  ) {}

  /** The offset one past the last byte written. */
  get endOffset(): number {
    return this.written;
  }

  /** The offset of the oldest byte still held. */
  get startOffset(): number {
    return this.written - this.held;
  }

  /** Whether the stream has ended (no more appends). */
  get isClosed(): boolean {
    return this.closed;
  }

  /** append adds bytes (copied); only the last `capacity` bytes are kept. */
  append(chunk: Uint8Array): void {
    if (this.closed || chunk.length === 0) return;
    const keep =
      chunk.length > this.capacity ? chunk.subarray(chunk.length - this.capacity) : chunk;
    this.chunks.push(Buffer.from(keep));
    this.held += keep.length;
    this.written += chunk.length;
    this.evict();
    this.wake();
  }

  /** close marks the end of the stream and wakes every waiting reader. */
  close(): void {
    if (this.closed) return;
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
    const parts: Buffer[] = [];
    let pos = this.startOffset;
    let need = n;
    for (const chunk of this.chunks) {
      const end = pos + chunk.length;
      if (end > from && need > 0) {
        const start = Math.max(0, from - pos);
        const part = chunk.subarray(start, Math.min(chunk.length, start + need));
        parts.push(part);
        need -= part.length;
      }
      pos = end;
      if (need === 0) break;
    }
    return {
      offset: from,
      data: parts.length === 1 ? Buffer.from(parts[0] as Buffer) : Buffer.concat(parts),
    };
  }

  /** tail returns everything still held, oldest first, and whether bytes were dropped. */
  tail(): { data: Buffer; truncated: boolean } {
    return {
      data: this.read(this.startOffset, this.capacity).data,
      truncated: this.startOffset > 0,
    };
  }

  /** changed resolves at the next append or close (or at once if closed). */
  changed(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private evict(): void {
    while (this.held > this.capacity) {
      const first = this.chunks[0] as Buffer;
      const excess = this.held - this.capacity;
      if (first.length <= excess) {
        this.chunks.shift();
        this.held -= first.length;
      } else {
        this.chunks[0] = Buffer.from(first.subarray(excess));
        this.held -= excess;
      }
    }
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
    this.onChange?.();
  }
}

// Delivering a process's output to the caller byte-exactly: one streaming TextDecoder per stream
// (a UTF-8 character split across chunks comes out whole), raw chunks with their offsets, and a
// bounded tail of each stream for wait(). Offsets make re-attaching safe: bytes already
// delivered are skipped, bytes the daemon's ring buffer dropped are counted as a gap.

/** The three output streams a process can have. */
export type OutputStream = "stdout" | "stderr" | "pty";

/** One raw chunk of output. */
export interface OutputChunk {
  /** stream is where the bytes came from. */
  stream: OutputStream;
  /** data is the bytes, unchanged. */
  data: Uint8Array;
  /** offset is the position of data's first byte within its stream. */
  offset: number;
}

/** Callbacks for a process's output; each may return a promise, which is awaited (backpressure). */
export interface OutputHandlers {
  /** onStdout receives stdout as text (UTF-8, decoded across chunk boundaries). */
  onStdout?: (text: string) => void | Promise<void>;
  /** onStderr receives stderr as text (UTF-8, decoded across chunk boundaries). */
  onStderr?: (text: string) => void | Promise<void>;
  /** onOutput receives every raw chunk (stdout, stderr or pty) with its offset. */
  onOutput?: (chunk: OutputChunk) => void | Promise<void>;
}

/** Default bytes of each stream kept for wait(): 1 MiB, as the daemon keeps. */
export const DEFAULT_TAIL_BYTES = 1024 * 1024;

/** The part of TextDecoder the sink uses (typed here: not every lib declares the class). */
interface Utf8Decoder {
  decode(input?: Uint8Array, options?: { stream?: boolean }): string;
}

class Tail {
  private chunks: Uint8Array[] = [];
  private size = 0;
  truncated = false;
  constructor(private readonly limit: number) {}
  push(data: Uint8Array): void {
    if (this.limit <= 0) return;
    this.chunks.push(data);
    this.size += data.length;
    while (this.size > this.limit && this.chunks.length > 0) {
      const first = this.chunks[0] as Uint8Array;
      const excess = this.size - this.limit;
      this.truncated = true;
      if (first.length <= excess) {
        this.chunks.shift();
        this.size -= first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.size -= excess;
      }
    }
  }
  bytes(): Uint8Array {
    return concatBytes(this.chunks, this.size);
  }
}

/** concatBytes joins chunks into one array (total may be passed when known). */
export function concatBytes(chunks: readonly Uint8Array[], total?: number): Uint8Array {
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(total ?? chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** OutputSink delivers one process's output to its handlers, exactly once per byte. */
export class OutputSink {
  /** next is the offset of the next byte expected on each stream (what was delivered so far). */
  readonly next: Record<OutputStream, number> = { stdout: 0, stderr: 0, pty: 0 };
  /** gapBytes counts bytes the daemon's ring buffer dropped before they could be delivered. */
  gapBytes = 0;
  private readonly decoders: Record<"stdout" | "stderr", Utf8Decoder> = {
    stdout: new TextDecoder("utf-8"),
    stderr: new TextDecoder("utf-8"),
  };
  private readonly tails: Record<OutputStream, Tail>;

  constructor(
    private readonly handlers: OutputHandlers,
    tailBytes = DEFAULT_TAIL_BYTES,
  ) {
    this.tails = {
      stdout: new Tail(tailBytes),
      stderr: new Tail(tailBytes),
      pty: new Tail(tailBytes),
    };
  }

  private live = new Set<OutputStream>();

  /** startAt sets where delivery starts (a replay from a known offset). */
  startAt(stream: OutputStream, offset: number): void {
    this.next[stream] = offset;
  }

  /** startLive makes each stream's first chunk, wherever it starts, the starting point. */
  startLive(): void {
    this.live = new Set(["stdout", "stderr", "pty"]);
  }

  /** push delivers a chunk that starts at offset, skipping bytes already delivered. */
  async push(stream: OutputStream, data: Uint8Array, offset: number): Promise<void> {
    let bytes = data;
    if (this.live.delete(stream)) this.next[stream] = offset;
    const expected = this.next[stream];
    if (offset < expected) {
      const skip = expected - offset;
      if (skip >= bytes.length) return;
      bytes = bytes.subarray(skip);
      offset = expected;
    } else if (offset > expected) {
      this.gapBytes += offset - expected;
    }
    this.next[stream] = offset + bytes.length;
    this.tails[stream].push(bytes);
    await this.handlers.onOutput?.({ stream, data: bytes, offset });
    if (stream === "pty") return;
    const text = this.decoders[stream].decode(bytes, { stream: true });
    if (text.length === 0) return;
    await (stream === "stdout" ? this.handlers.onStdout : this.handlers.onStderr)?.(text);
  }

  /** finish flushes the decoders (an incomplete character at the very end becomes U+FFFD). */
  async finish(): Promise<void> {
    const out = this.decoders.stdout.decode();
    if (out) await this.handlers.onStdout?.(out);
    const err = this.decoders.stderr.decode();
    if (err) await this.handlers.onStderr?.(err);
  }

  /** tail returns the last bytes of a stream, as kept for wait(). */
  tail(stream: OutputStream): { bytes: Uint8Array; truncated: boolean } {
    return { bytes: this.tails[stream].bytes(), truncated: this.tails[stream].truncated };
  }
}

// The engine's JSON message streams (pull, push, build): one JSON object per line, split across
// chunks arbitrarily. readEngineMessages yields them one by one with bounded buffering.

/** One message of a pull, push or build stream. */
export interface EngineMessage {
  /** Build output text (may hold several lines, or part of one). */
  stream?: string;
  /** A status line: "Pulling fs layer", "Pushed", "Digest: sha256:…" … */
  status?: string;
  /** The layer or tag the status is about. */
  id?: string;
  /** Byte progress of the layer. */
  progressDetail?: { current?: number; total?: number };
  /** A failure; the stream ends after it. */
  error?: string;
  /** The failure's details. */
  errorDetail?: { code?: number; message?: string };
  /** Side information: the built image's ID, a push's digest and size. */
  aux?: { ID?: string; Digest?: string; Size?: number; Tag?: string };
}

/** The longest single message accepted, in bytes; longer lines are skipped. */
const maxMessageBytes = 4 * 1024 * 1024;

/** readEngineMessages parses a stream of newline-delimited JSON messages. */
export async function* readEngineMessages(
  stream: AsyncIterable<Buffer | string>,
): AsyncGenerator<EngineMessage> {
  let pending = "";
  let skipping = false;
  for await (const chunk of stream) {
    pending += typeof chunk === "string" ? chunk : chunk.toString("utf8");
    let newline = pending.indexOf("\n");
    while (newline >= 0) {
      const line = pending.slice(0, newline).trim();
      pending = pending.slice(newline + 1);
      if (skipping) skipping = false;
      else if (line.length > 0) {
        const message = parse(line);
        if (message) yield message;
      }
      newline = pending.indexOf("\n");
    }
    if (pending.length > maxMessageBytes) {
      pending = "";
      skipping = true;
    }
  }
  const last = pending.trim();
  if (last.length > 0 && !skipping) {
    const message = parse(last);
    if (message) yield message;
  }
}

function parse(line: string): EngineMessage | undefined {
  try {
    const value = JSON.parse(line) as unknown;
    return value && typeof value === "object" ? (value as EngineMessage) : undefined;
  } catch {
    return { stream: `${line}\n` };
  }
}

/** LineSplitter turns build output fragments into whole lines (a fragment may end mid-line). */
export class LineSplitter {
  private partial = "";

  /** push adds a fragment and returns the lines it completed. */
  push(text: string): string[] {
    const all = this.partial + text;
    const lines = all.split(/\r?\n/);
    this.partial = lines.pop() ?? "";
    if (this.partial.length > 64 * 1024) {
      lines.push(this.partial);
      this.partial = "";
    }
    return lines.map((l) => l.replace(/.*\r/, ""));
  }

  /** end returns what is left as a last line, if anything. */
  end(): string[] {
    const rest = this.partial;
    this.partial = "";
    return rest.length > 0 ? [rest] : [];
  }
}

// What the CLI prints: JSON (proto3 JSON for messages), aligned tables, key/value blocks, ages,
// and a progress line on stderr (a spinner on a terminal, one line per change otherwise).
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { timestampDate } from "@bufbuild/protobuf/wkt";

/** The streams a command writes to. */
export interface Io {
  /** Results: ids, tables, JSON. */
  stdout: NodeJS.WriteStream;
  /** Progress, errors, hints. */
  stderr: NodeJS.WriteStream;
  /** The CLI's standard input. */
  stdin: NodeJS.ReadStream;
  /** The environment. */
  env: NodeJS.ProcessEnv;
}

/** printJson writes a value as indented JSON and a newline. */
export function printJson(io: Io, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** printTable writes rows under upper-case headers, columns padded to fit. */
export function printTable(io: Io, headers: string[], rows: string[][]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  io.stdout.write(`${[line(headers), ...rows.map(line)].join("\n")}\n`);
}

/** printFields writes "key  value" lines with the keys aligned. */
export function printFields(io: Io, fields: [string, string][]): void {
  const width = Math.max(...fields.map(([k]) => k.length));
  io.stdout.write(`${fields.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n")}\n`);
}

/** age says how long ago a timestamp was: "12s", "5m", "3h", "2d". */
export function age(time: Timestamp | undefined, now = Date.now()): string {
  if (!time) return "";
  const seconds = Math.max(0, Math.round((now - timestampDate(time).getTime()) / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

/** isoTime is a timestamp in RFC 3339, or "" when unset. */
export function isoTime(time: Timestamp | undefined): string {
  return time ? timestampDate(time).toISOString() : "";
}

/** enumName turns an enum value into its lower-case name ("STARTED" → "started"). */
export function enumName(values: Record<number, string>, value: number): string {
  return (values[value] ?? String(value)).toLowerCase().replaceAll("_", " ");
}

/** labelsText renders labels as "k=v,k=v". */
export function labelsText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

/** A progress line on stderr. */
export interface Progress {
  /** update shows new text (a terminal redraws; otherwise a line per distinct text). */
  update(text: string): void;
  /** stop clears the spinner, leaving a final line when given. */
  stop(final?: string): void;
}

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/** createProgress starts a progress line on io.stderr showing text and the time elapsed. */
export function createProgress(io: Io, text: string): Progress {
  const started = Date.now();
  const stream = io.stderr;
  let current = text;
  if (!stream.isTTY) {
    stream.write(`${text}\n`);
    return {
      update(next) {
        if (next === current) return;
        current = next;
        stream.write(`${next}\n`);
      },
      stop(final) {
        if (final) stream.write(`${final}\n`);
      },
    };
  }
  let frame = 0;
  const draw = () => {
    const seconds = Math.floor((Date.now() - started) / 1000);
    stream.write(`\r\x1b[K${FRAMES[frame++ % FRAMES.length]} ${current} (${seconds}s)`);
  };
  draw();
  const timer = setInterval(draw, 100);
  return {
    update(next) {
      current = next;
      draw();
    },
    stop(final) {
      clearInterval(timer);
      stream.write("\r\x1b[K");
      if (final) stream.write(`${final}\n`);
    },
  };
}

/** withProgress shows a progress line while work runs. */
export async function withProgress<T>(io: Io, text: string, work: () => Promise<T>): Promise<T> {
  const progress = createProgress(io, text);
  try {
    return await work();
  } finally {
    progress.stop();
  }
}

/** shellQuote quotes one word for a POSIX shell when it needs it. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

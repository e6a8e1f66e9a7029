import { Worker } from "node:worker_threads";

/** Files larger than this are not searched or edited: 64 MiB. */
export const MAX_TEXT_FILE_BYTES = 64 * 1024 * 1024;
/** Longest line returned in a match, in bytes. */
export const MAX_MATCH_LINE_BYTES = 1024;

/** One matching line found by the worker. */
export interface WorkerMatch {
  /** 1-based line number. */
  lineNumber: number;
  /** 1-based byte column of the first match. */
  column: number;
  /** The line cut to MAX_MATCH_LINE_BYTES. */
  line: string;
  /** Whether the line was cut. */
  truncated: boolean;
}

/** A search job: match `files` in order, at most `remaining` lines in all. */
export interface FindJob {
  /** Regular expression source (literal patterns arrive escaped). */
  source: string;
  /** RegExp flags ("u", plus "i" for ignore_case). */
  flags: string;
  /** Absolute paths of regular files, in output order. */
  files: string[];
  /** Most matching lines still wanted. */
  remaining: number;
}

/** A replace job for one file. */
export interface ReplaceJob {
  /** Regular expression source (literal patterns arrive escaped). */
  source: string;
  /** RegExp flags ("gu", plus "i"). */
  flags: string;
  /** Replacement text. */
  replacement: string;
  /** Insert replacement verbatim (literal mode) instead of expanding "$1", "$&" … */
  verbatim: boolean;
  /** Absolute path of the file. */
  file: string;
}

/** The worker's answer to a replace job. */
export type ReplaceOutcome =
  | { kind: "replaced"; count: number; content?: Uint8Array }
  | {
      kind: "skipped";
      reason: "NOT_A_REGULAR_FILE" | "PAYLOAD_TOO_LARGE" | "INVALID_FIELD";
      message: string;
    }
  | { kind: "error"; code: string };

/** Thrown when a job runs past its deadline (the worker is terminated). */
export class TextWorkerTimeout extends Error {
  constructor() {
    super("text search timed out");
    this.name = "TextWorkerTimeout";
  }
}

// The worker is plain JavaScript evaluated from this string, so it runs the same under tsx,
// jest and a bundled build. All regular-expression work happens in it: a pathological pattern
// can only burn this thread until the main thread terminates it at the deadline.
const WORKER_SOURCE = `
"use strict";
const { parentPort } = require("node:worker_threads");
const fs = require("node:fs");
const MAX_FILE = ${MAX_TEXT_FILE_BYTES};
const MAX_LINE = ${MAX_MATCH_LINE_BYTES};
const BINARY_PROBE = 8192;

function readRegular(file, checkBinary) {
  let fd;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return { skip: "NOT_A_REGULAR_FILE" };
    if (st.size > MAX_FILE) return { skip: "PAYLOAD_TOO_LARGE" };
    const buf = Buffer.allocUnsafe(st.size);
    let n = 0;
    while (n < st.size) {
      const r = fs.readSync(fd, buf, n, st.size - n, n);
      if (r === 0) break;
      n += r;
    }
    const data = buf.subarray(0, n);
    if (checkBinary && data.subarray(0, BINARY_PROBE).includes(0)) return { skip: "BINARY" };
    return { data };
  } catch (err) {
    return { error: (err && err.code) || "EIO" };
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function cutLine(line) {
  const bytes = Buffer.from(line, "utf8");
  if (bytes.length <= MAX_LINE) return { line, truncated: false };
  let end = MAX_LINE;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return { line: bytes.subarray(0, end).toString("utf8"), truncated: true };
}

function find(job) {
  const re = new RegExp(job.source, job.flags);
  let remaining = job.remaining;
  for (const file of job.files) {
    if (remaining <= 0) break;
    const r = readRegular(file, true);
    if (!r.data) continue;
    const text = r.data.toString("utf8");
    const matches = [];
    let lineNumber = 0;
    let start = 0;
    while (start <= text.length && remaining > 0) {
      let end = text.indexOf("\\n", start);
      if (end < 0) end = text.length;
      lineNumber++;
      let line = text.slice(start, end);
      if (line.endsWith("\\r")) line = line.slice(0, -1);
      const m = re.exec(line);
      if (m) {
        const column = Buffer.byteLength(line.slice(0, m.index), "utf8") + 1;
        const cut = cutLine(line);
        matches.push({ lineNumber, column, line: cut.line, truncated: cut.truncated });
        remaining--;
      }
      if (end === text.length) break;
      start = end + 1;
    }
    if (matches.length > 0) parentPort.postMessage({ kind: "matches", file, matches });
  }
  parentPort.postMessage({ kind: "done" });
}

function replace(job) {
  const r = readRegular(job.file, false);
  if (r.error) return parentPort.postMessage({ kind: "error", code: r.error });
  if (r.skip === "NOT_A_REGULAR_FILE") {
    return parentPort.postMessage({ kind: "skipped", reason: r.skip, message: "not a regular file" });
  }
  if (r.skip === "PAYLOAD_TOO_LARGE") {
    return parentPort.postMessage({ kind: "skipped", reason: r.skip, message: "larger than " + MAX_FILE + " bytes" });
  }
  let text;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(r.data);
  } catch {
    return parentPort.postMessage({ kind: "skipped", reason: "INVALID_FIELD", message: "not UTF-8 text; left unchanged" });
  }
  const re = new RegExp(job.source, job.flags);
  let count = 0;
  let out;
  if (job.verbatim) {
    out = text.replace(re, () => { count++; return job.replacement; });
  } else {
    for (const _ of text.matchAll(re)) count++;
    out = count > 0 ? text.replace(re, job.replacement) : text;
  }
  if (count === 0) return parentPort.postMessage({ kind: "replaced", count });
  const content = new Uint8Array(Buffer.from(out, "utf8"));
  parentPort.postMessage({ kind: "replaced", count, content }, [content.buffer]);
}

parentPort.on("message", (msg) => {
  if (msg.kind === "find") find(msg.job);
  else if (msg.kind === "replace") replace(msg.job);
});
`;

type WorkerMessage =
  | { kind: "matches"; file: string; matches: WorkerMatch[] }
  | { kind: "done" }
  | ReplaceOutcome;

/**
 * TextWorker runs search and replace jobs on a worker thread, one job at a time, and
 * terminates the thread when a job passes its deadline (a new thread starts for the next job).
 * Call close() when done.
 */
export class TextWorker {
  private worker: Worker | undefined;

  /** find runs a search job, calling onMatches per file with matches, until done or deadline. */
  find(
    job: FindJob,
    deadline: number,
    onMatches: (file: string, m: WorkerMatch[]) => void,
  ): Promise<void> {
    return this.run({ kind: "find", job }, deadline, (msg) => {
      if (msg.kind === "matches") {
        onMatches(msg.file, msg.matches);
        return false;
      }
      return msg.kind === "done";
    }).then(() => undefined);
  }

  /** replace computes one file's new content (or why it was skipped) before the deadline. */
  async replace(job: ReplaceJob, deadline: number): Promise<ReplaceOutcome> {
    let outcome: ReplaceOutcome | undefined;
    await this.run({ kind: "replace", job }, deadline, (msg) => {
      if (msg.kind === "matches" || msg.kind === "done") return false;
      outcome = msg;
      return true;
    });
    return outcome as ReplaceOutcome;
  }

  /** close terminates the thread. */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    await w?.terminate();
  }

  private run(
    message: unknown,
    deadline: number,
    onMessage: (m: WorkerMessage) => boolean,
  ): Promise<void> {
    if (!this.worker) {
      this.worker = new Worker(WORKER_SOURCE, { eval: true });
      this.worker.unref();
    }
    const worker = this.worker;
    return new Promise<void>((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        worker.off("message", listen);
        worker.off("error", fail);
        worker.off("exit", exit);
      };
      const listen = (m: WorkerMessage) => {
        if (onMessage(m)) {
          cleanup();
          resolve();
        }
      };
      const fail = (err: Error) => {
        cleanup();
        this.worker = undefined;
        reject(err);
      };
      const exit = () => fail(new Error("text worker exited"));
      const timer = setTimeout(
        () => {
          cleanup();
          this.worker = undefined;
          void worker.terminate();
          reject(new TextWorkerTimeout());
        },
        Math.max(0, deadline - Date.now()),
      );
      worker.on("message", listen);
      worker.on("error", fail);
      worker.on("exit", exit);
      worker.postMessage(message);
    });
  }
}

/** escapeRegExp turns literal text into a regular expression source matching it exactly. */
export function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");
}

/** Text workers (threads) running at once across all FindInFiles and ReplaceInFiles calls. */
export const MAX_TEXT_WORKERS = 2;

/**
 * Slots bounds how many text workers run at once, so concurrent searches cannot start a thread
 * (and hold up to a 64 MiB file) each; callers wait in order, up to their deadline.
 */
export class Slots {
  private used = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(readonly size: number) {}

  /** acquire takes a slot, waiting until `deadline`; false when the deadline passed first. */
  acquire(deadline: number): Promise<boolean> {
    if (this.used < this.size) {
      this.used++;
      return Promise.resolve(true);
    }
    return new Promise<boolean>((resolve) => {
      const grant = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(
        () => {
          const i = this.waiters.indexOf(grant);
          if (i >= 0) this.waiters.splice(i, 1);
          resolve(false);
        },
        Math.max(0, deadline - Date.now()),
      );
      this.waiters.push(grant);
    });
  }

  /** release hands the slot to the next waiter or frees it. */
  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.used--;
  }
}

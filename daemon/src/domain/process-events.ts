import { aborted, outOfRange } from "@cove/common";
import type { ManagedProcess, ProcessExit } from "./managed-process.js";
import type { OutputLog } from "./output-log.js";

/** One event of a process's life, as streams deliver it. */
export type ProcessEventData =
  | { kind: "start"; pid: number; tag: string }
  | { kind: "data"; stream: "stdout" | "stderr"; offset: number; data: Buffer }
  | { kind: "end"; exit: ProcessExit; stdoutEndOffset: number; stderrEndOffset: number };

/** Where a reader starts in each stream: an offset, or undefined for "live only". */
export interface ReadFrom {
  /** stdout offset; undefined starts at the current end. */
  stdout: number | undefined;
  /** stderr offset; undefined starts at the current end. */
  stderr: number | undefined;
}

/** Largest data event, in bytes. */
export const MAX_CHUNK_BYTES = 256 * 1024;

function startAt(log: OutputLog, offset: number | undefined, field: string): number {
  if (offset === undefined) return log.endOffset;
  if (offset < 0 || offset > log.endOffset) {
    throw outOfRange(field, `offset ${offset} is beyond the ${log.endOffset} bytes written so far`);
  }
  return offset;
}

/**
 * processEvents streams a process: start, then output from the given offsets (replay, then
 * live), then end once it exited and every held byte was sent. Data events never exceed
 * MAX_CHUNK_BYTES; bytes are passed through untouched (no decoding, so UTF-8 split across
 * chunks is the client's to join). Offsets out of range are thrown before anything is sent.
 */
export function processEvents(
  proc: ManagedProcess,
  from: ReadFrom,
  signal?: AbortSignal,
): AsyncGenerator<ProcessEventData> {
  const offsets = {
    stdout: startAt(proc.stdout, from.stdout, "stdout_offset"),
    stderr: startAt(proc.stderr, from.stderr, "stderr_offset"),
  };
  const stop = aborted(signal);
  return (async function* () {
    const detach = proc.attachReader(offsets);
    // A reader whose stream went away must stop holding the pipe at once, even while this
    // generator is suspended on a yield nobody will resume.
    signal?.addEventListener("abort", detach, { once: true });
    try {
      yield { kind: "start", pid: proc.pid, tag: proc.description.tag };
      for (;;) {
        const changed = proc.changed();
        let sent = false;
        for (const stream of ["stdout", "stderr"] as const) {
          const log = proc[stream];
          const { offset, data } = log.read(offsets[stream], MAX_CHUNK_BYTES);
          if (data.length === 0) continue;
          sent = true;
          yield { kind: "data", stream, offset, data };
          // Advanced only once the consumer asked for more: a slow client holds the pipe.
          offsets[stream] = offset + data.length;
          proc.updateFlow();
        }
        if (sent) continue;
        if (proc.exit && proc.stdout.isClosed && proc.stderr.isClosed) {
          yield {
            kind: "end",
            exit: proc.exit,
            stdoutEndOffset: proc.stdout.endOffset,
            stderrEndOffset: proc.stderr.endOffset,
          };
          return;
        }
        if (signal?.aborted) return;
        await Promise.race([changed, stop]);
      }
    } finally {
      signal?.removeEventListener("abort", detach);
      detach();
    }
  })();
}

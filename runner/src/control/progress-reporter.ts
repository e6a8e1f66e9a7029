// CommandProgress for long commands (pulls, builds, pushes, archives): log lines are batched
// so a chatty build sends a few messages a second, never one per line, and never more than the
// protocol's 1 MiB of lines in one message.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import type { CommandProgressSchema } from "@cove/gen-ts/cove/runner/v1/runner_pb.js";
import {
  type BuildLogLineSchema,
  BuildLogStream,
} from "@cove/gen-ts/cove/snapshot/v1/snapshot_pb.js";
import type { LogSource, Progress } from "../domain/progress.js";

/** The longest log line sent, in bytes (BuildLogLine.text: at most 8 KiB). */
const maxLineBytes = 8 * 1024;
/** The most log text in one message, in bytes (CommandProgress: at most 1 MiB). */
const maxBatchBytes = 1024 * 1024 - 64 * 1024;
/** How long lines wait for company before they are sent, in ms. */
const flushDelayMs = 100;

const streams: Record<LogSource, BuildLogStream> = {
  stdout: BuildLogStream.STDOUT,
  stderr: BuildLogStream.STDERR,
  system: BuildLogStream.SYSTEM,
};

/** cutLine trims a line to 8 KiB of UTF-8 without splitting a character. */
export function cutLine(text: string): string {
  if (Buffer.byteLength(text) <= maxLineBytes) return text;
  let cut = Buffer.from(text)
    .subarray(0, maxLineBytes - 3)
    .toString("utf8");
  if (cut.endsWith("\uFFFD")) cut = cut.slice(0, -1);
  return `${cut}…`;
}

type ProgressMessage = MessageInitShape<typeof CommandProgressSchema>;

/**
 * createProgressReporter returns a Progress for one command whose messages go to `send`:
 * stage changes go out at once, lines are batched for up to 100 ms. `close` flushes.
 */
export function createProgressReporter(
  commandId: string,
  send: (progress: ProgressMessage) => void,
): Progress & { close(): void } {
  let stage = "";
  let percent: number | undefined;
  let lines: Array<MessageInitShape<typeof BuildLogLineSchema>> = [];
  let bytes = 0;
  let timer: NodeJS.Timeout | undefined;
  let lastPercentSent: number | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    send({ commandId, stage, percent, logLines: lines });
    lastPercentSent = percent;
    lines = [];
    bytes = 0;
  };
  return {
    stage(next, nextPercent) {
      const rounded =
        nextPercent === undefined ? undefined : Math.max(0, Math.min(100, Math.floor(nextPercent)));
      if (next === stage && rounded === lastPercentSent) return;
      const stageChanged = next !== stage;
      stage = next;
      percent = rounded;
      // A percentage tick may wait for the next batch; a new stage goes out now.
      if (stageChanged || lines.length > 0) flush();
      else if (!timer) timer = setTimeout(flush, flushDelayMs);
    },
    line(text, source = "stdout") {
      const cut = cutLine(text);
      const size = Buffer.byteLength(cut) + 32;
      if (bytes + size > maxBatchBytes) flush();
      lines.push({ time: timestampNow(), stream: streams[source], text: cut });
      bytes += size;
      if (!timer) timer = setTimeout(flush, flushDelayMs);
    },
    close() {
      if (timer || lines.length > 0) flush();
    },
  };
}

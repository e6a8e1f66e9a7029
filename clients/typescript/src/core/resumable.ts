// Reading a long-lived output stream (process events, PTY events) that can be re-attached from
// byte offsets. Two reasons to re-attach:
// - recycling: Connect-ES 2.3 keeps every message of a server stream reachable until the call
//   ends (connectrpc/connect-es#1524, in the shared call path, so Node and browsers alike).
//   Handlers drop each message's payload once delivered, so what stays pinned is small message
//   shells; and once a stream has carried `recycleBytes`, it is ended and re-opened from the
//   delivered offsets at the next quiet moment (no message for QUIET_MS). Waiting for quiet
//   matters: bytes still in flight on the old stream would otherwise be replaced by a replay
//   from the daemon's 1 MiB ring, which a fast writer may already have overwritten.
// - failures: a stream that breaks with Unavailable or goes idle (no keepalive) after the
//   process is known is re-attached, a few times, with backoff. Nothing is ever re-sent that
//   could start a second process: the first open is never repeated.
import { Code } from "@connectrpc/connect";
import { type CoveError, sdkError, toCoveError } from "./errors.js";
import { backoffMs } from "./rpc.js";

/** Default bytes received on one stream before it is recycled (at a quiet moment). */
export const DEFAULT_RECYCLE_BYTES = 16 * 1024 * 1024;
/** How long a stream must be silent before a due recycle happens. */
const QUIET_MS = 200;
/** Re-attach attempts after failures, per stream (recycling does not count). */
const MAX_REATTACH = 3;

/** How one resumable stream is read. */
export interface ResumableOptions<M> {
  /** open opens the first stream (attempt 0) or a re-attach (attempt > 0). */
  open(reattach: boolean, signal: AbortSignal): AsyncIterable<M>;
  /** canReattach says whether the target is known well enough to re-attach (e.g. pid seen). */
  canReattach(): boolean;
  /** onMessage handles one message and returns true when it was the last one (end/exit). */
  onMessage(message: M): Promise<boolean>;
  /** sizeOf is how many bytes a message holds, for recycling (called before onMessage). */
  sizeOf(message: M): number;
  /** recycleBytes overrides DEFAULT_RECYCLE_BYTES. */
  recycleBytes?: number;
  /** signal stops reading (disconnect). */
  signal: AbortSignal;
  /** onOpen is told each time a stream is opened (first, recycled, re-attached). */
  onOpen?: () => void;
}

function reattachable(err: CoveError): boolean {
  return err.code === "unavailable" || err.reason === "STREAM_IDLE";
}

const QUIET = Symbol("quiet");

/** readResumable reads until the last message, recycling and re-attaching as needed. */
export async function readResumable<M>(options: ResumableOptions<M>): Promise<void> {
  const recycleBytes = options.recycleBytes ?? DEFAULT_RECYCLE_BYTES;
  let failures = 0;
  for (let attempt = 0; ; attempt++) {
    let received = 0;
    let recycled = false;
    const controller = new AbortController();
    const stop = () => controller.abort();
    options.signal.addEventListener("abort", stop, { once: true });
    try {
      options.onOpen?.();
      const it = options.open(attempt > 0, controller.signal)[Symbol.asyncIterator]();
      for (;;) {
        const due = received >= recycleBytes && options.canReattach();
        const next = due ? await quietOrNext(it) : await it.next();
        if (next === QUIET) {
          recycled = true;
          break;
        }
        if (next.done) break;
        received += options.sizeOf(next.value);
        if (await options.onMessage(next.value)) return;
        failures = 0;
      }
      if (!recycled) {
        // The server closed the stream without the last event (e.g. a proxy restart).
        if (options.signal.aborted) return;
        if (!options.canReattach() || ++failures > MAX_REATTACH) {
          throw sdkError(Code.Unavailable, "the output stream ended before the process did");
        }
        await delay(backoffMs(failures - 1));
      }
    } catch (err) {
      if (options.signal.aborted) return;
      const e = toCoveError(err);
      if (!reattachable(e) || !options.canReattach() || ++failures > MAX_REATTACH) throw e;
      await delay(backoffMs(failures - 1));
    } finally {
      options.signal.removeEventListener("abort", stop);
      controller.abort();
    }
  }
}

/** quietOrNext waits for the next message, or QUIET when none comes within QUIET_MS. */
async function quietOrNext<M>(it: AsyncIterator<M>): Promise<IteratorResult<M> | typeof QUIET> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const pending = it.next();
  const quiet = new Promise<typeof QUIET>((resolve) => {
    timer = setTimeout(() => resolve(QUIET), QUIET_MS);
  });
  try {
    const first = await Promise.race([pending, quiet]);
    // A message that lands after QUIET is dropped with the stream; the re-attach replays it.
    if (first === QUIET) pending.catch(() => {});
    return first;
  } finally {
    clearTimeout(timer);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// `cove sandbox exec ID -- COMMAND…`: ProcessService.Start through the proxy, output streamed
// live to the CLI's stdout/stderr, stdin forwarded with --stdin, the CLI's signals sent on with
// SendSignal, and the remote exit code as the CLI's own.
import { randomBytes } from "node:crypto";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import { Signal } from "@cove/gen-ts/cove/toolbox/v1/process_pb.js";
import type { ProcessService } from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import type { ParsedArgs } from "../args.js";
import { api, createProcessClient } from "../clients.js";
import type { Context } from "../context.js";
import { CliError } from "../errors.js";
import { boolFlag, intFlag, keyValues, stringFlag } from "../flags.js";

/** The CLI's signals and what each becomes in the sandbox. */
const FORWARDED: [NodeJS.Signals, Signal][] = [
  ["SIGINT", Signal.SIGINT],
  ["SIGTERM", Signal.SIGTERM],
  ["SIGHUP", Signal.SIGHUP],
  ["SIGQUIT", Signal.SIGQUIT],
];

/** SendInput takes at most 1 MiB per call. */
const MAX_INPUT_CHUNK = 1024 * 1024;

/** The selector of a process by its tag. */
function byTag(tag: string) {
  return { selector: { case: "tag" as const, value: tag } };
}

/** write writes a chunk, waiting for the stream to drain when it is full. */
async function write(stream: NodeJS.WriteStream, chunk: Uint8Array): Promise<void> {
  if (!stream.write(chunk)) {
    await new Promise<void>((resolve) => {
      const done = () => {
        stream.off("drain", done);
        stream.off("error", done);
        resolve();
      };
      stream.on("drain", done);
      stream.on("error", done);
    });
  }
}

/** pumpStdin sends the CLI's stdin to the process, then closes the process's stdin. */
async function pumpStdin(
  ctx: Context,
  toolbox: Client<typeof ProcessService>,
  tag: string,
  signal: AbortSignal,
): Promise<void> {
  try {
    for await (const chunk of ctx.io.stdin as AsyncIterable<Buffer>) {
      for (let at = 0; at < chunk.length; at += MAX_INPUT_CHUNK) {
        await toolbox.sendInput(
          { process: byTag(tag), data: chunk.subarray(at, at + MAX_INPUT_CHUNK) },
          { signal, timeoutMs: 60_000 },
        );
      }
    }
    await toolbox.closeStdin({ process: byTag(tag) }, { signal, timeoutMs: 30_000 });
  } catch (err) {
    // The process may exit before it read everything: that is its business, not an error.
    const code = ConnectError.from(err).code;
    if (code !== Code.FailedPrecondition && code !== Code.NotFound && code !== Code.Canceled) {
      ctx.io.stderr.write(`cove: could not send stdin: ${ConnectError.from(err).rawMessage}\n`);
    }
  } finally {
    ctx.io.stdin.pause();
  }
}

/** execInSandbox is `cove sandbox exec`. */
export async function execInSandbox(parsed: ParsedArgs, ctx: Context): Promise<number> {
  const [sandboxId = ""] = parsed.args;
  const timeout = intFlag(parsed, "timeout", { min: 1, max: 86_400 });
  const openStdin = boolFlag(parsed, "stdin");
  const { sandbox } = await api(ctx).sandboxes.getSandbox({ sandboxId }, { timeoutMs: 30_000 });
  if (!sandbox) throw new CliError("the server returned no sandbox");
  const toolbox = createProcessClient(ctx.config(), sandboxId, sandbox.toolboxUrl);
  const tag = `cove-cli-${randomBytes(8).toString("hex")}`;
  const abort = new AbortController();

  let started = false;
  let interrupts = 0;
  const onSignal = (name: NodeJS.Signals, remote: Signal) => () => {
    if (!started || (name === "SIGINT" && ++interrupts >= 3)) {
      // Before the process started, or at a third Ctrl-C, give up on it: the stream ends and
      // kill_on_disconnect kills the process tree in the sandbox.
      if (started) ctx.io.stderr.write("cove: disconnecting; the process is killed\n");
      abort.abort();
      return;
    }
    toolbox
      .sendSignal({ process: byTag(tag), signal: remote }, { timeoutMs: 10_000 })
      .catch(() => {});
  };
  const handlers = FORWARDED.map(([name, remote]) => [name, onSignal(name, remote)] as const);
  for (const [name, handler] of handlers) process.on(name, handler);

  let stdinPump: Promise<void> | undefined;
  try {
    const stream = toolbox.start(
      {
        program: { case: "argv", value: { args: parsed.rest } },
        cwd: stringFlag(parsed, "cwd") ?? "",
        env: keyValues(parsed, "env"),
        user: stringFlag(parsed, "user") ?? "",
        tag,
        timeout: timeout ? durationFromMs(timeout * 1000) : undefined,
        openStdin,
        killOnDisconnect: true,
      },
      { signal: abort.signal },
    );
    for await (const res of stream) {
      const event = res.event?.event;
      if (!event) continue;
      switch (event.case) {
        case "start":
          started = true;
          if (openStdin) stdinPump = pumpStdin(ctx, toolbox, tag, abort.signal);
          break;
        case "data": {
          const output = event.value.output;
          if (output.case === "stderr") await write(ctx.io.stderr, output.value);
          else if (output.case !== undefined) await write(ctx.io.stdout, output.value);
          break;
        }
        case "end": {
          const end = event.value;
          if (end.error) ctx.io.stderr.write(`cove: ${end.error}\n`);
          if (end.timedOut) ctx.io.stderr.write(`cove: the command timed out after ${timeout}s\n`);
          return end.exitCode & 0xff;
        }
        default:
          break;
      }
    }
    if (abort.signal.aborted) return 130;
    throw new CliError("the process's stream ended before the process did");
  } catch (err) {
    if (abort.signal.aborted) return 130;
    throw err;
  } finally {
    for (const [name, handler] of handlers) process.off(name, handler);
    abort.abort();
    // A pump still reading stdin has nothing left to send to: stop reading.
    if (stdinPump) ctx.io.stdin.destroy();
  }
}

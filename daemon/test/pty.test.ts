import * as fs from "node:fs";
import * as path from "node:path";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import { AsyncQueue } from "@cove/common";
import { type PtyEvent, PtyExitReason } from "@cove/gen-ts/cove/toolbox/v1/pty_pb.js";
import {
  PtyService,
  type StreamPtyRequestSchema,
} from "@cove/gen-ts/cove/toolbox/v1/pty_service_pb.js";
import { ErrorInfoSchema } from "@cove/gen-ts/google/rpc/error_details_pb.js";
import { defaultLimits } from "../src/config.js";
import { startTestDaemon, type TestDaemon } from "./harness.js";

let daemon: TestDaemon;
let client: Client<typeof PtyService>;

beforeAll(async () => {
  daemon = await startTestDaemon({ limits: { ...defaultLimits, keepaliveMs: 200 } });
  client = daemon.client(PtyService);
});

afterAll(async () => {
  await daemon.close();
});

/** Follows one PTY event stream in the background, collecting its events and output text. */
class Viewer {
  readonly events: PtyEvent[] = [];
  text = "";
  error: unknown;
  ended = false;
  private readonly controller = new AbortController();
  private readonly finished: Promise<void>;
  private wake: (() => void) | undefined;

  constructor(stream: (signal: AbortSignal) => AsyncIterable<{ event?: PtyEvent }>) {
    const decoder = new TextDecoder();
    this.finished = (async () => {
      try {
        for await (const res of stream(this.controller.signal)) {
          if (res.event === undefined) continue;
          this.events.push(res.event);
          if (res.event.event.case === "data") {
            this.text += decoder.decode(res.event.event.value.data, { stream: true });
          }
          this.wake?.();
        }
      } catch (err) {
        this.error = err;
      } finally {
        this.ended = true;
        this.wake?.();
      }
    })();
  }

  /** until waits for a condition on what has arrived so far. */
  async until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (this.ended)
        throw new Error(`stream ended before ${what}; output: ${JSON.stringify(this.text)}`);
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`timed out waiting for ${what}; output: ${JSON.stringify(this.text)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 100));
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** sees waits until the output matches. */
  sees(pattern: RegExp | string, timeoutMs?: number): Promise<void> {
    const test = () =>
      typeof pattern === "string" ? this.text.includes(pattern) : pattern.test(this.text);
    return this.until(test, `output ${pattern}`, timeoutMs);
  }

  /** of returns the events of one kind. */
  of<K extends Exclude<PtyEvent["event"]["case"], undefined>>(kind: K) {
    type Value = Extract<PtyEvent["event"], { case: K }>["value"];
    return this.events.flatMap((e) => (e.event.case === kind ? [e.event.value as Value] : []));
  }

  /** end waits for the stream to end on its own. */
  async end(timeoutMs = 10_000): Promise<void> {
    await this.until(() => this.ended, "the end of the stream", timeoutMs);
    await this.finished;
  }

  /** cancel detaches this viewer. */
  async cancel(): Promise<void> {
    this.controller.abort();
    await this.finished;
  }
}

function connect(ptyId: string, offset?: bigint): Viewer {
  return new Viewer((signal) => client.connectPty({ ptyId, offset }, { signal }));
}

/** line matches a whole output line (bash may put escape sequences and \r before it). */
function line(text: string): RegExp {
  const escaped = text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`[\\r\\n]${escaped}\\r\\n`);
}

function input(ptyId: string, text: string) {
  return client.sendPtyInput({ ptyId, data: new TextEncoder().encode(text) });
}

/** bash without rc files and with a fixed prompt, so output is predictable. */
async function createBash(extra: { cols?: number; rows?: number } = {}) {
  return client.createPty({
    program: { case: "argv", value: { args: ["bash", "--norc", "--noprofile", "-i"] } },
    env: { PS1: "$ " },
    size: { cols: extra.cols ?? 0, rows: extra.rows ?? 0 },
  });
}

async function errorOf(
  promise: Promise<unknown>,
): Promise<{ code: Code; reason: string | undefined }> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ConnectError))
    throw new Error(`expected a ConnectError, got ${String(err)}`);
  return { code: err.code, reason: err.findDetails(ErrorInfoSchema)[0]?.reason };
}

async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of stream) {
    // only the outcome matters
  }
}

function isGone(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

test("the default login shell runs commands typed into the terminal", async () => {
  const { ptyId, pid } = await client.createPty({});
  expect(ptyId).toMatch(/^pty_[0-9A-Za-z]{22}$/);
  expect(pid).toBeGreaterThan(0);
  const viewer = connect(ptyId, 0n);
  await input(ptyId, "echo $((6*7))\n");
  await viewer.sees(line("42"));
  const attached = viewer.of("attached")[0];
  expect(attached).toMatchObject({
    ptyId,
    pid,
    size: { cols: 80, rows: 24 },
    bufferStartOffset: 0n,
  });
  const listed = (await client.listPtys({})).ptys.find((p) => p.ptyId === ptyId);
  expect(listed).toMatchObject({ pid, cwd: daemon.home, exited: false, viewerCount: 1 });
  expect(listed?.command).toMatch(/sh$/);
  await viewer.cancel();
  await client.killPty({ ptyId });
});

test("a command gets TERM, the requested env and cwd, and its exit status", async () => {
  const dir = path.join(daemon.home, "work dir");
  fs.mkdirSync(dir);
  const { ptyId } = await client.createPty({
    program: { case: "command", value: 'echo "[$TERM|$FOO|$(pwd)]"; exit 7' },
    cwd: "work dir",
    env: { FOO: "bar" },
  });
  const viewer = connect(ptyId, 0n);
  await viewer.end();
  expect(viewer.text).toContain(`[xterm-256color|bar|${dir}]`);
  expect(viewer.of("exit")).toEqual([
    expect.objectContaining({ reason: PtyExitReason.EXITED, exitCode: 7, signal: 0 }),
  ]);
});

test("resize reaches the program and every viewer", async () => {
  const { ptyId } = await createBash({ cols: 100, rows: 30 });
  const viewer = connect(ptyId, 0n);
  await input(ptyId, "stty size\n");
  await viewer.sees(line("30 100"));
  await client.resizePty({ ptyId, size: { cols: 132, rows: 50 } });
  await viewer.until(() => viewer.of("resized").length > 0, "a resized event");
  expect(viewer.of("resized")[0]).toMatchObject({ cols: 132, rows: 50 });
  await input(ptyId, "stty size\n");
  await viewer.sees(line("50 132"));
  const listed = (await client.listPtys({})).ptys.find((p) => p.ptyId === ptyId);
  expect(listed?.size).toMatchObject({ cols: 132, rows: 50 });
  await viewer.cancel();
  await client.killPty({ ptyId });
});

test("two viewers see the same output, and a late viewer replays it from offset 0", async () => {
  const { ptyId } = await createBash();
  const first = connect(ptyId);
  const second = connect(ptyId);
  await first.until(() => first.of("attached").length > 0, "attached");
  await second.until(() => second.of("attached").length > 0, "attached");
  expect((await client.listPtys({})).ptys.find((p) => p.ptyId === ptyId)?.viewerCount).toBe(2);

  await input(ptyId, "echo viewers-$((1+1))\n");
  await first.sees(line("viewers-2"));
  await second.sees(line("viewers-2"));
  await first.cancel();
  await second.cancel();
  await waitUntil(
    async () => (await client.listPtys({})).ptys.find((p) => p.ptyId === ptyId)?.viewerCount === 0,
  );

  // Reattach: offset 0 replays everything from the start; no offset shows only new output.
  const replay = connect(ptyId, 0n);
  const live = connect(ptyId);
  await replay.sees(line("viewers-2"));
  expect(replay.of("data")[0]?.offset).toBe(0n);
  await live.until(() => live.of("attached").length > 0, "attached");
  await input(ptyId, "echo after-$((2+2))\n");
  await live.sees(line("after-4"));
  await replay.sees(line("after-4"));
  expect(live.text).not.toContain("viewers-2");
  // Offsets are consistent: the replaying viewer's bytes line up with the live one's.
  const liveFirst = live.of("data")[0];
  const replayBytes = Buffer.concat(replay.of("data").map((d) => d.data));
  expect(replayBytes.subarray(Number(liveFirst?.offset)).toString()).toBe(live.text);
  await replay.cancel();
  await live.cancel();
  await client.killPty({ ptyId });
});

test("exit 3 reports the exit code to viewers and the PTY stays listed as exited", async () => {
  const { ptyId } = await createBash();
  const viewer = connect(ptyId, 0n);
  await input(ptyId, "exit 3\n");
  await viewer.end();
  expect(viewer.error).toBeUndefined();
  const exit = viewer.of("exit");
  expect(exit).toHaveLength(1);
  expect(exit[0]).toMatchObject({ reason: PtyExitReason.EXITED, exitCode: 3, signal: 0 });
  const bytes = viewer.of("data").reduce((n, d) => n + d.data.length, 0);
  expect(exit[0]?.outputEndOffset).toBe(BigInt(bytes));
  expect(viewer.events.at(-1)?.event.case).toBe("exit");

  const listed = (await client.listPtys({})).ptys.find((p) => p.ptyId === ptyId);
  expect(listed?.exited).toBe(true);
  // A late viewer still gets the tail and the exit.
  const late = connect(ptyId, 0n);
  await late.end();
  expect(late.text).toBe(viewer.text);
  expect(late.of("exit")[0]).toMatchObject({ exitCode: 3 });
  expect(await errorOf(input(ptyId, "echo too late\n"))).toEqual({
    code: Code.FailedPrecondition,
    reason: "PROCESS_NOT_RUNNING",
  });
  // Killing an exited PTY removes it.
  await client.killPty({ ptyId });
  expect((await client.listPtys({})).ptys.some((p) => p.ptyId === ptyId)).toBe(false);
});

test("KillPty ends the shell and its background jobs, and viewers get reason KILLED", async () => {
  const { ptyId } = await createBash();
  const viewer = connect(ptyId, 0n);
  await input(ptyId, "sleep 1000 & echo bg=$!\n");
  await viewer.sees(/bg=(\d+)/);
  const bgPid = Number(/bg=(\d+)/.exec(viewer.text)?.[1]);
  expect(isGone(bgPid)).toBe(false);
  await client.killPty({ ptyId });
  await viewer.end();
  expect(viewer.of("exit")[0]).toMatchObject({
    reason: PtyExitReason.KILLED,
    signal: 1,
    exitCode: 129,
  });
  await waitUntil(async () => isGone(bgPid), 6_000);
});

test("StreamPty carries input and resize on one bidirectional stream", async () => {
  const { ptyId } = await createBash();
  const requests = new AsyncQueue<MessageInitShape<typeof StreamPtyRequestSchema>>();
  requests.push({ message: { case: "attach", value: { ptyId, offset: 0n } } });
  const viewer = new Viewer((signal) => client.streamPty(requests, { signal }));
  requests.push({ message: { case: "input", value: new TextEncoder().encode("echo $((7*7))\n") } });
  await viewer.sees(line("49"));
  requests.push({ message: { case: "keepalive", value: {} } });
  requests.push({ message: { case: "resize", value: { cols: 90, rows: 33 } } });
  await viewer.until(() => viewer.of("resized").length > 0, "a resized event");
  requests.push({ message: { case: "input", value: new TextEncoder().encode("stty size\n") } });
  await viewer.sees(line("33 90"));
  // Half-closing detaches the viewer with OK; the shell keeps running.
  requests.close();
  await viewer.end();
  expect(viewer.error).toBeUndefined();
  expect(viewer.of("exit")).toHaveLength(0);
  const listed = (await client.listPtys({})).ptys.find((p) => p.ptyId === ptyId);
  expect(listed).toMatchObject({ exited: false, viewerCount: 0 });
  await client.killPty({ ptyId });
});

test("StreamPty must start with attach", async () => {
  const requests = new AsyncQueue<MessageInitShape<typeof StreamPtyRequestSchema>>();
  requests.push({ message: { case: "input", value: new Uint8Array([0x61]) } });
  requests.close();
  expect(await errorOf(drain(client.streamPty(requests)))).toEqual({
    code: Code.InvalidArgument,
    reason: "INVALID_FIELD",
  });
});

test("an idle viewer gets keepalives", async () => {
  const { ptyId } = await createBash();
  const viewer = connect(ptyId);
  await viewer.until(() => viewer.of("keepalive").length >= 2, "two keepalives", 3_000);
  await viewer.cancel();
  await client.killPty({ ptyId });
});

test("unknown PTY ids are NOT_FOUND with reason PTY_NOT_FOUND", async () => {
  const ptyId = "pty_0000000000000000000000";
  const notFound = { code: Code.NotFound, reason: "PTY_NOT_FOUND" };
  expect(await errorOf(drain(client.connectPty({ ptyId })))).toEqual(notFound);
  expect(await errorOf(input(ptyId, "x"))).toEqual(notFound);
  expect(await errorOf(client.resizePty({ ptyId, size: { cols: 10, rows: 10 } }))).toEqual(
    notFound,
  );
  expect(await errorOf(client.killPty({ ptyId }))).toEqual(notFound);
  const requests = new AsyncQueue<MessageInitShape<typeof StreamPtyRequestSchema>>();
  requests.push({ message: { case: "attach", value: { ptyId } } });
  expect(await errorOf(drain(client.streamPty(requests)))).toEqual(notFound);
  requests.close();
});

test("bad requests are rejected with the documented codes", async () => {
  const invalid = { code: Code.InvalidArgument, reason: "INVALID_FIELD" };
  expect(await errorOf(client.createPty({ size: { cols: 1001, rows: 10 } }))).toEqual(invalid);
  expect(await errorOf(client.createPty({ env: { "A=B": "c" } }))).toEqual(invalid);
  expect(await errorOf(client.createPty({ user: "no-such-user-here" }))).toEqual(invalid);
  expect(await errorOf(client.createPty({ cwd: "missing" }))).toEqual({
    code: Code.NotFound,
    reason: "FILE_NOT_FOUND",
  });
  expect(
    await errorOf(
      client.createPty({ program: { case: "argv", value: { args: ["no-such-program-x"] } } }),
    ),
  ).toEqual({ code: Code.NotFound, reason: "FILE_NOT_FOUND" });

  const { ptyId } = await createBash();
  expect(await errorOf(client.resizePty({ ptyId, size: { cols: 0, rows: 10 } }))).toEqual(invalid);
  expect(await errorOf(client.resizePty({ ptyId, size: { cols: 80, rows: 1001 } }))).toEqual(
    invalid,
  );
  expect(await errorOf(drain(client.connectPty({ ptyId, offset: 1_000_000n })))).toEqual({
    code: Code.OutOfRange,
    reason: "INVALID_FIELD",
  });
  expect(
    await errorOf(client.sendPtyInput({ ptyId, data: new Uint8Array(1024 * 1024 + 1) })),
  ).toEqual({
    code: Code.ResourceExhausted,
    reason: "PAYLOAD_TOO_LARGE",
  });
  await client.killPty({ ptyId });
});

test("at most 64 PTYs exist at once; an exited one makes room", async () => {
  // Start from an empty registry: kill running PTYs, then remove the exited ones.
  for (let round = 0; round < 2; round++) {
    for (const p of (await client.listPtys({})).ptys) await client.killPty({ ptyId: p.ptyId });
  }
  const sleeper = { program: { case: "argv" as const, value: { args: ["sleep", "60"] } } };
  const ids: string[] = [];
  for (let i = 0; i < 64; i++) ids.push((await client.createPty(sleeper)).ptyId);
  expect(await errorOf(client.createPty(sleeper))).toEqual({
    code: Code.ResourceExhausted,
    reason: "STREAM_LIMIT_EXCEEDED",
  });
  await client.killPty({ ptyId: ids[0] as string });
  const { ptyId } = await client.createPty(sleeper);
  const listed = (await client.listPtys({})).ptys.map((p) => p.ptyId);
  expect(listed).toHaveLength(64);
  expect(listed).not.toContain(ids[0]);
  expect(listed.at(-1)).toBe(ptyId);
  await Promise.all([...ids.slice(1), ptyId].map((id) => client.killPty({ ptyId: id })));
});

const asRoot =
  process.getuid?.() === 0 && fs.readFileSync("/etc/passwd", "utf8").includes("\nnobody:");
(asRoot ? test : test.skip)(
  "user runs the process as that user without the daemon's groups",
  async () => {
    const { ptyId } = await client.createPty({
      program: {
        case: "command",
        value: 'echo "uid=$(id -u) groups=$(id -G) home=$HOME user=$USER"',
      },
      user: "nobody",
      cwd: "/",
    });
    const viewer = connect(ptyId, 0n);
    await viewer.end();
    const match = /uid=(\d+) groups=([\d ]+) home=(\S*) user=(\S+)/.exec(viewer.text);
    expect(match?.[1]).toBe("65534");
    expect(match?.[2]?.trim().split(" ")).not.toContain("0");
    expect(match?.[4]).toBe("nobody");
    const listed = (await client.listPtys({})).ptys.find((p) => p.ptyId === ptyId);
    expect(listed?.user).toBe("nobody");
  },
);

async function waitUntil(
  condition: () => Promise<boolean> | boolean,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

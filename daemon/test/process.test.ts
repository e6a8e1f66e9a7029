import * as fs from "node:fs";
import * as path from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { CodeLanguage } from "@cove/gen-ts/cove/toolbox/v1/language_pb.js";
import { type ProcessEvent, Signal } from "@cove/gen-ts/cove/toolbox/v1/process_pb.js";
import {
  ProcessService,
  type StartResponse,
} from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import { defaultLimits } from "../src/config.js";
import { startTestDaemon, type TestDaemon } from "./harness.js";

let daemon: TestDaemon;
let client: ReturnType<TestDaemon["client"]> & ReturnType<typeof clientOf>;
const clientOf = (d: TestDaemon) => d.client(ProcessService);

beforeAll(async () => {
  daemon = await startTestDaemon({ limits: { ...defaultLimits, keepaliveMs: 300 } });
  client = clientOf(daemon) as typeof client;
});
afterAll(() => daemon.close());

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString("utf8");
const seconds = (s: number) => ({
  seconds: BigInt(Math.floor(s)),
  nanos: Math.round((s % 1) * 1e9),
});
const alive = (pid: number) =>
  fs.existsSync(`/proc/${pid}`) && !fs.readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");
const codeOf = (err: unknown) => (err instanceof ConnectError ? err.code : err);

async function collect(stream: AsyncIterable<{ event?: ProcessEvent }>) {
  const out = {
    stdout: Buffer.alloc(0),
    stderr: Buffer.alloc(0),
    kinds: [] as string[],
    end: undefined as
      | undefined
      | { exitCode: number; signal: number; timedOut: boolean; status: string },
    pid: 0,
  };
  for await (const res of stream) {
    const event = res.event?.event;
    if (!event?.case) continue;
    out.kinds.push(event.case);
    if (event.case === "start") out.pid = event.value.pid;
    if (event.case === "data" && event.value.output.case === "stdout")
      out.stdout = Buffer.concat([out.stdout, event.value.output.value]);
    if (event.case === "data" && event.value.output.case === "stderr")
      out.stderr = Buffer.concat([out.stderr, event.value.output.value]);
    if (event.case === "end") out.end = event.value;
  }
  return out;
}

describe("Exec", () => {
  test("runs a shell command and keeps stdout, stderr and the exit code apart", async () => {
    const res = await client.exec({
      program: { case: "command", value: "echo out; echo err >&2; exit 7" },
    });
    expect([text(res.stdout), text(res.stderr), res.exitCode, res.timedOut]).toEqual([
      "out\n",
      "err\n",
      7,
      false,
    ]);
  });

  test("runs argv without a shell, so nothing is interpreted", async () => {
    const res = await client.exec({
      program: { case: "argv", value: { args: ["printf", "%s|", "a b", "$HOME", "*"] } },
    });
    expect(text(res.stdout)).toBe("a b|$HOME|*|");
  });

  test("runs in the home directory by default and honours cwd and env", async () => {
    fs.mkdirSync(path.join(daemon.home, "work"), { recursive: true });
    const home = await client.exec({ program: { case: "command", value: "pwd" } });
    expect(text(home.stdout).trim()).toBe(daemon.home);
    const res = await client.exec({
      program: { case: "command", value: 'pwd; echo "$GREETING"' },
      cwd: "work",
      env: { GREETING: "hi there" },
    });
    expect(text(res.stdout)).toBe(`${path.join(daemon.home, "work")}\nhi there\n`);
  });

  test("feeds stdin bytes, and stdin is closed by default so readers never hang", async () => {
    const fed = await client.exec({
      program: { case: "command", value: "wc -c" },
      stdin: Buffer.from("12345"),
    });
    expect(text(fed.stdout).trim()).toBe("5");
    const started = Date.now();
    const closed = await client.exec({ program: { case: "command", value: "cat; echo done" } });
    expect(text(closed.stdout)).toBe("done\n");
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  test("a timeout kills the whole process tree and says it timed out", async () => {
    const pids = path.join(daemon.home, "tree.pids");
    const started = Date.now();
    const res = await client.exec({
      program: {
        case: "command",
        value: `sleep 60 & echo $! > ${pids}; (setsid sleep 60 & echo $! >> ${pids}); echo partial; wait`,
      },
      timeout: seconds(0.5),
    });
    expect(res.timedOut).toBe(true);
    expect(res.signal).toBe(9);
    expect(res.exitCode).toBe(137);
    expect(text(res.stdout)).toBe("partial\n");
    expect(Date.now() - started).toBeLessThan(5_000);
    const children = fs.readFileSync(pids, "utf8").trim().split("\n").map(Number);
    expect(children).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 200));
    expect(children.filter(alive)).toEqual([]);
  });

  test("a cancelled call kills the command", async () => {
    const pidFile = path.join(daemon.home, "cancel.pid");
    const abort = new AbortController();
    const call = client.exec(
      { program: { case: "command", value: `echo $$ > ${pidFile}; exec sleep 60` } },
      { signal: abort.signal },
    );
    for (let i = 0; i < 50 && !fs.existsSync(pidFile); i++)
      await new Promise((r) => setTimeout(r, 50));
    abort.abort();
    await expect(call).rejects.toMatchObject({ code: Code.Canceled });
    const pid = Number(fs.readFileSync(pidFile, "utf8"));
    for (let i = 0; i < 40 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
    expect(alive(pid)).toBe(false);
  });

  test("keeps the last max_output_bytes of output and flags truncation", async () => {
    const res = await client.exec({
      program: { case: "command", value: "seq 1 2000" },
      maxOutputBytes: 100n,
    });
    expect(res.stdoutTruncated).toBe(true);
    expect(res.stdout.length).toBe(100);
    expect(text(res.stdout).endsWith("1999\n2000\n")).toBe(true);
  });

  test("a signal shows as 128 + its number", async () => {
    const res = await client.exec({ program: { case: "command", value: "kill -TERM $$" } });
    expect([res.exitCode, res.signal]).toEqual([143, 15]);
  });

  test("bad requests get clear errors", async () => {
    const missingCwd = await client
      .exec({ program: { case: "command", value: "true" }, cwd: "/no/such/dir" })
      .catch(codeOf);
    expect(missingCwd).toBe(Code.NotFound);
    const missingProgram = await client
      .exec({ program: { case: "argv", value: { args: ["/no/such/program"] } } })
      .catch((e) => e);
    expect(codeOf(missingProgram)).toBe(Code.NotFound);
    expect((missingProgram as ConnectError).rawMessage).toContain("/no/such/program");
    expect(await client.exec({ program: { case: "command", value: " " } }).catch(codeOf)).toBe(
      Code.InvalidArgument,
    );
    expect(await client.exec({}).catch(codeOf)).toBe(Code.InvalidArgument);
    expect(
      await client.exec({ program: { case: "command", value: "true" }, cwd: "a\0b" }).catch(codeOf),
    ).toBe(Code.InvalidArgument);
  });
});

describe("Start, Connect and input", () => {
  test("streams start, byte-exact output (a UTF-8 character split across writes) and end", async () => {
    const out = await collect(
      client.start({
        program: {
          case: "command",
          value: "printf '\\305'; sleep 0.2; printf '\\276\\n'; echo e >&2",
        },
      }),
    );
    expect(out.kinds[0]).toBe("start");
    expect(out.kinds.at(-1)).toBe("end");
    expect(out.stdout.toString("utf8")).toBe("ž\n");
    expect(out.stderr.toString()).toBe("e\n");
    expect(out.end?.exitCode).toBe(0);
  });

  test("a process outlives its stream, and Connect by tag replays its output from offset 0", async () => {
    const tag = "replay-test";
    const stream = client.start({
      program: { case: "command", value: "echo first; sleep 0.5; echo second" },
      tag,
    });
    for await (const res of stream) {
      if (res.event?.event.case === "data") break; // disconnect after the first output
    }
    const out = await collect(
      client.connect({
        process: { selector: { case: "tag", value: tag } },
        stdoutOffset: 0n,
        stderrOffset: 0n,
      }),
    );
    expect(out.stdout.toString()).toBe("first\nsecond\n");
    expect(out.end?.exitCode).toBe(0);
    // Reattaching after the exit still replays what is retained, then the end.
    const again = await collect(
      client.connect({ process: { selector: { case: "tag", value: tag } }, stdoutOffset: 6n }),
    );
    expect(again.stdout.toString()).toBe("second\n");
    expect(again.kinds.at(-1)).toBe("end");
  });

  test("an offset beyond what was written is OUT_OF_RANGE", async () => {
    const out = await collect(
      client.start({ program: { case: "command", value: "echo hi" }, tag: "offsets" }),
    );
    const err = await collect(
      client.connect({
        process: { selector: { case: "pid", value: out.pid } },
        stdoutOffset: 100n,
      }),
    ).catch(codeOf);
    expect(err).toBe(Code.OutOfRange);
  });

  test("open stdin takes input and CloseStdin ends it; closed stdin refuses input", async () => {
    const stream = client.start({
      program: { case: "command", value: "cat" },
      openStdin: true,
      tag: "cat",
    });
    const done = collect(stream);
    const selector = { selector: { case: "tag" as const, value: "cat" } };
    await waitFor(async () =>
      (await client.listProcesses({ runningOnly: true })).processes.some((p) => p.tag === "cat"),
    );
    await client.sendInput({ process: selector, data: Buffer.from("hello\n") });
    await client.closeStdin({ process: selector });
    const out = await done;
    expect(out.stdout.toString()).toBe("hello\n");
    expect(out.end?.exitCode).toBe(0);

    const closed = await firstEvent(
      client.start({ program: { case: "command", value: "sleep 5" }, tag: "nostdin" }),
    );
    const err = await client
      .sendInput({ process: { selector: { case: "pid", value: closed } }, data: Buffer.from("x") })
      .catch((e) => e);
    expect(codeOf(err)).toBe(Code.FailedPrecondition);
    await client.sendSignal({
      process: { selector: { case: "pid", value: closed } },
      signal: Signal.SIGKILL,
    });
  });

  test("StreamInput writes a client stream to stdin", async () => {
    const done = collect(
      client.start({ program: { case: "command", value: "wc -c" }, openStdin: true, tag: "wc" }),
    );
    await waitFor(async () =>
      (await client.listProcesses({ runningOnly: true })).processes.some((p) => p.tag === "wc"),
    );
    async function* input() {
      yield {
        message: {
          case: "start" as const,
          value: {
            process: { selector: { case: "tag" as const, value: "wc" } },
            closeStdinOnEnd: true,
          },
        },
      };
      for (let i = 0; i < 10; i++)
        yield { message: { case: "data" as const, value: Buffer.alloc(1000, 97) } };
    }
    const res = await client.streamInput(input());
    expect(res.writtenBytes).toBe(10000n);
    expect((await done).stdout.toString().trim()).toBe("10000");
  });

  test("SendSignal reaches the process group; ListProcesses shows running and exited", async () => {
    const pid = await firstEvent(
      client.start({ program: { case: "command", value: "sleep 30" }, tag: "sig" }),
    );
    const listed = await client.listProcesses({ runningOnly: true });
    expect(listed.processes.find((p) => p.pid === pid)).toMatchObject({
      tag: "sig",
      command: "sleep 30",
    });
    await client.sendSignal({
      process: { selector: { case: "pid", value: pid } },
      signal: Signal.SIGTERM,
    });
    const out = await collect(
      client.connect({ process: { selector: { case: "pid", value: pid } } }),
    );
    expect(out.end).toMatchObject({ signal: 15, exitCode: 143 });
    const all = await client.listProcesses({ runningOnly: false });
    expect(all.processes.find((p) => p.pid === pid)?.exitCode).toBe(143);
    expect(
      await client
        .sendSignal({ process: { selector: { case: "pid", value: pid } }, signal: Signal.SIGTERM })
        .catch(codeOf),
    ).toBe(Code.NotFound);
    expect(
      await client
        .sendSignal({
          process: { selector: { case: "pid", value: 999999 } },
          signal: Signal.SIGTERM,
        })
        .catch(codeOf),
    ).toBe(Code.NotFound);
  });

  test("a tag held by a running process is ALREADY_EXISTS", async () => {
    const pid = await firstEvent(
      client.start({ program: { case: "command", value: "sleep 30" }, tag: "dup" }),
    );
    const err = await collect(
      client.start({ program: { case: "command", value: "true" }, tag: "dup" }),
    ).catch(codeOf);
    expect(err).toBe(Code.AlreadyExists);
    await client.sendSignal({
      process: { selector: { case: "pid", value: pid } },
      signal: Signal.SIGKILL,
    });
  });

  test("quiet streams get keepalives", async () => {
    const out = await collect(client.start({ program: { case: "command", value: "sleep 1" } }));
    expect(out.kinds.filter((k) => k === "keepalive").length).toBeGreaterThanOrEqual(2);
  });

  test("kill_on_disconnect kills the process when the stream goes away", async () => {
    const abort = new AbortController();
    let pid = 0;
    try {
      for await (const res of client.start(
        { program: { case: "command", value: "sleep 30" }, killOnDisconnect: true },
        { signal: abort.signal },
      )) {
        if (res.event?.event.case === "start") {
          pid = res.event.event.value.pid;
          abort.abort();
        }
      }
    } catch {
      // cancelled on purpose
    }
    await waitFor(async () => !alive(pid));
  });

  test("kill_on_disconnect kills the tree when the client resets a backpressured stream", async () => {
    const abort = new AbortController();
    const stream = client.start(
      { program: { case: "argv", value: { args: ["yes"] } }, killOnDisconnect: true },
      { signal: abort.signal },
    );
    const events = stream[Symbol.asyncIterator]();
    const first = await events.next();
    const start = first.value?.event?.event;
    const pid = start?.case === "start" ? start.value.pid : 0;
    expect(pid).toBeGreaterThan(0);
    // Read nothing more: the flow-control windows fill and `yes` blocks on its pipe.
    await waitForBlockedWrites(pid);
    abort.abort(); // the client resets the stream
    await events.return?.(undefined).catch(() => {});
    await waitFor(() => !alive(pid));
  });

  test("a reset stream stops holding the process's pipe", async () => {
    const abort = new AbortController();
    const stream = client.start(
      { program: { case: "argv", value: { args: ["head", "-c", "100000000", "/dev/zero"] } } },
      { signal: abort.signal },
    );
    const events = stream[Symbol.asyncIterator]();
    const first = await events.next();
    const start = first.value?.event?.event;
    const pid = start?.case === "start" ? start.value.pid : 0;
    await waitForBlockedWrites(pid);
    abort.abort();
    await events.return?.(undefined).catch(() => {});
    // With its only reader gone, nothing holds the pipe: the process runs to its end.
    await waitFor(() => !alive(pid), 10_000);
  });

  test("a flood of output reaches an attached client byte for byte", async () => {
    const out = await collect(
      client.start({ program: { case: "command", value: "head -c 20000000 /dev/zero" } }),
    );
    expect(out.end?.exitCode).toBe(0);
    expect(out.stdout.length).toBe(20_000_000);
  });

  test("a slow client gets every byte: the process waits for it instead of output being dropped", async () => {
    let received = 0;
    let allA = true;
    let end: number | undefined;
    let chunks = 0;
    const command = "head -c 5000000 /dev/zero | tr '\\0' a";
    for await (const res of client.start({ program: { case: "command", value: command } })) {
      const event = res.event?.event;
      if (event?.case === "data" && event.value.output.case === "stdout") {
        const data = event.value.output.value;
        received += data.length;
        allA &&= data.every((b) => b === 97);
        // A slow reader: far slower than the process writes.
        if (++chunks % 4 === 0) await new Promise((r) => setTimeout(r, 20));
      }
      if (event?.case === "end") end = event.value.exitCode;
    }
    expect([received, allA, end]).toEqual([5_000_000, true, 0]);
  });
});

describe("sessions", () => {
  test("cd, variables, functions and aliases survive between commands; heredocs work", async () => {
    await client.createSession({ sessionId: "dev" });
    fs.mkdirSync(path.join(daemon.home, "proj"), { recursive: true });
    const run = async (command: string) => client.sessionExecute({ sessionId: "dev", command });
    await run(
      "cd proj\nexport TOKEN=abc\nPLAIN='two words'\ngreet() { echo \"hello $1\"; }\nalias ll='echo listed'",
    );
    const res = await run('pwd; echo "$TOKEN|$PLAIN"; greet you; ll');
    expect(text(res.stdout)).toBe(
      `${path.join(daemon.home, "proj")}\nabc|two words\nhello you\nlisted\n`,
    );
    const heredoc = await run("cat <<'EOF' > notes.txt\nline $1\nsecond\nEOF\ncat notes.txt");
    expect(text(heredoc.stdout)).toBe("line $1\nsecond\n");
    const failed = await run("echo bad >&2; exit 4");
    expect([failed.exitCode, text(failed.stderr)]).toEqual([4, "bad\n"]);
    const after = await run("echo $TOKEN; pwd");
    expect(text(after.stdout)).toBe(`abc\n${path.join(daemon.home, "proj")}\n`);
    const info = await client.getSession({ sessionId: "dev" });
    expect(info.session?.cwd).toBe(path.join(daemon.home, "proj"));
    expect(info.commands).toHaveLength(5);
  });

  test("async commands: logs follow as a stream, input reaches them, one command at a time", async () => {
    await client.createSession({ sessionId: "bg" });
    const started = await client.sessionExecute({
      sessionId: "bg",
      command: 'read name; echo "hi $name"; echo warn >&2',
      async: true,
      openStdin: true,
    });
    expect(started.exitCode).toBeUndefined();
    const busy = await client.sessionExecute({ sessionId: "bg", command: "true" }).catch(codeOf);
    expect(busy).toBe(Code.FailedPrecondition);
    await client.sendSessionInput({
      sessionId: "bg",
      commandId: started.commandId,
      data: Buffer.from("cove\n"),
    });
    let stdout = "";
    let stderr = "";
    let exit: number | undefined;
    for await (const res of client.getSessionCommandLogs({
      sessionId: "bg",
      commandId: started.commandId,
      follow: true,
    })) {
      if (res.event.case === "data" && res.event.value.output.case === "stdout")
        stdout += text(res.event.value.output.value);
      if (res.event.case === "data" && res.event.value.output.case === "stderr")
        stderr += text(res.event.value.output.value);
      if (res.event.case === "end") exit = res.event.value.exitCode;
    }
    expect([stdout, stderr, exit]).toEqual(["hi cove\n", "warn\n", 0]);
    const command = await client.getSessionCommand({
      sessionId: "bg",
      commandId: started.commandId,
    });
    expect(command.command?.exitCode).toBe(0);
  });

  test("unknown sessions and commands are NOT_FOUND; duplicates ALREADY_EXISTS; delete works", async () => {
    expect(await client.sessionExecute({ sessionId: "nope", command: "true" }).catch(codeOf)).toBe(
      Code.NotFound,
    );
    await client.createSession({ sessionId: "tmp" });
    expect(await client.createSession({ sessionId: "tmp" }).catch(codeOf)).toBe(Code.AlreadyExists);
    expect(
      await client.getSessionCommand({ sessionId: "tmp", commandId: "c-x" }).catch(codeOf),
    ).toBe(Code.NotFound);
    await client.deleteSession({ sessionId: "tmp" });
    expect((await client.listSessions({})).sessions.map((s) => s.sessionId)).not.toContain("tmp");
  });
});

describe("code run", () => {
  test("runs Python and JavaScript snippets", async () => {
    const py = await client.codeRun({
      language: CodeLanguage.PYTHON,
      code: 'import sys\nprint("Sum:", 3 + 4)\nprint(sys.argv[1:])',
      argv: ["a"],
    });
    expect([text(py.stdout), py.exitCode]).toEqual(["Sum: 7\n['a']\n", 0]);
    const js = await client.codeRun({
      language: CodeLanguage.JAVASCRIPT,
      code: "console.log([1,2,3].map((x) => x * 2).join(','))",
    });
    expect(text(js.stdout)).toBe("2,4,6\n");
    const err = await client.codeRun({
      language: CodeLanguage.PYTHON,
      code: "raise SystemExit(3)",
    });
    expect(err.exitCode).toBe(3);
  });

  test("runs TypeScript with tsx from PATH, and says when a runtime is missing", async () => {
    const bin = path.resolve(__dirname, "../../node_modules/.bin");
    const ts = await client.codeRun({
      language: CodeLanguage.TYPESCRIPT,
      code: "const n: number = 21; console.log(n * 2);",
      env: { PATH: `${bin}:${process.env.PATH}` },
    });
    expect(text(ts.stdout)).toBe("42\n");
    const missing = await client
      .codeRun({ language: CodeLanguage.TYPESCRIPT, code: "1", env: { PATH: "/nonexistent" } })
      .catch((e) => e);
    expect(codeOf(missing)).toBe(Code.FailedPrecondition);
    expect((missing as ConnectError).rawMessage).toContain("tsx");
  });

  test("StartCodeRun streams output as it is produced", async () => {
    const out = await collect(
      client.startCodeRun({
        language: CodeLanguage.PYTHON,
        code: "import time\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(0.1)",
      }),
    );
    expect(out.stdout.toString()).toBe("0\n1\n2\n");
    expect(out.kinds.filter((k) => k === "data").length).toBeGreaterThanOrEqual(2);
  });
});

async function firstEvent(stream: AsyncIterable<StartResponse>): Promise<number> {
  for await (const res of stream) {
    if (res.event?.event.case === "start") return res.event.event.value.pid;
  }
  throw new Error("no start event");
}

/** waitForBlockedWrites waits until a process has written a lot and then stopped (a held pipe). */
async function waitForBlockedWrites(pid: number) {
  const written = () =>
    Number(/wchar: (\d+)/.exec(fs.readFileSync(`/proc/${pid}/io`, "utf8"))?.[1]);
  let last = -1;
  await waitFor(async () => {
    const now = written();
    const still = now === last && now > 2 * 1024 * 1024;
    last = now;
    await new Promise((r) => setTimeout(r, 250));
    return still;
  }, 15_000);
}

async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 5_000) {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

// The SDK's features against a real stack: byte-exact streaming (UTF-8 split across chunks,
// recycled streams), re-attaching by tag, stdin, large files with progress, sessions, PTYs,
// filesystem and git helpers, previews and SSH access.
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  Cove,
  CoveConflictError,
  CoveError,
  CoveNotFoundError,
  type ExecutionResult,
  type FileEvent,
  type NodeSandbox,
} from "../src/index.js";
import { describeWithDocker, type SdkHarness, startHarness } from "./harness.js";

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const until = async (check: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 25));
  }
};

describeWithDocker("the SDK's features", () => {
  let h: SdkHarness;
  let sandbox: NodeSandbox;
  beforeAll(async () => {
    h = await startHarness("sdk-features");
    sandbox = await h.cove.create({ labels: { suite: "features" } });
  }, 900_000);
  afterAll(async () => {
    if (sandbox) await h.cove.delete(sandbox).catch(() => {});
    h?.cove.close();
    await h?.stack.stop();
  });

  test("a UTF-8 character split across two writes comes out whole", async () => {
    const texts: string[] = [];
    const chunks: Uint8Array[] = [];
    const handle = await sandbox.process.start(
      "printf '\\342\\202'; sleep 0.4; printf '\\254 ok\\n'",
      {
        onStdout: (t) => {
          texts.push(t);
        },
        onOutput: (c) => {
          chunks.push(c.data);
        },
      },
    );
    const result = await handle.wait();
    expect(chunks.length).toBeGreaterThanOrEqual(2); // the bytes really arrived split
    expect(texts.join("")).toBe("€ ok\n");
    expect(texts.some((t) => t.includes("\uFFFD"))).toBe(false);
    expect(result.stdout).toBe("€ ok\n");
  }, 30_000);

  test("stdout and stderr stay apart and wait() comes after the last chunk", async () => {
    let out = "";
    let err = "";
    const handle = await sandbox.process.start(
      "for i in $(seq 1 200); do echo out $i; echo err $i >&2; done; printf tail",
      {
        onStdout: (t) => {
          out += t;
        },
        onStderr: (t) => {
          err += t;
        },
      },
    );
    const result = await handle.wait();
    expect(out.endsWith("out 200\ntail")).toBe(true);
    expect(err.split("\n").filter(Boolean)).toHaveLength(200);
    expect(result.stdoutBytes).toBe(Buffer.byteLength(out));
    expect(result.lostBytes).toBe(0);
  }, 30_000);

  test("a stream recycled every 64 KiB still delivers every byte exactly once", async () => {
    let bytes = 0;
    const handle = await sandbox.process.start(
      "for i in 1 2 3 4 5 6; do head -c 300000 /dev/urandom | base64 -w 100; sleep 0.4; done",
      {
        recycleBytes: 64 * 1024,
        onOutput: (c) => {
          if (c.stream !== "stdout") return;
          expect(c.offset).toBe(bytes);
          bytes += c.data.length;
        },
      },
    );
    const result = await handle.wait();
    expect(bytes).toBe(result.stdoutBytes);
    expect(bytes).toBeGreaterThan(2_000_000);
    expect(result.lostBytes).toBe(0);
    expect(result.streams).toBeGreaterThanOrEqual(4); // it really was recycled
  }, 60_000);

  test("a fast writer: every byte is delivered in order or counted as dropped by the daemon", async () => {
    let bytes = 0;
    const handle = await sandbox.process.start("head -c 3000000 /dev/urandom | base64 -w 100", {
      recycleBytes: 64 * 1024,
      onOutput: (c) => {
        if (c.stream !== "stdout") return;
        expect(c.offset).toBeGreaterThanOrEqual(bytes); // never a byte twice, never backwards
        bytes = c.offset + c.data.length;
      },
    });
    const result = await handle.wait();
    // The daemon keeps 1 MiB per stream; a writer that outruns the reader loses the oldest
    // bytes there, and the SDK accounts for every one of them.
    expect(bytes).toBe(result.stdoutBytes);
  }, 60_000);

  test("re-attach by tag replays what was missed, then follows live", async () => {
    const first: string[] = [];
    const handle = await sandbox.process.start(
      "for i in $(seq 1 6); do echo tick $i; sleep 0.3; done",
      { tag: "ticker", onStdout: (t) => void first.push(t) },
    );
    await until(() => first.join("").includes("tick 1"));
    handle.disconnect();
    await expect(handle.wait()).rejects.toThrow(/disconnected/);

    let replay = "";
    const again = await sandbox.process.connect("ticker", {
      onStdout: (t) => {
        replay += t;
      },
    });
    expect(again.pid).toBe(handle.pid);
    const result = await again.wait();
    expect(replay).toBe([1, 2, 3, 4, 5, 6].map((i) => `tick ${i}\n`).join(""));
    expect(result.exitCode).toBe(0);

    // From an offset: only the rest.
    let rest = "";
    const tail = await sandbox.process.connect(handle.pid, {
      fromOffset: { stdout: "tick 1\n".length },
      onStdout: (t) => {
        rest += t;
      },
    });
    await tail.wait();
    expect(rest.startsWith("tick 2\n")).toBe(true);
  }, 30_000);

  test("stdin is closed by default, and open on request", async () => {
    const t0 = Date.now();
    const cat = await sandbox.process.executeCommand("cat; echo done");
    expect(cat.result).toBe("done\n");
    expect(Date.now() - t0).toBeLessThan(10_000);

    let out = "";
    const handle = await sandbox.process.start("cat | tr a-z A-Z", {
      stdin: true,
      onStdout: (t) => {
        out += t;
      },
    });
    await handle.sendInput("hello ");
    await handle.sendInput("stdin\n");
    await handle.closeStdin();
    expect((await handle.wait()).exitCode).toBe(0);
    expect(out).toBe("HELLO STDIN\n");

    const piped = await sandbox.process.start("wc -c", { stdin: "12345" });
    expect((await piped.wait()).stdout.trim()).toBe("5");
  }, 30_000);

  test("a command's timeout kills it and says so", async () => {
    const res = await sandbox.process.executeCommand("echo before; sleep 30", { timeout: 1 });
    expect(res.timedOut).toBe(true);
    expect(res.result).toBe("before\n");
  }, 30_000);

  test("64 MiB upload and download round-trip byte-exact, with progress", async () => {
    const data = randomBytes(64 * 1024 * 1024);
    const local = path.join(os.tmpdir(), `cove-sdk-${process.pid}.bin`);
    fs.writeFileSync(local, data);
    try {
      const up: number[] = [];
      const info = await sandbox.fs.uploadFileFromPath(local, "big/data.bin", {
        onProgress: (p) => up.push(p.transferredBytes),
      });
      expect(info.size).toBe(data.length);
      expect(up.at(-1)).toBe(data.length);
      expect(up.length).toBeGreaterThan(10);

      const down: number[] = [];
      const back = await sandbox.fs.downloadFile("big/data.bin", {
        onProgress: (p) => {
          down.push(p.transferredBytes);
          expect(p.totalBytes).toBe(data.length);
        },
      });
      expect(back.length).toBe(data.length);
      expect(sha256(back)).toBe(sha256(data));
      expect(down.at(-1)).toBe(data.length);
      expect(down.length).toBeGreaterThan(10);

      const streamed = createHash("sha256");
      let n = 0;
      for await (const chunk of sandbox.fs.downloadFileStream("big/data.bin", {
        rangeBytes: 4 * 1024 * 1024,
      })) {
        streamed.update(chunk);
        n += chunk.length;
      }
      expect(n).toBe(data.length);
      expect(streamed.digest("hex")).toBe(sha256(data));

      const copy = `${local}.copy`;
      await sandbox.fs.downloadFile("big/data.bin", copy);
      expect(sha256(fs.readFileSync(copy))).toBe(sha256(data));
      fs.rmSync(copy);
    } finally {
      fs.rmSync(local, { force: true });
    }
  }, 180_000);

  test("a session keeps cd and export between commands", async () => {
    await sandbox.process.createSession("work");
    await sandbox.process.executeSessionCommand("work", {
      command: "mkdir -p /tmp/proj && cd /tmp/proj",
    });
    await sandbox.process.executeSessionCommand("work", { command: "export GREETING=hi" });
    const res = await sandbox.process.executeSessionCommand("work", {
      command: 'echo "$PWD $GREETING"',
    });
    expect(res.stdout).toBe("/tmp/proj hi\n");
    expect(res.exitCode).toBe(0);

    const started = await sandbox.process.executeSessionCommand("work", {
      command: "for i in 1 2 3; do echo s$i; sleep 0.2; done",
      runAsync: true,
    });
    expect(started.exitCode).toBeUndefined();
    let followed = "";
    const logs = await sandbox.process.getSessionCommandLogs("work", started.cmdId, (t) => {
      followed += t;
    });
    expect(followed).toBe("s1\ns2\ns3\n");
    expect(logs.exitCode).toBe(0);
    const again = await sandbox.process.getSessionCommandLogs("work", started.cmdId);
    expect(again.stdout).toBe("s1\ns2\ns3\n");

    await sandbox.process.deleteSession("work");
    await expect(sandbox.process.getSession("work")).rejects.toBeInstanceOf(CoveNotFoundError);
  }, 30_000);

  test("a PTY echoes what is typed, resizes, and reports its end", async () => {
    const decoder = new TextDecoder();
    let screen = "";
    const pty = await sandbox.pty.create({
      cols: 100,
      rows: 30,
      onData: (d) => {
        screen += decoder.decode(d, { stream: true });
      },
    });
    expect(pty.pid).toBeGreaterThan(0);
    await pty.sendInput("echo hi-$((6*7))\n");
    await until(() => screen.includes("hi-42"));
    await pty.resize(120, 40);
    await pty.sendInput("stty size\n");
    await until(() => screen.includes("40 120"));
    await pty.sendInput("exit 3\n");
    const end = await pty.wait();
    expect(end.exitCode).toBe(3);
  }, 30_000);

  test("filesystem helpers", async () => {
    const dir = await sandbox.fs.createFolder("tree/a/b", "750");
    expect(dir.isDir).toBe(true);
    expect(dir.permissions).toBe("0750");
    await sandbox.fs.uploadFile(Buffer.from("alpha\nneedle here\n"), "tree/a/one.txt");
    await sandbox.fs.uploadFile(Buffer.from("needle again\n"), "tree/a/b/two.txt");

    const matches = await sandbox.fs.findFiles("tree", "needle");
    expect(matches.map((m) => [path.basename(m.file), m.line])).toEqual(
      [
        ["two.txt", 1],
        ["one.txt", 2],
      ]
        .sort((x, y) => String(x[0]).localeCompare(String(y[0])))
        .reverse() as never,
    );
    const found = await sandbox.fs.searchFiles("tree", "**/*.txt");
    expect(found.files.map((f) => path.basename(f)).sort()).toEqual(["one.txt", "two.txt"]);

    const replaced = await sandbox.fs.replaceInFiles(
      ["tree/a/one.txt", "tree/a/missing.txt"],
      "needle",
      "pin",
    );
    expect(replaced[0]).toMatchObject({ success: true, replacements: 1 });
    expect(replaced[1]?.success).toBe(false);
    expect((await sandbox.fs.downloadFile("tree/a/one.txt")).toString()).toBe("alpha\npin here\n");

    const moved = await sandbox.fs.moveFiles("tree/a/one.txt", "tree/one-moved.txt");
    expect(moved.name).toBe("one-moved.txt");
    const perms = await sandbox.fs.setFilePermissions("tree/one-moved.txt", { mode: "600" });
    expect(perms.permissions).toBe("0600");
    const details = await sandbox.fs.getFileDetails("tree/one-moved.txt");
    expect(details).toMatchObject({ size: 15, type: "file", owner: "cove" });

    const events: FileEvent[] = [];
    const stop = await sandbox.fs.watch("tree", (e) => events.push(e));
    await sandbox.fs.uploadFile(Buffer.from("x"), "tree/new.txt");
    await until(() => events.some((e) => e.path.endsWith("/tree/new.txt")));
    stop();

    await sandbox.fs.deleteFile("tree", true);
    await expect(sandbox.fs.getFileDetails("tree")).rejects.toBeInstanceOf(CoveNotFoundError);
    await expect(sandbox.fs.createFolder("/proc/nope")).rejects.toThrow();
  }, 60_000);

  test("git: init, status, add, commit, log, branches", async () => {
    const made = await sandbox.git.init("repo");
    expect(made).toEqual({ path: "/home/cove/repo", reinitialized: false });
    await sandbox.fs.uploadFile(Buffer.from("one\n"), "repo/a.txt");
    let status = await sandbox.git.status("repo");
    expect(status.currentBranch).toBe("main");
    expect(status.fileStatus).toEqual([
      expect.objectContaining({ name: "a.txt", worktree: "untracked" }),
    ]);
    await sandbox.git.add("repo", ["."]);
    const { sha } = await sandbox.git.commit("repo", "first", "Cove Test", "test@cove.dev");
    expect(sha).toMatch(/^[0-9a-f]{40}$/);
    status = await sandbox.git.status("repo");
    expect(status.fileStatus).toEqual([]);
    const second = await sandbox.git.commit(
      "repo",
      "second\n\nwith a body",
      "B",
      "b@cove.dev",
      true,
    );
    const log = await sandbox.git.log("repo");
    expect(log.map((c) => [c.sha, c.message.trim(), c.author, c.parents])).toEqual([
      [second.sha, "second\n\nwith a body", "B", [sha]],
      [sha, "first", "Cove Test", []],
    ]);
    expect(log[1]?.timestamp?.getTime()).toBeLessThanOrEqual(Date.now());
    expect((await sandbox.git.log("repo", { limit: 1 })).map((c) => c.sha)).toEqual([second.sha]);
    expect((await sandbox.git.init("repo")).reinitialized).toBe(true);
    expect(await sandbox.git.log("repo")).toHaveLength(2);
    await sandbox.git.createBranch("repo", "feature");
    expect((await sandbox.git.branches("repo")).branches).toEqual(["feature", "main"]);
    await expect(sandbox.git.commit("repo", "nothing")).rejects.toBeInstanceOf(CoveConflictError);
    const cloned = await sandbox.git.clone(`file:///home/cove/repo`, "repo-copy");
    expect(cloned.headSha).toBe(second.sha);
  }, 60_000);

  test("codeInterpreter: state survives, output streams, rich results, errors, timeout, interrupt", async () => {
    const ci = sandbox.codeInterpreter;
    const ctx = await ci.createContext({ cwd: "/tmp" });
    expect(ctx).toMatchObject({ language: "python", cwd: "/tmp", executionCount: 0 });
    expect((await ci.listContexts()).map((c) => c.id)).toContain(ctx.id);

    await ci.runCode("x = 41", { context: ctx });
    const streamed: string[] = [];
    const seen: ExecutionResult[] = [];
    const run = await ci.runCode(
      "import sys, os\nprint('out', os.getcwd())\nprint('err', file=sys.stderr)\nx + 1",
      {
        context: ctx,
        onStdout: (t) => void streamed.push(t),
        onResult: (r) => void seen.push(r),
      },
    );
    expect(run).toMatchObject({
      stdout: "out /tmp\n",
      stderr: "err\n",
      text: "42",
      executionCount: 2,
    });
    expect(streamed.join("")).toBe("out /tmp\n");
    expect(seen.map((r) => [r.isMainResult, r.text])).toEqual([[true, "42"]]);
    expect(run.error).toBeUndefined();

    const rich = await ci.runCode(
      "class P:\n  def _repr_html_(self): return '<b>hi</b>'\n  def _repr_png_(self): return b'\\x89PNG'\nP()",
      { context: ctx },
    );
    expect(rich.results[0]?.html).toBe("<b>hi</b>");
    expect(Buffer.from(rich.results[0]?.png ?? []).toString("latin1")).toBe("\x89PNG");

    const errors: string[] = [];
    const failed = await ci.runCode("1 / 0", {
      context: ctx,
      onError: (e) => void errors.push(e.name),
    });
    expect(failed.error).toMatchObject({ name: "ZeroDivisionError" });
    expect(failed.error?.traceback).toMatch(/ZeroDivisionError/);
    expect(errors).toEqual(["ZeroDivisionError"]);

    const slow = await ci.runCode("import time\ntime.sleep(30)", { context: ctx, timeout: 1 });
    expect(slow.timedOut).toBe(true);
    expect(slow.error?.name).toBe("TimeoutError");
    expect((await ci.runCode("x", { context: ctx })).text).toBe("41"); // the context survived

    const loop = ci.runCode("import time\nwhile True: time.sleep(0.1)", { context: ctx });
    await new Promise((r) => setTimeout(r, 500)); // let it start looping
    await ci.interrupt(ctx);
    expect((await loop).error?.name).toBe("KeyboardInterrupt");

    // The default context needs no createContext, and is its own.
    await ci.runCode("y = 'default'");
    expect((await ci.runCode("y")).text).toBe("'default'");
    expect((await ci.runCode("'y' in dir()", { context: ctx })).text).toBe("False");

    const restarted = await ci.restartContext(ctx);
    expect(restarted.executionCount).toBe(0);
    expect((await ci.runCode("'x' in dir()", { context: ctx })).text).toBe("False");
    await ci.deleteContext(ctx);
    await expect(ci.runCode("1", { context: ctx })).rejects.toMatchObject({
      reason: "CONTEXT_NOT_FOUND",
    });
    await expect(ci.runCode("1", { context: ctx })).rejects.toBeInstanceOf(CoveNotFoundError);
  }, 120_000);

  test("preview link and SSH access are returned", async () => {
    const preview = await sandbox.getPreviewLink(8080);
    expect(preview.url).toContain(`8080-${sandbox.id}`);
    expect(preview.token.length).toBeGreaterThan(10);
    expect(preview.expiresAt?.getTime()).toBeGreaterThan(Date.now());

    const ssh = await sandbox.createSshAccess({ expiresInMinutes: 5 });
    expect(ssh.token.length).toBeGreaterThan(10);
    expect(ssh.sshCommand).toContain(ssh.token);
    await sandbox.revokeSshAccess(ssh.token);
  }, 30_000);

  test("a sandbox token reaches that sandbox's toolbox and nothing else", async () => {
    const { token } = await sandbox.createToken({ expiresInMinutes: 5 });
    const scoped = new Cove({ apiKey: token, apiUrl: h.stack.apiUrl, proxyUrl: h.stack.proxyUrl });
    try {
      const res = await scoped.attach(sandbox.id).process.executeCommand("echo scoped");
      expect(res.result).toBe("scoped\n");
      await expect(scoped.get(sandbox.id)).rejects.toBeInstanceOf(CoveError);
    } finally {
      scoped.close();
    }
  }, 30_000);

  test("lifecycle through the sandbox object: labels, stop, start, list", async () => {
    await sandbox.setLabels({ suite: "features", phase: "two" });
    const found = await h.cove.list({ labels: { phase: "two" } });
    expect(found.map((s) => s.id)).toEqual([sandbox.id]);
    await sandbox.stop();
    expect(sandbox.state).toBe("stopped");
    await sandbox.start();
    expect(sandbox.state).toBe("started");
    const res = await sandbox.process.executeCommand("echo back");
    expect(res.result).toBe("back\n");
  }, 120_000);
});

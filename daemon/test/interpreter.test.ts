import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import type { ExecutionEvent } from "@cove/gen-ts/cove/toolbox/v1/interpreter_pb.js";
import { InterpreterService } from "@cove/gen-ts/cove/toolbox/v1/interpreter_service_pb.js";
import { CodeLanguage } from "@cove/gen-ts/cove/toolbox/v1/language_pb.js";
import { defaultLimits } from "../src/config.js";
import { startTestDaemon, type TestDaemon } from "./harness.js";

let daemon: TestDaemon;
let client: ReturnType<typeof clientOf>;
const clientOf = (d: TestDaemon) => d.client(InterpreterService);

beforeAll(async () => {
  daemon = await startTestDaemon({ limits: { ...defaultLimits, keepaliveMs: 300 } });
  client = clientOf(daemon);
});
afterAll(() => daemon.close());
afterEach(async () => {
  // Each test starts with no contexts, well under the limit of 16.
  for (const c of (await client.listContexts({})).contexts)
    await client.deleteContext({ contextId: c.contextId });
});

const seconds = (s: number) => ({
  seconds: BigInt(Math.floor(s)),
  nanos: Math.round((s % 1) * 1e9),
});

/** run executes code and gathers its events. */
async function run(
  code: string,
  contextId = "",
  extra: { timeout?: ReturnType<typeof seconds>; env?: Record<string, string> } = {},
) {
  return gather(client.runCode({ contextId, code, ...extra }));
}

async function gather(stream: AsyncIterable<{ event?: ExecutionEvent }>) {
  const out = {
    kinds: [] as string[],
    stdout: "",
    stderr: "",
    results: [] as Array<{
      main: boolean;
      text: Record<string, string>;
      binary: Record<string, Uint8Array>;
    }>,
    error: undefined as undefined | { name: string; value: string; traceback: string },
    end: undefined as undefined | { executionCount: bigint; timedOut: boolean },
  };
  for await (const res of stream) {
    const event = res.event?.event;
    if (!event?.case) continue;
    if (event.case !== "keepalive") out.kinds.push(event.case);
    if (event.case === "stdout") out.stdout += event.value.text;
    if (event.case === "stderr") out.stderr += event.value.text;
    if (event.case === "result")
      out.results.push({
        main: event.value.isMainResult,
        text: event.value.textData,
        binary: event.value.binaryData,
      });
    if (event.case === "error") out.error = event.value;
    if (event.case === "end") out.end = event.value;
  }
  return out;
}

async function newContext() {
  const res = await client.createContext({ language: CodeLanguage.PYTHON });
  const id = res.context?.contextId ?? "";
  expect(id).toMatch(/^ctx_[0-9A-Za-z]{22}$/);
  return id;
}

/** reasonOf returns the raw google.rpc.ErrorInfo details of an error as text. */
const reasonOf = (err: unknown) =>
  err instanceof ConnectError
    ? err.details
        .map((d) => ("value" in d ? Buffer.from(d.value as Uint8Array).toString("latin1") : ""))
        .join(" ")
    : "";

async function until(check: () => Promise<boolean>, ms = 5000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error("condition not met in time");
}

test("state persists across RunCode calls and the last expression is the result", async () => {
  const id = await newContext();
  const first = await run("x = 41", id);
  expect(first.results).toEqual([]);
  expect(first.end?.executionCount).toBe(1n);
  const second = await run("x + 1", id);
  expect(second.results).toHaveLength(1);
  expect(second.results[0]?.main).toBe(true);
  expect(second.results[0]?.text["text/plain"]).toBe("42");
  expect(second.end).toEqual(expect.objectContaining({ executionCount: 2n, timedOut: false }));
  expect(second.kinds.at(-1)).toBe("end");
});

test("rich results carry HTML as text and PNG as raw bytes", async () => {
  const id = await newContext();
  const res = await run(
    [
      "class Pic:",
      "    def _repr_html_(self): return '<b>hi</b>'",
      "    def _repr_png_(self): return b'\\x89PNG\\r\\n'",
      "    def __repr__(self): return 'Pic()'",
      "Pic()",
    ].join("\n"),
    id,
  );
  const result = res.results[0];
  expect(result?.text["text/plain"]).toBe("Pic()");
  expect(result?.text["text/html"]).toBe("<b>hi</b>");
  expect(Buffer.from(result?.binary["image/png"] ?? []).toString("latin1")).toBe("\x89PNG\r\n");
});

test("printed output streams as stdout and stderr events before end", async () => {
  const id = await newContext();
  const res = await run("import sys\nprint('hello')\nprint('oops', file=sys.stderr)", id);
  expect(res.stdout).toBe("hello\n");
  expect(res.stderr).toBe("oops\n");
  expect(res.kinds.indexOf("stdout")).toBeLessThan(res.kinds.indexOf("end"));
  expect(res.kinds.at(-1)).toBe("end");
  expect(res.error).toBeUndefined();
});

test("output arrives while the code still runs", async () => {
  const id = await newContext();
  const stream = client.runCode({
    contextId: id,
    code: "import time\nprint('first', flush=True)\ntime.sleep(30)",
    timeout: seconds(20),
  });
  const started = Date.now();
  for await (const res of stream) {
    if (res.event?.event.case === "stdout") {
      expect(res.event.event.value.text).toBe("first");
      break;
    }
  }
  expect(Date.now() - started).toBeLessThan(10_000);
  await client.interruptContext({ contextId: id });
});

test("an exception is an error event with a traceback, and the context keeps working", async () => {
  const id = await newContext();
  const res = await run("y = 5\n1 / 0", id);
  expect(res.error?.name).toBe("ZeroDivisionError");
  expect(res.error?.value).toBe("division by zero");
  expect(res.error?.traceback).toContain("ZeroDivisionError");
  expect(res.error?.traceback).toContain("1 / 0");
  expect(res.error?.traceback).not.toContain("kernel.py");
  expect(res.kinds.at(-1)).toBe("end");
  const after = await run("y * 2", id);
  expect(after.error).toBeUndefined();
  expect(after.results[0]?.text["text/plain"]).toBe("10");
});

test("a syntax error is reported as SyntaxError", async () => {
  const id = await newContext();
  const res = await run("def (:", id);
  expect(res.error?.name).toBe("SyntaxError");
  expect(res.end).toBeDefined();
});

test("a timeout interrupts the execution, reports TimeoutError, and the context survives", async () => {
  const id = await newContext();
  await run("kept = 'still here'", id);
  const started = Date.now();
  const res = await run("n = 0\nwhile True:\n    n += 1", id, { timeout: seconds(0.5) });
  expect(Date.now() - started).toBeLessThan(5000);
  expect(res.error?.name).toBe("TimeoutError");
  expect(res.end?.timedOut).toBe(true);
  const after = await run("kept", id);
  expect(after.results[0]?.text["text/plain"]).toBe("'still here'");
  expect(after.end?.timedOut).toBe(false);
});

test("InterruptContext stops a running loop with KeyboardInterrupt", async () => {
  const id = await newContext();
  const pending = run("while True: pass", id);
  await until(async () => {
    const { contexts } = await client.listContexts({});
    return contexts.find((c) => c.contextId === id)?.busy === true;
  });
  await client.interruptContext({ contextId: id });
  const res = await pending;
  expect(res.error?.name).toBe("KeyboardInterrupt");
  expect(res.end?.timedOut).toBe(false);
  const after = await run("'alive'", id);
  expect(after.results[0]?.text["text/plain"]).toBe("'alive'");
});

test("interrupting an idle context succeeds", async () => {
  const id = await newContext();
  await client.interruptContext({ contextId: id });
  expect((await run("1 + 1", id)).results[0]?.text["text/plain"]).toBe("2");
});

test("RestartContext clears state and the execution count", async () => {
  const id = await newContext();
  await run("gone = 1", id);
  const restarted = await client.restartContext({ contextId: id });
  expect(restarted.context?.contextId).toBe(id);
  expect(restarted.context?.executionCount).toBe(0n);
  const res = await run("gone", id);
  expect(res.error?.name).toBe("NameError");
  expect(res.end?.executionCount).toBe(1n);
});

test("two contexts are isolated", async () => {
  const a = await newContext();
  const b = await newContext();
  await run("who = 'a'", a);
  await run("who = 'b'", b);
  expect((await run("who", a)).results[0]?.text["text/plain"]).toBe("'a'");
  expect((await run("who", b)).results[0]?.text["text/plain"]).toBe("'b'");
});

test("the default context (empty context_id) is created on first use and keeps state", async () => {
  await run("default_value = 7");
  const res = await run("default_value * 6");
  expect(res.results[0]?.text["text/plain"]).toBe("42");
  const { contexts } = await client.listContexts({});
  expect(contexts.some((c) => c.cwd === daemon.home)).toBe(true);
});

test("per-execution env is set for that execution only", async () => {
  const id = await newContext();
  const res = await run("import os\nos.environ.get('COVE_TEST_VAR')", id, {
    env: { COVE_TEST_VAR: "yes" },
  });
  expect(res.results[0]?.text["text/plain"]).toBe("'yes'");
  const later = await run("os.environ.get('COVE_TEST_VAR')", id);
  expect(later.results).toEqual([]);
});

test("executions queue in arrival order", async () => {
  const id = await newContext();
  const runs = [
    run("import time\ntime.sleep(0.3)\norder = ['a']", id),
    run("order.append('b')", id),
    run("order", id),
  ];
  const [, , last] = await Promise.all(runs);
  expect(last?.results[0]?.text["text/plain"]).toBe("['a', 'b']");
});

test("DeleteContext forgets the context: RunCode is then NOT_FOUND (CONTEXT_NOT_FOUND)", async () => {
  const id = await newContext();
  await client.deleteContext({ contextId: id });
  const err = await run("1", id).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ConnectError);
  expect((err as ConnectError).code).toBe(Code.NotFound);
  expect(reasonOf(err)).toContain("CONTEXT_NOT_FOUND");
  const again = await client.deleteContext({ contextId: id }).catch((e: unknown) => e);
  expect((again as ConnectError).code).toBe(Code.NotFound);
});

test("ListContexts lists contexts oldest first", async () => {
  const a = await newContext();
  const b = await newContext();
  const { contexts } = await client.listContexts({});
  const ids = contexts.map((c) => c.contextId);
  expect(ids.indexOf(a)).toBeGreaterThanOrEqual(0);
  expect(ids.indexOf(a)).toBeLessThan(ids.indexOf(b));
  const listed = contexts.find((c) => c.contextId === a);
  expect(listed?.language).toBe(CodeLanguage.PYTHON);
  expect(listed?.cwd).toBe(daemon.home);
});

test("JavaScript and TypeScript contexts need node in the sandbox: RUNTIME_NOT_INSTALLED", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cove-interp-env-"));
  const envFile = path.join(dir, "sandbox.env");
  // A sandbox environment whose PATH has no node on it.
  fs.writeFileSync(envFile, `PATH=${dir}/empty-bin\0`);
  const bare = await startTestDaemon({ sandboxEnvFile: envFile });
  try {
    for (const language of [CodeLanguage.JAVASCRIPT, CodeLanguage.TYPESCRIPT]) {
      const err = await bare
        .client(InterpreterService)
        .createContext({ language })
        .catch((e: unknown) => e);
      expect((err as ConnectError).code).toBe(Code.FailedPrecondition);
      expect(reasonOf(err)).toContain("RUNTIME_NOT_INSTALLED");
    }
  } finally {
    await bare.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a missing cwd is NOT_FOUND", async () => {
  const err = await client.createContext({ cwd: "/definitely/not/here" }).catch((e: unknown) => e);
  expect((err as ConnectError).code).toBe(Code.NotFound);
});

test("at most 16 contexts exist at once", async () => {
  const ids = await Promise.all(Array.from({ length: 16 }, () => newContext()));
  const err = await client.createContext({}).catch((e: unknown) => e);
  expect((err as ConnectError).code).toBe(Code.ResourceExhausted);
  expect(ids).toHaveLength(16);
});

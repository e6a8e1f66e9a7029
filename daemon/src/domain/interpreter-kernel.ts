import * as fs from "node:fs";
import * as path from "node:path";
import { failedPrecondition } from "@cove/common";
import { findOnPath } from "./code-runner.js";
import { PYTHON_FIGURES_SOURCE } from "./interpreter-figures.js";
import type { ManagedProcess } from "./managed-process.js";
import { processEvents } from "./process-events.js";
import type { ProcessManager } from "./process-manager.js";
import type { OsUser } from "./users.js";

/**
 * KERNEL_SOURCE is the Python kernel each Python context runs. Protocol: one JSON request per
 * line on stdin ({"n", "code", "env"}); one JSON message per line on stdout: "ready" once,
 * then per request "started", any of "stdout"/"stderr"/"result"/"error", and "done" last.
 * User code never sees the protocol pipes: fd 0 is /dev/null and fd 1 goes to stderr (the
 * daemon forwards fd-level output of the kernel as stderr). SIGINT raises KeyboardInterrupt
 * only while user code runs; it is deferred while a message is being written and ignored
 * when idle. Matplotlib figures are shown as results (see PYTHON_FIGURES_SOURCE).
 */
export const KERNEL_SOURCE = String.raw`
import ast, base64, builtins, io, json, linecache, os, signal, sys, threading, traceback

_out_fd = os.dup(1)
_in = os.fdopen(os.dup(0), "rb")
_null = os.open(os.devnull, os.O_RDONLY)
os.dup2(_null, 0)
os.close(_null)
os.dup2(2, 1)
sys.path[0] = ""
_lock = threading.Lock()
_main = threading.main_thread()
_st = {"user": False, "writing": False, "pending": False}
_KERNEL_FILE = __file__


def _on_sigint(signum, frame):
    if not _st["user"]:
        return
    if _st["writing"]:
        _st["pending"] = True
        return
    raise KeyboardInterrupt


signal.signal(signal.SIGINT, _on_sigint)


def _emit(msg):
    data = memoryview((json.dumps(msg) + "\n").encode("utf-8", "surrogatepass"))
    in_main = threading.current_thread() is _main
    with _lock:
        if in_main:
            _st["writing"] = True
        try:
            while data:
                n = os.write(_out_fd, data)
                data = data[n:]
        finally:
            if in_main:
                _st["writing"] = False
    if in_main and _st["pending"] and _st["user"]:
        _st["pending"] = False
        raise KeyboardInterrupt


class _Stream(io.TextIOBase):
    def __init__(self, kind):
        self._kind = kind

    @property
    def encoding(self):
        return "utf-8"

    def writable(self):
        return True

    def isatty(self):
        return False

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not " + type(s).__name__)
        if s:
            _emit({"type": self._kind, "text": s})
        return len(s)

    def flush(self):
        pass


class _NoInput(io.TextIOBase):
    def readable(self):
        return True

    def readline(self, size=-1):
        return ""

    def read(self, size=-1):
        return ""


sys.stdout = _Stream("stdout")
sys.stderr = _Stream("stderr")
sys.stdin = _NoInput()
sys.displayhook = lambda value: None

_TEXT = [("_repr_html_", "text/html"), ("_repr_markdown_", "text/markdown"),
         ("_repr_svg_", "image/svg+xml"), ("_repr_latex_", "text/latex")]
_BINARY = [("_repr_png_", "image/png"), ("_repr_jpeg_", "image/jpeg"), ("_repr_pdf_", "application/pdf")]


def _bundle(value):
    text = {"text/plain": repr(value)}
    binary = {}

    def put(mime, data):
        if data is None:
            return
        if isinstance(data, (bytes, bytearray)):
            binary[mime] = base64.b64encode(bytes(data)).decode("ascii")
        elif mime.startswith("image/") and mime != "image/svg+xml" or mime == "application/pdf":
            binary[mime] = str(data)
        elif isinstance(data, str):
            text[mime] = data
        else:
            text[mime] = json.dumps(data)

    if isinstance(value, type):
        return text, binary
    for name, mime in _TEXT + _BINARY:
        method = getattr(value, name, None)
        if callable(method):
            try:
                put(mime, method())
            except Exception:
                pass
    method = getattr(value, "_repr_json_", None)
    if callable(method):
        try:
            text["application/json"] = json.dumps(method())
        except Exception:
            pass
    method = getattr(value, "_repr_mimebundle_", None)
    if callable(method):
        try:
            got = method()
            data = got[0] if isinstance(got, tuple) else got
            for mime, item in (data or {}).items():
                put(mime, item)
        except Exception:
            pass
    return text, binary


def _show(value, main):
    text, binary = _bundle(value)
    _emit({"type": "result", "main": main, "text": text, "binary": binary})


def display(*values):
    """display shows each value as a rich result of the running execution."""
    for value in values:
        _show(value, False)


builtins.display = display
_globals = {"__name__": "__main__", "__builtins__": builtins}


def _report(exc):
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == _KERNEL_FILE:
        tb = tb.tb_next
    if isinstance(exc, SyntaxError):
        lines = traceback.format_exception_only(type(exc), exc)
    else:
        lines = traceback.format_exception(type(exc), exc, tb)
    _emit({"type": "error", "name": type(exc).__name__, "value": str(exc),
           "traceback": "".join(lines)})


def _run(req):
    code = req.get("code", "")
    filename = "<cell-%d>" % req.get("n", 0)
    env = req.get("env") or {}
    saved = {key: os.environ.get(key) for key in env}
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    try:
        os.environ.update(env)
        try:
            tree = ast.parse(code, filename, "exec")
        except (SyntaxError, ValueError) as exc:
            _report(exc)
            return
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        body = compile(tree, filename, "exec")
        tail = compile(last, filename, "eval") if last is not None else None
        try:
            _st["pending"] = False
            _st["user"] = True
            _emit({"type": "started"})
            exec(body, _globals)
            if tail is not None:
                value = eval(tail, _globals)
                if value is not None:
                    _globals["_"] = value
                    _show(value, True)
        finally:
            _st["user"] = False
    except BaseException as exc:
        _st["user"] = False
        _report(exc)
    finally:
        _st["user"] = False
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _main_loop():
    _emit({"type": "ready"})
    while True:
        line = _in.readline()
        if not line:
            return
        try:
            req = json.loads(line)
        except ValueError:
            continue
        _run(req)
        _flush_figures()
        _emit({"type": "done"})
${PYTHON_FIGURES_SOURCE}

_main_loop()
`;

import { makeScratchDir } from "./scratch-dirs.js";

/** A message the kernel wrote on its protocol pipe. */
export type KernelMessage =
  | { type: "ready" | "started" | "done" }
  | { type: "stdout" | "stderr"; text: string }
  | {
      type: "result";
      main: boolean;
      text: Record<string, string>;
      binary: Record<string, string>;
      chart?: unknown;
    }
  | { type: "error"; name: string; value: string; traceback: string };

/** What a kernel reports to whoever drives it. */
export interface KernelListener {
  /** message receives each protocol message in order. */
  message(msg: KernelMessage): void;
  /** stderr receives text the kernel process wrote to its own fds 1 and 2. */
  stderr(text: string): void;
}

/** How long a new kernel may take to say it is ready, in ms. */
const READY_TIMEOUT_MS = 30_000;

/** KernelProcess is one running kernel (Python, or Node for JavaScript and TypeScript) and the pipe protocol to it. */
export class KernelProcess {
  /** listener gets the kernel's messages; set by the execution that is running. */
  listener: KernelListener | undefined;
  /** Resolves when the kernel process has ended. */
  readonly exited: Promise<string>;
  private readonly ready: Promise<void>;

  constructor(
    private readonly proc: ManagedProcess,
    private readonly removeFiles: () => void,
    /** Names the kernel's language in errors. */
    private readonly language = "python",
  ) {
    let onReady!: () => void;
    this.ready = new Promise((resolve) => {
      onReady = resolve;
    });
    this.exited = this.pump(onReady);
  }

  /** Whether the kernel process still runs. */
  get alive(): boolean {
    return this.proc.running;
  }

  /** send writes one request line to the kernel. */
  async send(request: { n: number; code: string; env: Record<string, string> }): Promise<void> {
    await this.proc.write(Buffer.from(`${JSON.stringify(request)}\n`, "utf8"));
  }

  /** interrupt sends SIGINT to the kernel's process group (KeyboardInterrupt in user code). */
  interrupt(): void {
    this.proc.signal("SIGINT");
  }

  /** kill ends the kernel and every process it started. */
  kill(): void {
    this.proc.kill("SIGKILL");
  }

  /** waitReady resolves once the kernel is ready; throws if it ended or took too long. */
  async waitReady(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), READY_TIMEOUT_MS);
    });
    const outcome = await Promise.race([
      this.ready.then(() => "ready" as const),
      this.exited.then((status) => status),
      timeout,
    ]).finally(() => clearTimeout(timer));
    if (outcome === "ready") return;
    this.kill();
    const detail = this.proc.stderr.tail().data.toString("utf8").trim().slice(-2000);
    throw failedPrecondition(
      "INTERNAL",
      `the ${this.language} kernel did not start (${outcome === "timeout" ? "no answer in 30 s" : outcome})${detail ? `: ${detail}` : ""}`,
    );
  }

  private async pump(onReady: () => void): Promise<string> {
    let pending: Buffer = Buffer.alloc(0);
    const decoder = new TextDecoder("utf-8");
    try {
      for await (const event of processEvents(this.proc, { stdout: 0, stderr: 0 })) {
        if (event.kind === "data" && event.stream === "stderr") {
          const text = decoder.decode(event.data, { stream: true });
          if (text) this.listener?.stderr(text);
        } else if (event.kind === "data") {
          pending = pending.length === 0 ? event.data : Buffer.concat([pending, event.data]);
          for (let nl = pending.indexOf(10); nl >= 0; nl = pending.indexOf(10)) {
            const line = pending.subarray(0, nl).toString("utf8");
            pending = pending.subarray(nl + 1);
            let msg: KernelMessage;
            try {
              msg = JSON.parse(line) as KernelMessage;
            } catch {
              continue;
            }
            if (msg.type === "ready") onReady();
            else this.listener?.message(msg);
          }
        } else if (event.kind === "end") {
          return event.exit.status;
        }
      }
      return "ended";
    } finally {
      this.removeFiles();
    }
  }
}

/** Everything needed to start a kernel. */
export interface KernelSpec {
  /** Absolute working directory. */
  cwd: string;
  /** Extra environment on top of the sandbox's. */
  env: Record<string, string>;
  /** OS user to run as; undefined for the daemon's own. */
  user: OsUser | undefined;
  /** Bytes of each output stream the process manager holds. */
  bufferBytes: number;
}

/**
 * startPythonKernel writes the kernel script to a private temp folder (owned by the user) and
 * starts it with the image's python3, ready for requests. FAILED_PRECONDITION
 * (RUNTIME_NOT_INSTALLED) when the image has no python3.
 */
export async function startPythonKernel(
  processes: ProcessManager,
  spec: KernelSpec,
): Promise<KernelProcess> {
  const env = { ...processes.baseEnv(spec.user), ...spec.env };
  const python = findOnPath("python3", env.PATH) ?? findOnPath("python", env.PATH);
  if (!python) {
    throw failedPrecondition(
      "RUNTIME_NOT_INSTALLED",
      "python contexts need python3, which is not installed in this sandbox's image",
      { runtime: "python3", language: "python" },
    );
  }
  const dir = makeScratchDir("cove-kernel-");
  const file = path.join(dir, "kernel.py");
  const remove = () => fs.rmSync(dir, { recursive: true, force: true });
  try {
    fs.writeFileSync(file, KERNEL_SOURCE, { mode: 0o600 });
    if (spec.user) {
      fs.chownSync(dir, spec.user.uid, spec.user.gid);
      fs.chownSync(file, spec.user.uid, spec.user.gid);
    }
    const proc = await processes.start({
      program: { argv: [python, "-u", file] },
      cwd: spec.cwd,
      env: { PYTHONUNBUFFERED: "1", ...spec.env },
      user: spec.user,
      tag: "",
      timeoutMs: undefined,
      openStdin: true,
      bufferBytes: spec.bufferBytes,
      retain: false,
    });
    const kernel = new KernelProcess(proc, remove);
    await kernel.waitReady();
    return kernel;
  } catch (err) {
    remove();
    throw err;
  }
}

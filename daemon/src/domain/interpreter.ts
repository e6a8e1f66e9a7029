import { randomInt } from "node:crypto";
import { AsyncQueue, CoveError, notFound, resourceExhausted } from "@cove/common";
import { type ChartData, parseChart } from "./interpreter-figures.js";
import { type KernelMessage, type KernelProcess, startPythonKernel } from "./interpreter-kernel.js";
import { startNodeKernel } from "./interpreter-node-kernel.js";
import type { ProcessManager } from "./process-manager.js";
import type { OsUser } from "./users.js";

/** Languages an interpreter context may have. */
export type InterpreterLanguage = "python" | "javascript" | "typescript";

/** Most contexts that exist at once. */
export const MAX_CONTEXTS = 16;
/** Most executions that may wait behind the running one in a context. */
export const MAX_QUEUED_EXECUTIONS = 16;
/** How long a timed-out execution may ignore its interrupt before the kernel is killed, in ms. */
const TIMEOUT_KILL_GRACE_MS = 5_000;
/** Largest text event, in characters (4 bytes each at most: 64 KiB of UTF-8). */
const MAX_TEXT_CHARS = 16 * 1024;

/** One event of an execution, as RunCode streams it. */
export type ExecutionEventData =
  | { kind: "stdout" | "stderr"; text: string }
  | {
      kind: "result";
      main: boolean;
      text: Record<string, string>;
      binary: Record<string, Uint8Array>;
      chart?: ChartData;
    }
  | { kind: "error"; name: string; value: string; traceback: string }
  | { kind: "end"; executionCount: number; timedOut: boolean };

/** How a context is started. */
export interface ContextSpec {
  /** The language. */
  language: InterpreterLanguage;
  /** Absolute working directory (already resolved). */
  cwd: string;
  /** Extra environment for the kernel. */
  env: Record<string, string>;
  /** OS user the kernel runs as. */
  user: OsUser | undefined;
}

/** One RunCode: its code, its events, and how it is cancelled. */
export class Execution {
  /** The events, ending after `end`. */
  readonly events = new AsyncQueue<ExecutionEventData>();
  /** The execution's number in its context, set when it starts. */
  count = 0;
  /** Whether the timeout interrupted it. */
  timedOut = false;
  /** Whether the kernel entered the user's code (interrupts wait for this). */
  started = false;
  /** Whether an interrupt was asked for before the code started. */
  interruptWanted = false;
  /** Whether an error event was sent (at most one is). */
  errored = false;
  /** Why the daemon stopped its kernel (restart, delete), if it did. */
  stopReason: { name: string; value: string } | undefined;

  constructor(
    /** The code. */
    readonly code: string,
    /** Variables set for this execution only. */
    readonly env: Record<string, string>,
    /** Interrupt after this many ms; undefined for never. */
    readonly timeoutMs: number | undefined,
  ) {}

  /** push sends an event to the stream, splitting long text. */
  push(event: ExecutionEventData): void {
    if (event.kind === "error") {
      if (this.errored) return;
      this.errored = true;
    }
    if (
      (event.kind === "stdout" || event.kind === "stderr") &&
      event.text.length > MAX_TEXT_CHARS
    ) {
      const chars = Array.from(event.text);
      for (let i = 0; i < chars.length; i += MAX_TEXT_CHARS)
        this.events.push({ kind: event.kind, text: chars.slice(i, i + MAX_TEXT_CHARS).join("") });
      return;
    }
    this.events.push(event);
  }
}

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

function contextId(): string {
  let id = "ctx_";
  for (let i = 0; i < 22; i++) id += BASE62[randomInt(62)];
  return id;
}

/**
 * InterpreterContext is one stateful kernel: executions run one at a time in arrival order,
 * a dead kernel is replaced (empty) on the next execution.
 */
export class InterpreterContext {
  /** The context id ("ctx_" + 22 base62 characters). */
  readonly id = contextId();
  /** Executions run so far (since the last restart). */
  executionCount = 0;
  /** When it was created or last restarted. */
  createTime = new Date();
  /** The running execution, if any. */
  running: Execution | undefined;
  private readonly queue: Execution[] = [];
  private kernel: KernelProcess | undefined;
  private deleted = false;
  private starting: Promise<void> | undefined;

  constructor(
    /** How it was started. */
    readonly spec: ContextSpec,
    private readonly startKernel: (spec: ContextSpec) => Promise<KernelProcess>,
  ) {}

  /** Whether an execution runs. */
  get busy(): boolean {
    return this.running !== undefined;
  }

  /** start starts the kernel (thrown errors: runtime missing, cwd missing). */
  async start(): Promise<void> {
    const starting = this.startKernel(this.spec).then((kernel) => {
      if (this.deleted) kernel.kill();
      else this.kernel = kernel;
    });
    this.starting = starting;
    try {
      await starting;
    } finally {
      if (this.starting === starting) this.starting = undefined;
    }
  }

  /**
   * run queues an execution; RESOURCE_EXHAUSTED when 16 already wait. Aborting `signal`
   * removes it from the queue or interrupts it.
   */
  run(execution: Execution, signal: AbortSignal | undefined): Execution {
    if (this.deleted) throw contextNotFound(this.id);
    if (this.queue.length >= MAX_QUEUED_EXECUTIONS) {
      throw resourceExhausted(
        "STREAM_LIMIT_EXCEEDED",
        `at most ${MAX_QUEUED_EXECUTIONS} executions may wait in a context`,
        { limit: String(MAX_QUEUED_EXECUTIONS), contextId: this.id },
      );
    }
    this.queue.push(execution);
    signal?.addEventListener(
      "abort",
      () => {
        const at = this.queue.indexOf(execution);
        if (at >= 0) {
          this.queue.splice(at, 1);
          execution.events.close();
        } else if (this.running === execution) {
          this.interrupt();
        }
      },
      { once: true },
    );
    void this.next();
    return execution;
  }

  /** interrupt sends SIGINT for the running execution (once its code started). */
  interrupt(): void {
    const execution = this.running;
    if (!execution) return;
    if (execution.started) this.kernel?.interrupt();
    else execution.interruptWanted = true;
  }

  /** restart replaces the kernel with a fresh one; running and queued executions end. */
  async restart(): Promise<void> {
    this.stop({ name: "KernelRestarted", value: "the context was restarted" });
    this.executionCount = 0;
    this.createTime = new Date();
    await this.start();
    void this.next();
  }

  /** delete kills the kernel and ends every execution. */
  delete(): void {
    this.deleted = true;
    this.stop({ name: "ContextDeleted", value: "the context was deleted" });
  }

  private stop(reason: { name: string; value: string }): void {
    if (this.running) this.running.stopReason = reason;
    for (const execution of this.queue.splice(0)) {
      execution.push({ kind: "error", ...reason, traceback: "" });
      execution.push({ kind: "end", executionCount: 0, timedOut: false });
      execution.events.close();
    }
    this.kernel?.kill();
    this.kernel = undefined;
  }

  private async next(): Promise<void> {
    if (this.running || this.deleted) return;
    const execution = this.queue.shift();
    if (!execution) return;
    this.running = execution;
    try {
      await this.execute(execution);
    } catch (err) {
      const message = err instanceof CoveError ? err.message : String(err);
      execution.push({ kind: "error", name: "KernelDied", value: message, traceback: "" });
    } finally {
      execution.push({
        kind: "end",
        executionCount: execution.count,
        timedOut: execution.timedOut,
      });
      execution.events.close();
      this.running = undefined;
      void this.next();
    }
  }

  private async execute(execution: Execution): Promise<void> {
    await this.starting?.catch(() => undefined);
    if (this.deleted) throw contextNotFound(this.id);
    if (!this.kernel?.alive) {
      // The kernel died (e.g. out of memory): start an empty one.
      this.kernel?.kill();
      this.kernel = undefined;
      this.executionCount = 0;
      this.createTime = new Date();
      await this.start();
    }
    const kernel = this.kernel as KernelProcess;
    execution.count = ++this.executionCount;
    let finish!: () => void;
    const done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    kernel.listener = {
      message: (msg) => this.onMessage(execution, kernel, msg, finish),
      stderr: (text) => execution.push({ kind: "stderr", text }),
    };
    let timer: NodeJS.Timeout | undefined;
    let killer: NodeJS.Timeout | undefined;
    if (execution.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        execution.timedOut = true;
        this.interrupt();
        // Code that swallows KeyboardInterrupt loses its kernel instead of running on.
        killer = setTimeout(() => kernel.kill(), TIMEOUT_KILL_GRACE_MS);
      }, execution.timeoutMs);
    }
    try {
      await kernel.send({ n: execution.count, code: execution.code, env: execution.env });
      const ended = await Promise.race([done.then(() => ""), kernel.exited]);
      if (ended !== "" || !kernel.alive) {
        if (execution.timedOut) {
          execution.push(timeoutError(execution.timeoutMs, "; the kernel was restarted"));
        } else {
          const reason = execution.stopReason ?? {
            name: "KernelDied",
            value: `the kernel process ended (${ended}); the context restarts empty on the next run`,
          };
          execution.push({ kind: "error", ...reason, traceback: "" });
        }
      }
    } finally {
      clearTimeout(timer);
      clearTimeout(killer);
      if (kernel.listener) kernel.listener = undefined;
    }
  }

  private onMessage(
    execution: Execution,
    kernel: KernelProcess,
    msg: KernelMessage,
    finish: () => void,
  ): void {
    switch (msg.type) {
      case "started":
        execution.started = true;
        if (execution.interruptWanted) kernel.interrupt();
        return;
      case "done":
        finish();
        return;
      case "stdout":
      case "stderr":
        execution.push({ kind: msg.type, text: msg.text });
        return;
      case "result": {
        const binary: Record<string, Uint8Array> = {};
        for (const [mime, data] of Object.entries(msg.binary ?? {}))
          binary[mime] = Buffer.from(data, "base64");
        execution.push({
          kind: "result",
          main: msg.main,
          text: msg.text ?? {},
          binary,
          chart: parseChart(msg.chart),
        });
        return;
      }
      case "error":
        if (execution.timedOut && msg.name === "KeyboardInterrupt") {
          execution.push(timeoutError(execution.timeoutMs, "", msg.traceback));
        } else {
          execution.push({
            kind: "error",
            name: msg.name,
            value: msg.value,
            traceback: msg.traceback,
          });
        }
        return;
    }
  }
}

function timeoutError(ms: number | undefined, suffix: string, traceback = ""): ExecutionEventData {
  return {
    kind: "error",
    name: "TimeoutError",
    value: `execution timed out after ${(ms ?? 0) / 1000} s${suffix}`,
    traceback,
  };
}

function contextNotFound(id: string): CoveError {
  return notFound("CONTEXT_NOT_FOUND", `no interpreter context "${id}"`, { contextId: id });
}

/**
 * InterpreterManager holds the interpreter contexts: at most 16, one default per language
 * created on first use, each with its own kernel process.
 */
export class InterpreterManager {
  private readonly contexts = new Map<string, InterpreterContext>();
  private readonly defaults = new Map<InterpreterLanguage, Promise<InterpreterContext>>();
  private starting = 0;

  constructor(
    private readonly processes: ProcessManager,
    private readonly bufferBytes: number,
  ) {}

  /** create starts a context; RESOURCE_EXHAUSTED at 16, errors of the kernel start as thrown. */
  async create(spec: ContextSpec): Promise<InterpreterContext> {
    if (this.contexts.size + this.starting >= MAX_CONTEXTS) {
      throw resourceExhausted(
        "STREAM_LIMIT_EXCEEDED",
        `at most ${MAX_CONTEXTS} interpreter contexts may exist at once`,
        { limit: String(MAX_CONTEXTS) },
      );
    }
    const context = new InterpreterContext(spec, (s) => this.startKernel(s));
    this.starting++;
    try {
      await context.start();
    } finally {
      this.starting--;
    }
    this.contexts.set(context.id, context);
    return context;
  }

  /** defaultContext returns the language's default context, creating it on first use. */
  async defaultContext(spec: ContextSpec): Promise<InterpreterContext> {
    const existing = this.defaults.get(spec.language);
    if (existing) {
      const context = await existing.catch(() => undefined);
      if (context && this.contexts.get(context.id) === context) return context;
    }
    const created = this.create(spec);
    this.defaults.set(spec.language, created);
    created.catch(() => this.defaults.delete(spec.language));
    return created;
  }

  /** get finds a context; NOT_FOUND (CONTEXT_NOT_FOUND) otherwise. */
  get(id: string): InterpreterContext {
    const context = this.contexts.get(id);
    if (!context) throw contextNotFound(id);
    return context;
  }

  /** list returns every context, oldest first. */
  list(): InterpreterContext[] {
    return [...this.contexts.values()];
  }

  /** delete stops a context's kernel and forgets it. */
  delete(id: string): void {
    const context = this.get(id);
    this.contexts.delete(id);
    context.delete();
  }

  /** close deletes every context. */
  async close(): Promise<void> {
    for (const id of [...this.contexts.keys()]) this.delete(id);
    await this.processes.close();
  }

  private startKernel(spec: ContextSpec): Promise<KernelProcess> {
    const kernel = {
      cwd: spec.cwd,
      env: spec.env,
      user: spec.user,
      bufferBytes: this.bufferBytes,
    };
    if (spec.language === "python") return startPythonKernel(this.processes, kernel);
    return startNodeKernel(this.processes, spec.language, kernel);
  }
}

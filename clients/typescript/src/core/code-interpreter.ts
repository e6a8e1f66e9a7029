// sandbox.codeInterpreter: stateful code contexts (Jupyter-style kernels) over InterpreterService,
// shaped like Daytona's and E2B's: createContext / listContexts / deleteContext, and
// runCode(code, { context, onStdout, onStderr, onResult, onError, timeout }) returning the
// execution's output, rich results and error. Variables, imports and definitions survive from
// one runCode to the next in the same context.
import { Code } from "@connectrpc/connect";
import {
  type ChartAxis as ChartAxisMessage,
  type Chart as ChartMessage,
  ChartType,
  type CodeContext as CodeContextMessage,
  type ExecutionResult as ExecutionResultMessage,
} from "@cove/gen-ts/cove/toolbox/v1/interpreter_pb.js";
import type { RunCodeResponse } from "@cove/gen-ts/cove/toolbox/v1/interpreter_service_pb.js";
import { CodeLanguage } from "@cove/gen-ts/cove/toolbox/v1/language_pb.js";
import { type CodeLanguageName, languageOf, seconds, toDate } from "./convert.js";
import { sdkError } from "./errors.js";
import type { Toolbox } from "./toolbox.js";

/** Text of each stream an Execution keeps (callbacks still get everything), in characters. */
export const MAX_EXECUTION_LOG_CHARS = 8 * 1024 * 1024;

/** A stateful interpreter context (a kernel). */
export interface CodeContext {
  /** id names the context ("ctx_…"). */
  id: string;
  /** language is the context's language ("python", "javascript" or "typescript"). */
  language: CodeLanguageName | "unspecified";
  /** cwd is the absolute directory the context started in. */
  cwd: string;
  /** executionCount is how many executions ran so far. */
  executionCount: number;
  /** busy is true while an execution runs. */
  busy: boolean;
  /** createdAt is when the context was created or last restarted. */
  createdAt: Date | undefined;
}

/** A rich value an execution displayed (a MIME bundle), E2B's Result. */
export interface ExecutionResult {
  /** isMainResult is true for the value of the code's last expression (Out[n]). */
  isMainResult: boolean;
  /** text is the text/plain representation. */
  text?: string;
  /** html is text/html. */
  html?: string;
  /** markdown is text/markdown. */
  markdown?: string;
  /** svg is image/svg+xml. */
  svg?: string;
  /** latex is text/latex. */
  latex?: string;
  /** json is application/json, parsed (undefined when absent or not valid JSON). */
  json?: unknown;
  /** png is image/png as raw bytes. */
  png?: Uint8Array;
  /** jpeg is image/jpeg as raw bytes. */
  jpeg?: Uint8Array;
  /** pdf is application/pdf as raw bytes. */
  pdf?: Uint8Array;
  /** chart is the data of a drawn chart, when the sandbox could read it (png holds the image). */
  chart?: Chart;
  /** data holds every textual representation by MIME type. */
  data: Record<string, string>;
  /** binary holds every binary representation by MIME type. */
  binary: Record<string, Uint8Array>;
}

/** One axis of a Chart. */
export interface ChartAxis {
  /** label is the axis label, or "". */
  label: string;
  /** scale is matplotlib's scale name: "linear", "log", "symlog", "logit". */
  scale: string;
  /** ticks are the major tick positions, in data coordinates. */
  ticks: number[];
  /** tickLabels are the major tick texts, one per tick. */
  tickLabels: string[];
}

/** One line, bar group, point set or pie of a Chart (NaN marks gaps). */
export interface ChartSeries {
  /** label is the legend label, or "". */
  label: string;
  /** x are the x coordinates (bar centres; empty for a pie); dates as matplotlib date numbers. */
  x: number[];
  /** xLabels name the x values when they were not numbers (dates in ISO 8601, categories, wedges). */
  xLabels: string[];
  /** y are the values (bar lengths; for a pie each wedge's fraction, summing to 1). */
  y: number[];
}

/** The data of a chart the code drew (E2B's chart): matplotlib figures with one Axes. */
export interface Chart {
  /** type is the kind of chart. */
  type: "line" | "bar" | "scatter" | "pie";
  /** title is the chart's title, or "". */
  title: string;
  /** xAxis is the horizontal axis (undefined for pies). */
  xAxis: ChartAxis | undefined;
  /** yAxis is the vertical axis (undefined for pies). */
  yAxis: ChartAxis | undefined;
  /** series are the lines, bar groups or point sets; a pie has one. */
  series: ChartSeries[];
  /** horizontal is true for horizontal bars. */
  horizontal: boolean;
}

/** The exception that stopped an execution. */
export interface ExecutionError {
  /** name is the exception type, e.g. "ZeroDivisionError"; "TimeoutError" at the timeout. */
  name: string;
  /** value is the exception's message. */
  value: string;
  /** traceback is the formatted traceback (may contain ANSI colour codes). */
  traceback: string;
}

/** What runCode returns once the execution ended. */
export interface Execution {
  /** results are the displayed values, in order (the main result among them). */
  results: ExecutionResult[];
  /** text is the main result's text/plain, if there is a main result. */
  text: string | undefined;
  /** stdout is everything printed to standard output (up to MAX_EXECUTION_LOG_CHARS). */
  stdout: string;
  /** stderr is everything printed to standard error (up to MAX_EXECUTION_LOG_CHARS). */
  stderr: string;
  /** logs are the printed pieces as they arrived (E2B's shape). */
  logs: { stdout: string[]; stderr: string[] };
  /** logsTruncated is true when more was printed than stdout/stderr kept. */
  logsTruncated: boolean;
  /** error is the exception that stopped the code, if it raised. */
  error: ExecutionError | undefined;
  /** executionCount is this execution's number in its context (1 for the first). */
  executionCount: number;
  /** timedOut is true when the timeout interrupted the execution (error is TimeoutError). */
  timedOut: boolean;
}

/** Options of runCode; callbacks may return promises, which are awaited (backpressure). */
export interface RunCodeOptions {
  /** context is the context (or its id) to run in; default the language's default context. */
  context?: CodeContext | string;
  /** language picks the default context when no context is given (default "python"). */
  language?: CodeLanguageName | string;
  /** env holds environment variables for this execution only. */
  env?: Record<string, string>;
  /** envs is E2B's name for env. */
  envs?: Record<string, string>;
  /** timeout in seconds interrupts the execution (the context survives); default none. */
  timeout?: number;
  /** onStdout receives printed standard output as it arrives. */
  onStdout?: (text: string) => void | Promise<void>;
  /** onStderr receives printed standard error as it arrives. */
  onStderr?: (text: string) => void | Promise<void>;
  /** onResult receives each displayed value as it arrives. */
  onResult?: (result: ExecutionResult) => void | Promise<void>;
  /** onError receives the exception, if the code raised. */
  onError?: (error: ExecutionError) => void | Promise<void>;
  /** signal cancels the call, which interrupts the execution. */
  signal?: AbortSignal;
}

/** Options of createContext. */
export interface CreateContextOptions {
  /** language is the context's language: "python" (default), "javascript" or "typescript". */
  language?: CodeLanguageName | string;
  /** cwd is the working directory (default the user's home). */
  cwd?: string;
  /** env holds environment variables for the kernel. */
  env?: Record<string, string>;
}

function contextOf(m: CodeContextMessage | undefined): CodeContext {
  const name = CodeLanguage[m?.language ?? CodeLanguage.UNSPECIFIED] ?? "UNSPECIFIED";
  return {
    id: m?.contextId ?? "",
    language: name.toLowerCase() as CodeContext["language"],
    cwd: m?.cwd ?? "",
    executionCount: Number(m?.executionCount ?? 0n),
    busy: m?.busy ?? false,
    createdAt: toDate(m?.createTime),
  };
}

const CHART_TYPES = {
  [ChartType.LINE]: "line",
  [ChartType.BAR]: "bar",
  [ChartType.SCATTER]: "scatter",
  [ChartType.PIE]: "pie",
} as const;

function axisOf(a: ChartAxisMessage | undefined): ChartAxis | undefined {
  return a
    ? { label: a.label, scale: a.scale, ticks: [...a.ticks], tickLabels: [...a.tickLabels] }
    : undefined;
}

function chartOf(c: ChartMessage): Chart | undefined {
  const type = CHART_TYPES[c.type as keyof typeof CHART_TYPES];
  if (type === undefined) return undefined;
  return {
    type,
    title: c.title,
    xAxis: axisOf(c.xAxis),
    yAxis: axisOf(c.yAxis),
    series: c.series.map((s) => ({
      label: s.label,
      x: [...s.x],
      xLabels: [...s.xLabels],
      y: [...s.y],
    })),
    horizontal: c.horizontal,
  };
}

function resultOf(m: ExecutionResultMessage): ExecutionResult {
  const data = { ...m.textData };
  const binary = { ...m.binaryData };
  let json: unknown;
  if (data["application/json"] !== undefined) {
    try {
      json = JSON.parse(data["application/json"]);
    } catch {
      json = undefined;
    }
  }
  return {
    isMainResult: m.isMainResult,
    text: data["text/plain"],
    html: data["text/html"],
    markdown: data["text/markdown"],
    svg: data["image/svg+xml"],
    latex: data["text/latex"],
    json,
    png: binary["image/png"],
    jpeg: binary["image/jpeg"],
    pdf: binary["application/pdf"],
    chart: m.chart ? chartOf(m.chart) : undefined,
    data,
    binary,
  };
}

function idOf(context: CodeContext | string): string {
  return typeof context === "string" ? context : context.id;
}

/** A printed stream kept up to MAX_EXECUTION_LOG_CHARS. */
class Log {
  readonly pieces: string[] = [];
  private chars = 0;
  truncated = false;

  add(text: string): void {
    if (this.chars + text.length > MAX_EXECUTION_LOG_CHARS) {
      this.truncated = true;
      return;
    }
    this.pieces.push(text);
    this.chars += text.length;
  }
}

/** The code interpreter of one sandbox (sandbox.codeInterpreter). */
export class CodeInterpreter {
  constructor(private readonly toolbox: Toolbox) {}

  /** createContext starts a new context (a fresh kernel). */
  async createContext(options: CreateContextOptions = {}): Promise<CodeContext> {
    const res = await this.toolbox.call({ idempotent: false }, (a) =>
      this.toolbox.interpreter.createContext(
        { language: languageOf(options.language), cwd: options.cwd ?? "", env: options.env ?? {} },
        a,
      ),
    );
    return contextOf(res.context);
  }

  /** listContexts lists every context, oldest first. */
  async listContexts(): Promise<CodeContext[]> {
    const res = await this.toolbox.call({ idempotent: true }, (a) =>
      this.toolbox.interpreter.listContexts({}, a),
    );
    return res.contexts.map(contextOf);
  }

  /** deleteContext stops a context's kernel and forgets it. */
  async deleteContext(context: CodeContext | string): Promise<void> {
    await this.toolbox.call({ idempotent: false }, (a) =>
      this.toolbox.interpreter.deleteContext({ contextId: idOf(context) }, a),
    );
  }

  /** restartContext replaces a context's kernel with a fresh one (same id; state lost). */
  async restartContext(context: CodeContext | string): Promise<CodeContext> {
    const res = await this.toolbox.call({ idempotent: false }, (a) =>
      this.toolbox.interpreter.restartContext({ contextId: idOf(context) }, a),
    );
    return contextOf(res.context);
  }

  /** interrupt stops the context's running execution (KeyboardInterrupt); idle is fine. */
  async interrupt(context: CodeContext | string): Promise<void> {
    await this.toolbox.call({ idempotent: true }, (a) =>
      this.toolbox.interpreter.interruptContext({ contextId: idOf(context) }, a),
    );
  }

  /**
   * runCode executes code in a context and resolves once it ended, with what it printed, its
   * results and its error. An exception in the code is `execution.error`, not a rejection;
   * calls fail (CoveError) only when the execution could not run (unknown context, …).
   */
  async runCode(code: string, options: RunCodeOptions = {}): Promise<Execution> {
    const stdout = new Log();
    const stderr = new Log();
    const results: ExecutionResult[] = [];
    let error: ExecutionError | undefined;
    let executionCount = 0;
    let timedOut = false;
    let ended = false;
    const stream = this.toolbox.stream<RunCodeResponse>(
      { what: "runCode", signal: options.signal },
      (a) =>
        this.toolbox.interpreter.runCode(
          {
            contextId: options.context === undefined ? "" : idOf(options.context),
            language: languageOf(options.language),
            code,
            env: { ...options.envs, ...options.env },
            timeout: options.timeout ? seconds(options.timeout) : undefined,
          },
          a,
        ),
    );
    for await (const { event } of stream) {
      const e = event?.event;
      switch (e?.case) {
        case "stdout":
          stdout.add(e.value.text);
          await options.onStdout?.(e.value.text);
          break;
        case "stderr":
          stderr.add(e.value.text);
          await options.onStderr?.(e.value.text);
          break;
        case "result": {
          const result = resultOf(e.value);
          results.push(result);
          await options.onResult?.(result);
          break;
        }
        case "error":
          error = { name: e.value.name, value: e.value.value, traceback: e.value.traceback };
          await options.onError?.(error);
          break;
        case "end":
          ended = true;
          executionCount = Number(e.value.executionCount);
          timedOut = e.value.timedOut;
          break;
        default:
          break; // keepalive
      }
    }
    if (!ended) {
      throw sdkError(Code.Unavailable, "runCode: the stream closed before the execution ended", {
        reason: "DAEMON_UNAVAILABLE",
      });
    }
    return {
      results,
      text: results.find((r) => r.isMainResult)?.text,
      stdout: stdout.pieces.join(""),
      stderr: stderr.pieces.join(""),
      logs: { stdout: stdout.pieces, stderr: stderr.pieces },
      logsTruncated: stdout.truncated || stderr.truncated,
      error,
      executionCount,
      timedOut,
    };
  }
}

import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { invalidArgument, withKeepalive } from "@cove/common";
import {
  type ChartSchema,
  ChartType,
  type CodeContextSchema,
  type ExecutionEventSchema,
} from "@cove/gen-ts/cove/toolbox/v1/interpreter_pb.js";
import {
  type CreateContextRequest,
  type DeleteContextRequest,
  InterpreterService,
  type InterruptContextRequest,
  type RestartContextRequest,
  type RunCodeRequest,
} from "@cove/gen-ts/cove/toolbox/v1/interpreter_service_pb.js";
import { CodeLanguage } from "@cove/gen-ts/cove/toolbox/v1/language_pb.js";
import { type DaemonContext, runAsRules, type ServiceModule } from "../context.js";
import {
  Execution,
  type ExecutionEventData,
  type InterpreterContext,
  type InterpreterLanguage,
  InterpreterManager,
} from "../domain/interpreter.js";
import type { ChartData } from "../domain/interpreter-figures.js";
import { ProcessManager, readSandboxEnv } from "../domain/process-manager.js";
import { type RunAs, runAs, workingDirectory } from "../domain/run-as.js";
import { timeoutMs, timestamp } from "./convert.js";

/** Largest code accepted by RunCode, in bytes. */
const MAX_CODE_BYTES = 8 * 1024 * 1024;
/** Environment keys the kernel accepts: non-empty, no "=" and no NUL. */
const ENV_KEY = /^[^=\0]+$/;

const languageNames: Record<CodeLanguage, InterpreterLanguage> = {
  [CodeLanguage.UNSPECIFIED]: "python",
  [CodeLanguage.PYTHON]: "python",
  [CodeLanguage.JAVASCRIPT]: "javascript",
  [CodeLanguage.TYPESCRIPT]: "typescript",
};

const languageValues: Record<InterpreterLanguage, CodeLanguage> = {
  python: CodeLanguage.PYTHON,
  javascript: CodeLanguage.JAVASCRIPT,
  typescript: CodeLanguage.TYPESCRIPT,
};

/** language reads a CodeLanguage (unspecified is Python). */
function language(value: CodeLanguage): InterpreterLanguage {
  const name = languageNames[value];
  if (!name) throw invalidArgument("language", "choose PYTHON, JAVASCRIPT or TYPESCRIPT");
  return name;
}

function checkEnv(env: Record<string, string>): void {
  for (const [key, value] of Object.entries(env)) {
    if (!ENV_KEY.test(key)) throw invalidArgument(`env.${key}`, "must be a name without = or NUL");
    if (value.includes("\0")) throw invalidArgument(`env.${key}`, "must not contain NUL");
  }
}

function contextProto(context: InterpreterContext): MessageInitShape<typeof CodeContextSchema> {
  return {
    contextId: context.id,
    language: languageValues[context.spec.language],
    cwd: context.spec.cwd,
    executionCount: BigInt(context.executionCount),
    busy: context.busy,
    createTime: timestamp(context.createTime),
  };
}

const chartTypes: Record<ChartData["type"], ChartType> = {
  line: ChartType.LINE,
  bar: ChartType.BAR,
  scatter: ChartType.SCATTER,
  pie: ChartType.PIE,
};

/** chartProto maps a chart description to the Chart message. */
function chartProto(chart: ChartData): MessageInitShape<typeof ChartSchema> {
  return {
    type: chartTypes[chart.type],
    title: chart.title,
    horizontal: chart.horizontal,
    xAxis: chart.xAxis,
    yAxis: chart.yAxis,
    series: chart.series,
  };
}

/** toExecutionEvent maps a domain execution event to the ExecutionEvent message. */
export function toExecutionEvent(
  event: ExecutionEventData,
): MessageInitShape<typeof ExecutionEventSchema> {
  switch (event.kind) {
    case "stdout":
    case "stderr":
      return { event: { case: event.kind, value: { text: event.text } } };
    case "result":
      return {
        event: {
          case: "result",
          value: {
            isMainResult: event.main,
            textData: event.text,
            binaryData: event.binary,
            chart: event.chart ? chartProto(event.chart) : undefined,
          },
        },
      };
    case "error":
      return {
        event: {
          case: "error",
          value: { name: event.name, value: event.value, traceback: event.traceback },
        },
      };
    case "end":
      return {
        event: {
          case: "end",
          value: { executionCount: BigInt(event.executionCount), timedOut: event.timedOut },
        },
      };
  }
}

/** InterpreterHandler implements InterpreterService over the InterpreterManager. */
export class InterpreterHandler implements ServiceImpl<typeof InterpreterService> {
  constructor(
    private readonly ctx: DaemonContext,
    private readonly interpreters: InterpreterManager,
  ) {}

  /** runAs is the sandbox's default user: contexts always run as it. */
  private runAs(): RunAs {
    return runAs(runAsRules(this.ctx));
  }

  async createContext(req: CreateContextRequest) {
    const lang = language(req.language);
    checkEnv(req.env);
    const { user, home } = this.runAs();
    const context = await this.interpreters.create({
      language: lang,
      cwd: workingDirectory(req.cwd, home),
      env: req.env,
      user,
    });
    return { context: contextProto(context) };
  }

  async listContexts() {
    return { contexts: this.interpreters.list().map(contextProto) };
  }

  async deleteContext(req: DeleteContextRequest) {
    this.interpreters.delete(req.contextId);
    return {};
  }

  async restartContext(req: RestartContextRequest) {
    const context = this.interpreters.get(req.contextId);
    await context.restart();
    return { context: contextProto(context) };
  }

  async interruptContext(req: InterruptContextRequest) {
    this.interpreters.get(req.contextId).interrupt();
    return {};
  }

  async *runCode(req: RunCodeRequest, ctx: { signal: AbortSignal }) {
    if (Buffer.byteLength(req.code, "utf8") > MAX_CODE_BYTES)
      throw invalidArgument("code", "must be at most 8 MiB");
    checkEnv(req.env);
    const timeout = timeoutMs(req.timeout, undefined);
    let context: InterpreterContext;
    if (req.contextId === "") {
      const { user, home } = this.runAs();
      context = await this.interpreters.defaultContext({
        language: language(req.language),
        cwd: workingDirectory("", home),
        env: {},
        user,
      });
    } else {
      context = this.interpreters.get(req.contextId);
    }
    const execution = context.run(new Execution(req.code, req.env, timeout), ctx.signal);
    for await (const event of withKeepalive(
      execution.events,
      this.ctx.config.limits.keepaliveMs,
      () => null,
    )) {
      if (event === null) yield { event: { event: { case: "keepalive" as const, value: {} } } };
      else yield { event: toExecutionEvent(event) };
    }
  }
}

/** createInterpreterModule mounts InterpreterService with its own process manager. */
export function createInterpreterModule(ctx: DaemonContext): ServiceModule {
  const processes = new ProcessManager(
    ctx.config.limits,
    readSandboxEnv(ctx.config.sandboxEnvFile),
    ctx.config.initPath,
  );
  const interpreters = new InterpreterManager(processes, ctx.config.limits.outputBufferBytes);
  return {
    service: InterpreterService,
    impl: new InterpreterHandler(ctx, interpreters),
    async close() {
      await interpreters.close();
    },
  };
}

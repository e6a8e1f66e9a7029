// `cove sandbox create|list|get|start|stop|delete`: SandboxService over the API server.
import { toJson } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type Sandbox,
  SandboxSchema,
  SandboxState,
} from "@cove/gen-ts/cove/sandbox/v1/sandbox_pb.js";
import { errorReasonName } from "@cove/sdk";
import type { ParsedArgs } from "../args.js";
import { api } from "../clients.js";
import type { Context } from "../context.js";
import { CliError } from "../errors.js";
import { boolFlag, intFlag, keyValues, stringFlag } from "../flags.js";
import {
  age,
  createProgress,
  enumName,
  isoTime,
  labelsText,
  printFields,
  printJson,
  printTable,
  withProgress,
} from "../output.js";

/** The longest wait the server allows, in seconds. */
const MAX_WAIT_SECONDS = 600;

/** sandboxJson is a sandbox in proto3 JSON (the same shape as buf curl prints). */
export function sandboxJson(sandbox: Sandbox | undefined): unknown {
  return sandbox ? toJson(SandboxSchema, sandbox) : null;
}

/** stateName is a sandbox state in lower case ("pulling snapshot"). */
function stateName(state: SandboxState): string {
  return enumName(SandboxState, state);
}

/** waitSeconds reads --timeout. */
function waitSeconds(parsed: ParsedArgs): number {
  return intFlag(parsed, "timeout", { min: 1, max: MAX_WAIT_SECONDS }) ?? 120;
}

/** failure explains a sandbox that ended in ERROR. */
function failure(sandbox: Sandbox): CliError {
  const reason = errorReasonName(sandbox.errorReason) ?? "UNKNOWN";
  const message = sandbox.errorMessage || "no message";
  return new CliError(
    `sandbox ${sandbox.sandboxId} failed: ${message} [${reason}]`,
    sandbox.recoverable
      ? `\`cove sandbox delete ${sandbox.sandboxId}\`, or retry with RecoverSandbox`
      : `\`cove sandbox delete ${sandbox.sandboxId}\` removes it`,
  );
}

/**
 * waitForStarted follows WatchSandbox until the sandbox is STARTED, showing each state on the
 * progress line. A sandbox in ERROR, or a timeout, is a CliError.
 */
async function waitForStarted(ctx: Context, first: Sandbox, seconds: number): Promise<Sandbox> {
  const id = first.sandboxId;
  const progress = createProgress(ctx.io, `sandbox ${id}: ${stateName(first.state)}`);
  const deadline = Date.now() + seconds * 1000;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), seconds * 1000);
  let last = first;
  try {
    while (Date.now() < deadline) {
      if (last.state === SandboxState.STARTED) return last;
      if (last.state === SandboxState.ERROR) throw failure(last);
      if (last.state === SandboxState.DESTROYING || last.state === SandboxState.DESTROYED) {
        throw new CliError(`sandbox ${id} was deleted while starting`);
      }
      try {
        for await (const res of api(ctx).sandboxes.watchSandbox(
          { sandboxId: id },
          { signal: abort.signal },
        )) {
          const event = res.event;
          const sandbox =
            event.case === "initial"
              ? event.value
              : event.case === "stateChange"
                ? event.value.sandbox
                : undefined;
          if (!sandbox) continue;
          last = sandbox;
          progress.update(`sandbox ${id}: ${stateName(sandbox.state)}`);
          if (
            sandbox.state === SandboxState.STARTED ||
            sandbox.state === SandboxState.ERROR ||
            sandbox.state === SandboxState.DESTROYING ||
            sandbox.state === SandboxState.DESTROYED
          ) {
            break;
          }
        }
      } catch (err) {
        if (abort.signal.aborted) break;
        // A dropped watch is retried; anything else (auth, not found) is the answer.
        if (ConnectError.from(err).code !== Code.Unavailable) throw err;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      if (last.state !== SandboxState.STARTED && last.state !== SandboxState.ERROR) {
        const fresh = await api(ctx).sandboxes.getSandbox({ sandboxId: id });
        if (fresh.sandbox) last = fresh.sandbox;
      }
    }
    if (last.state === SandboxState.STARTED) return last;
    if (last.state === SandboxState.ERROR) throw failure(last);
    throw new CliError(
      `sandbox ${id} is still ${stateName(last.state)} after ${seconds}s (it keeps going)`,
      `\`cove sandbox get ${id}\` shows how it is going`,
    );
  } finally {
    clearTimeout(timer);
    abort.abort();
    progress.stop();
  }
}

/** createSandbox is `cove sandbox create`. */
export async function createSandbox(parsed: ParsedArgs, ctx: Context): Promise<number> {
  const image = stringFlag(parsed, "image");
  const cpu = intFlag(parsed, "cpu", { min: 1, max: 1_000_000 });
  const memory = intFlag(parsed, "memory", { min: 1, max: 10_000_000 });
  const disk = intFlag(parsed, "disk", { min: 1, max: 100_000_000 });
  const labels = keyValues(parsed, "label");
  const env = keyValues(parsed, "env");
  const wait = !boolFlag(parsed, "no-wait");
  const seconds = waitSeconds(parsed);
  const { sandbox } = await withProgress(ctx.io, "creating sandbox…", () =>
    api(ctx).sandboxes.createSandbox(
      {
        source: image ? { case: "image", value: image } : { case: undefined },
        resources: { cpuMillicores: cpu ?? 0, memoryMib: memory ?? 0, diskMib: disk ?? 0 },
        labels,
        env,
        public: boolFlag(parsed, "public"),
        wait: false,
      },
      { timeoutMs: 60_000 },
    ),
  );
  if (!sandbox) throw new CliError("the server returned no sandbox");
  const result = wait ? await waitForStarted(ctx, sandbox, seconds) : sandbox;
  if (boolFlag(parsed, "json")) printJson(ctx.io, sandboxJson(result));
  else ctx.io.stdout.write(`${result.sandboxId}\n`);
  return 0;
}

/** Every state, for --all (DESTROYED sandboxes are listed only when asked for). */
const ALL_STATES = Object.values(SandboxState).filter(
  (v): v is SandboxState => typeof v === "number" && v !== SandboxState.UNSPECIFIED,
);

/** listSandboxes is `cove sandbox list`. */
export async function listSandboxes(parsed: ParsedArgs, ctx: Context): Promise<number> {
  const labels = keyValues(parsed, "label");
  const limit = intFlag(parsed, "limit", { min: 1, max: 100_000 });
  const states = boolFlag(parsed, "all") ? ALL_STATES : [];
  const sandboxes: Sandbox[] = [];
  let pageToken = "";
  do {
    const page = await api(ctx).sandboxes.listSandboxes(
      { labels, states, pageToken, pageSize: Math.min(limit ?? 500, 500) },
      { timeoutMs: 30_000 },
    );
    sandboxes.push(...page.sandboxes);
    pageToken = page.nextPageToken;
  } while (pageToken && (limit === undefined || sandboxes.length < limit));
  const shown = limit === undefined ? sandboxes : sandboxes.slice(0, limit);
  if (boolFlag(parsed, "json")) {
    printJson(ctx.io, shown.map(sandboxJson));
    return 0;
  }
  if (shown.length === 0) {
    ctx.io.stderr.write("no sandboxes\n");
    return 0;
  }
  printTable(
    ctx.io,
    ["ID", "STATE", "IMAGE", "CPU", "MEMORY", "LABELS", "AGE"],
    shown.map((s) => [
      s.sandboxId,
      stateName(s.state),
      s.image,
      s.resources ? `${s.resources.cpuMillicores}m` : "",
      s.resources ? `${s.resources.memoryMib}Mi` : "",
      labelsText(s.labels),
      age(s.createTime),
    ]),
  );
  return 0;
}

/** getSandbox is `cove sandbox get`. */
export async function getSandbox(parsed: ParsedArgs, ctx: Context): Promise<number> {
  const [sandboxId = ""] = parsed.args;
  const { sandbox } = await api(ctx).sandboxes.getSandbox({ sandboxId }, { timeoutMs: 30_000 });
  if (!sandbox) throw new CliError("the server returned no sandbox");
  if (boolFlag(parsed, "json")) {
    printJson(ctx.io, sandboxJson(sandbox));
    return 0;
  }
  const r = sandbox.resources;
  const fields: [string, string][] = [
    ["id", sandbox.sandboxId],
    [
      "state",
      sandbox.desiredState !== SandboxState.UNSPECIFIED && sandbox.desiredState !== sandbox.state
        ? `${stateName(sandbox.state)} (going to ${stateName(sandbox.desiredState)})`
        : stateName(sandbox.state),
    ],
    ["image", sandbox.image],
    [
      "resources",
      r ? `${r.cpuMillicores}m CPU, ${r.memoryMib} MiB memory, ${r.diskMib} MiB disk` : "",
    ],
    ["labels", labelsText(sandbox.labels)],
    ["user", sandbox.osUser],
    ["public", sandbox.public ? "yes" : "no"],
    ["toolbox", sandbox.toolboxUrl],
    ["runner", sandbox.runnerId],
    ["created", `${isoTime(sandbox.createTime)} (${age(sandbox.createTime)} ago)`],
  ];
  if (sandbox.state === SandboxState.ERROR) {
    fields.push([
      "error",
      `${sandbox.errorMessage} [${errorReasonName(sandbox.errorReason) ?? ""}]${sandbox.recoverable ? " (recoverable)" : ""}`,
    ]);
  }
  printFields(
    ctx.io,
    fields.filter(([, v]) => v !== ""),
  );
  return 0;
}

/** lifecycle makes start, stop and delete: call, wait unless --no-wait, report. */
function lifecycle(
  verb: "start" | "stop" | "delete",
): (parsed: ParsedArgs, ctx: Context) => Promise<number> {
  return async (parsed, ctx) => {
    const [sandboxId = ""] = parsed.args;
    const wait = !boolFlag(parsed, "no-wait");
    const seconds = waitSeconds(parsed);
    const request = {
      sandboxId,
      wait,
      waitTimeout: durationFromMs(seconds * 1000),
    };
    const options = { timeoutMs: (seconds + 30) * 1000 };
    const service = api(ctx).sandboxes;
    const label = { start: "starting", stop: "stopping", delete: "deleting" }[verb];
    const call = async (): Promise<Sandbox | undefined> => {
      if (verb === "start") return (await service.startSandbox(request, options)).sandbox;
      if (verb === "stop") {
        const force = boolFlag(parsed, "force");
        return (await service.stopSandbox({ ...request, force }, options)).sandbox;
      }
      return (await service.deleteSandbox(request, options)).sandbox;
    };
    const sandbox = await withProgress(ctx.io, `${label} sandbox ${sandboxId}…`, call);
    if (boolFlag(parsed, "json")) {
      printJson(ctx.io, sandboxJson(sandbox));
      return 0;
    }
    const state = sandbox ? stateName(sandbox.state) : "gone";
    ctx.io.stdout.write(`${sandboxId} ${state}\n`);
    return 0;
  };
}

/** startSandbox is `cove sandbox start`. */
export const startSandbox = lifecycle("start");

/** stopSandbox is `cove sandbox stop`. */
export const stopSandbox = lifecycle("stop");

/** deleteSandbox is `cove sandbox delete`. */
export const deleteSandbox = lifecycle("delete");
